"""Turn the measured cells into the printed table, the ratios, the goal verdicts and the JSON file.

Ratios compare targets measured in the same run on the same machine, which is
what makes them meaningful on a shared 2-core box where absolute requests/s
drift with the neighbours' load: kmsd/moto says how many times faster than the
usual emulator kmsd is, kmsd/ceiling how much of the server stack's own
capacity is left after kmsd's work.
"""

from __future__ import annotations

import statistics
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
    server_cpu_us: float  # CPU time of the server's processes per completed request, in µs


@dataclass(frozen=True)
class Goal:
    description: str
    value: float | None
    threshold: float
    shown_as: str
    over: str  # the goal is the ratio of over's requests/s to under's
    under: str

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "NOT MEASURED"
        return "PASS" if self.value >= self.threshold else "MISS"


def measured(cells: Iterable[Cell], target: str, operation: str, connections: int) -> list[Cell]:
    """The cells of ``target`` for one operation and connection count, in the order they were measured."""
    wanted = (target, operation, connections)
    return [cell for cell in cells if (cell.target, cell.operation, cell.connections) == wanted]


def rate(cells: Iterable[Cell], target: str, operation: str, connections: int) -> float | None:
    """Requests/s, the median over the rounds."""
    found = measured(cells, target, operation, connections)
    return statistics.median(cell.result.requests_per_second for cell in found) if found else None


def round_ratios(cells: Sequence[Cell], over: str, under: str, operation: str, connections: int) -> list[float]:
    """``over``/``under`` requests/s in each round: the two were measured seconds apart in the same round."""
    # Targets that run only some cells (granian, the SigV4 cut) may have fewer rounds: pair what both have.
    pairs = zip(
        measured(cells, over, operation, connections), measured(cells, under, operation, connections), strict=False
    )
    return [
        a.result.requests_per_second / b.result.requests_per_second for a, b in pairs if b.result.requests_per_second
    ]


def ratio(cells: Sequence[Cell], over: str, under: str, operation: str, connections: int) -> float | None:
    """The median of the per-round ratios (steadier than a ratio of medians when the machine's load moves)."""
    ratios = round_ratios(cells, over, under, operation, connections)
    return statistics.median(ratios) if ratios else None


def goals(cells: Sequence[Cell]) -> list[Goal]:
    where = f"kmsd {GOAL_OPERATION} at {GOAL_CONNECTIONS} connections"
    return [
        Goal(
            f"{where} >= {GOAL_TIMES_MOTO:g}x moto_server",
            ratio(cells, "kmsd", "moto", GOAL_OPERATION, GOAL_CONNECTIONS),
            GOAL_TIMES_MOTO,
            "times",
            "kmsd",
            "moto",
        ),
        Goal(
            f"{where} >= {GOAL_SHARE_OF_CEILING:.0%} of the bare ASGI ceiling",
            ratio(cells, "kmsd", "ceiling", GOAL_OPERATION, GOAL_CONNECTIONS),
            GOAL_SHARE_OF_CEILING,
            "share",
            "kmsd",
            "ceiling",
        ),
    ]


def cpu(cells: Iterable[Cell], target: str, operation: str, connections: int) -> float | None:
    """Server CPU µs per request, the median over the rounds."""
    found = measured(cells, target, operation, connections)
    return statistics.median(cell.server_cpu_us for cell in found) if found else None


def render(cells: Sequence[Cell], operations: Sequence[str], connections: Sequence[int]) -> str:
    lines = [_render_cells(cells), "", _render_ratios(cells, operations, connections)]
    for section in (_render_cost(cells), _render_stack(cells)):
        if section:
            lines += ["", section]
    lines += ["", "Goals (reported, not enforced):"]
    for goal in goals(cells):
        rounds = round_ratios(cells, goal.over, goal.under, GOAL_OPERATION, GOAL_CONNECTIONS)
        shown = ", ".join(_show(value, goal.shown_as) for value in rounds)
        per_round = f" (median of {len(rounds)} rounds: {shown})" if len(rounds) > 1 else ""
        lines.append(f"  {goal.verdict:<5} {goal.description}: {_show(goal.value, goal.shown_as)}{per_round}")
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
                "server_cpu_us_per_request": cell.server_cpu_us,
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
    header = (
        f"{'target':<14} {'operation':<16} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'requests':>9} "
        f"{'CPU µs/req':>10}"
    )
    rows = [
        f"{cell.target:<14} {cell.operation:<16} {cell.connections:>5} "
        f"{cell.result.requests_per_second:>9.0f} {cell.result.p50_ms:>8.2f} {cell.result.p99_ms:>8.2f} "
        f"{cell.result.requests:>9} {cell.server_cpu_us:>10.1f}"
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


def _render_cost(cells: Sequence[Cell]) -> str:
    """Where kmsd's server CPU per request goes, from the ceiling, the SigV4-only cut and kmsd itself."""
    where = (GOAL_OPERATION, GOAL_CONNECTIONS)
    stack, sigv4, kmsd = (cpu(cells, target, *where) for target in ("ceiling", "kmsd-sigv4", "kmsd"))
    if stack is None or kmsd is None:
        return ""
    parts = [("server stack (the ceiling)", stack)]
    if sigv4 is not None:
        parts += [("+ reading, routing, SigV4 (kmsd-sigv4 - ceiling)", sigv4 - stack)]
        parts += [("+ the KMS call and its answer (kmsd - kmsd-sigv4)", kmsd - sigv4)]
    lines = [f"Server CPU per request, {GOAL_OPERATION} at {GOAL_CONNECTIONS} connections (µs; share of kmsd's):"]
    lines += [f"  {label:<50} {value:7.1f}  {value / kmsd:4.0%}" for label, value in parts]
    lines.append(f"  {'= kmsd':<50} {kmsd:7.1f}")
    lines.append(
        f"  ceiling/kmsd by CPU time: {stack / kmsd:.0%} (the same share, from CPU time instead of requests/s)"
    )
    return "\n".join(lines)


def _render_stack(cells: Sequence[Cell]) -> str:
    uvicorn = rate(cells, "kmsd", GOAL_OPERATION, GOAL_CONNECTIONS)
    granian = rate(cells, "kmsd-granian", GOAL_OPERATION, GOAL_CONNECTIONS)
    granian_over_uvicorn = ratio(cells, "kmsd-granian", "kmsd", GOAL_OPERATION, GOAL_CONNECTIONS)
    if uvicorn is None or granian is None or granian_over_uvicorn is None:
        return ""
    faster = "granian" if granian_over_uvicorn > 1 else "uvicorn"
    return (
        f"Server stack, kmsd {GOAL_OPERATION} at {GOAL_CONNECTIONS} connections: "
        f"uvicorn {uvicorn:.0f} req/s, granian {granian:.0f} req/s "
        f"(granian/uvicorn {granian_over_uvicorn:.2f}, median of the rounds): {faster} is faster"
    )


def _rate(cells: Sequence[Cell], target: str, operation: str, connections: int) -> str:
    value = rate(cells, target, operation, connections)
    return "-" if value is None else f"{value:.0f}"


def _show(value: float | None, shown_as: str) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}x" if shown_as == "times" else f"{value:.0%}"
