"""Turn the measured cells into the printed table, the ratios, the goal verdicts and the JSON file.

Ratios compare targets measured in the same run on the same machine, which is
what makes them meaningful on a shared 2-core box where absolute requests/s
drift with the neighbours' load: kmsd/moto says how many times faster than the
usual emulator kmsd is, kmsd/ceiling how much of the server stack's own
capacity is left after kmsd's work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from wrk_load import LoadResult

GOAL_OPERATION = "Encrypt"
GOAL_CONNECTIONS = 32
GOAL_TIMES_MOTO = 15.0
GOAL_SHARE_OF_CEILING = 0.35


@dataclass(frozen=True)
class Cell:
    target: str
    operation: str
    connections: int
    result: LoadResult


@dataclass(frozen=True)
class Goal:
    description: str
    value: float | None
    threshold: float
    shown_as: str

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "NOT MEASURED"
        return "PASS" if self.value >= self.threshold else "MISS"


def rate(cells: Iterable[Cell], target: str, operation: str, connections: int) -> float | None:
    for cell in cells:
        if (cell.target, cell.operation, cell.connections) == (target, operation, connections):
            return cell.result.requests_per_second
    return None


def ratio(cells: Sequence[Cell], over: str, under: str, operation: str, connections: int) -> float | None:
    numerator = rate(cells, over, operation, connections)
    denominator = rate(cells, under, operation, connections)
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def goals(cells: Sequence[Cell]) -> list[Goal]:
    where = f"kmsd {GOAL_OPERATION} at {GOAL_CONNECTIONS} connections"
    return [
        Goal(
            f"{where} >= {GOAL_TIMES_MOTO:g}x moto_server",
            ratio(cells, "kmsd", "moto", GOAL_OPERATION, GOAL_CONNECTIONS),
            GOAL_TIMES_MOTO,
            "times",
        ),
        Goal(
            f"{where} >= {GOAL_SHARE_OF_CEILING:.0%} of the bare ASGI ceiling",
            ratio(cells, "kmsd", "ceiling", GOAL_OPERATION, GOAL_CONNECTIONS),
            GOAL_SHARE_OF_CEILING,
            "share",
        ),
    ]


def render(cells: Sequence[Cell], operations: Sequence[str], connections: Sequence[int]) -> str:
    lines = [_render_cells(cells), "", _render_ratios(cells, operations, connections)]
    stack = _render_stack(cells)
    if stack:
        lines += ["", stack]
    lines += ["", "Goals (reported, not enforced):"]
    lines += [f"  {goal.verdict:<5} {goal.description}: {_show(goal.value, goal.shown_as)}" for goal in goals(cells)]
    return "\n".join(lines)


def as_json(
    cells: Sequence[Cell],
    operations: Sequence[str],
    connections: Sequence[int],
    context: Mapping[str, Any],
) -> dict[str, Any]:
    ratios = [
        {
            "operation": operation,
            "connections": count,
            "kmsd_over_moto": ratio(cells, "kmsd", "moto", operation, count),
            "kmsd_over_ceiling": ratio(cells, "kmsd", "ceiling", operation, count),
        }
        for operation in operations
        for count in connections
    ]
    return {
        **context,
        "cells": [
            {
                "target": cell.target,
                "operation": cell.operation,
                "connections": cell.connections,
                **asdict(cell.result),
            }
            for cell in cells
        ],
        "ratios": ratios,
        "granian_over_uvicorn": ratio(cells, "kmsd-granian", "kmsd", GOAL_OPERATION, GOAL_CONNECTIONS),
        "goals": [
            {
                "goal": goal.description,
                "value": goal.value,
                "threshold": goal.threshold,
                "verdict": goal.verdict,
            }
            for goal in goals(cells)
        ],
    }


def _render_cells(cells: Sequence[Cell]) -> str:
    header = f"{'target':<14} {'operation':<16} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9}"
    rows = [
        f"{cell.target:<14} {cell.operation:<16} {cell.connections:>5} "
        f"{cell.result.requests_per_second:>9.0f} {cell.result.p50_ms:>8.2f} {cell.result.p99_ms:>8.2f} "
        f"{cell.result.requests:>9}"
        for cell in cells
    ]
    return "\n".join([header, "-" * len(header), *rows])


def _render_ratios(cells: Sequence[Cell], operations: Sequence[str], connections: Sequence[int]) -> str:
    header = (
        f"{'operation':<16} {'conns':>5} {'kmsd':>9} {'moto':>9} {'ceiling':>9} {'kmsd/moto':>10} {'kmsd/ceiling':>13}"
    )
    rows = []
    for operation in operations:
        for count in connections:
            rows.append(
                f"{operation:<16} {count:>5} {_rate(cells, 'kmsd', operation, count):>9} "
                f"{_rate(cells, 'moto', operation, count):>9} {_rate(cells, 'ceiling', operation, count):>9} "
                f"{_show(ratio(cells, 'kmsd', 'moto', operation, count), 'times'):>10} "
                f"{_show(ratio(cells, 'kmsd', 'ceiling', operation, count), 'share'):>13}"
            )
    return "\n".join(["Ratios of requests/s, same run:", header, "-" * len(header), *rows])


def _render_stack(cells: Sequence[Cell]) -> str:
    uvicorn = rate(cells, "kmsd", GOAL_OPERATION, GOAL_CONNECTIONS)
    granian = rate(cells, "kmsd-granian", GOAL_OPERATION, GOAL_CONNECTIONS)
    if uvicorn is None or granian is None:
        return ""
    faster = "granian" if granian > uvicorn else "uvicorn"
    return (
        f"Server stack, kmsd {GOAL_OPERATION} at {GOAL_CONNECTIONS} connections: "
        f"uvicorn {uvicorn:.0f} req/s, granian {granian:.0f} req/s "
        f"(granian/uvicorn {granian / uvicorn:.2f}): {faster} is faster"
    )


def _rate(cells: Sequence[Cell], target: str, operation: str, connections: int) -> str:
    value = rate(cells, target, operation, connections)
    return "-" if value is None else f"{value:.0f}"


def _show(value: float | None, shown_as: str) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}x" if shown_as == "times" else f"{value:.0%}"
