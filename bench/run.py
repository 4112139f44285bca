"""The HTTP benchmark (``make bench``): kmsd against moto_server and a bare ASGI ceiling, in one run.

It starts every target on a loopback port (kmsd, kmsd's app on granian,
kmsd's app cut short after SigV4, the ceiling, moto_server), creates a fresh
key on each, then for Encrypt, Decrypt and GenerateDataKey at 1 and 32
connections measures the targets one right after the other: sign the request
once with botocore, check one answer, warm up for 1 s, measure for 5 s with
``wrk -t1 --latency`` replaying the signed request, and read the server's CPU
time before and after.  granian and the SigV4 cut run only Encrypt at 32
connections, to compare server stacks and to split kmsd's cost.  It prints the
table, the ratios kmsd/moto and kmsd/ceiling, where kmsd's CPU time goes, and
the goals (PASS/MISS, not enforced), writes ``bench/results/latest.json``, and
stops every server it started, whatever happens.  See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from failures import BenchmarkFailure, run_command
from kms_workload import OPERATIONS, check_answer, params_for
from results_table import GOAL_CONNECTIONS, GOAL_OPERATION, Cell, as_json, render
from run_context import machine_line, run_context
from signed_requests import send, sign_kms_request, write_lua
from targets import KmsdStore, ReadyTarget, ceiling, kmsd_granian, kmsd_sigv4_only, kmsd_uvicorn, moto
from wrk_load import require_wrk, run_wrk

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "latest.json"
TARGET_NAMES = ("kmsd", "kmsd-granian", "kmsd-sigv4", "ceiling", "moto")
# Run only the goal's cell: enough to compare server stacks and to split kmsd's cost.
GOAL_CELL_ONLY = frozenset({"kmsd-granian", "kmsd-sigv4"})


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    return run_command(lambda: _run(args))


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=5, help="seconds measured per cell (default: 5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load per cell (default: 1)")
    parser.add_argument(
        "--connections",
        type=_int_list,
        default=[1, GOAL_CONNECTIONS],
        help="comma-separated connection counts (default: 1,32)",
    )
    parser.add_argument(
        "--targets",
        type=_target_list,
        default=list(TARGET_NAMES),
        help=f"comma-separated subset of {','.join(TARGET_NAMES)} (default: all)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="times the goal's cell (Encrypt, 32 connections) is measured; its ratios are medians (default: 3)",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON results file")
    parser.add_argument(
        "--audit-file",
        action="store_true",
        help="run the kmsd target with kmsd serve --audit-file (a file in the scratch directory), to measure what "
        "building and writing the audit events costs (default: off)",
    )
    args = parser.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.rounds < 1:
        parser.error("--duration and --rounds must be at least 1 and --warmup at least 0")
    return args


def _run(args: argparse.Namespace) -> int:
    require_wrk()
    started = time.monotonic()
    context = _context(args)
    print(_header(context), flush=True)
    cells: list[Cell] = []
    servers: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="kmsd-bench-") as scratch, contextlib.ExitStack() as running:
        work_dir = Path(scratch)
        store = KmsdStore.sqlite(work_dir / "store")
        audit_args = ["--audit-file", str(work_dir / "audit.jsonl")] if args.audit_file else []
        starters: dict[str, Callable[[], contextlib.AbstractContextManager[ReadyTarget]]] = {
            "kmsd": lambda: kmsd_uvicorn(store, work_dir, extra_args=audit_args),
            "kmsd-granian": lambda: kmsd_granian(store, work_dir),
            "kmsd-sigv4": lambda: kmsd_sigv4_only(store, work_dir),
            "ceiling": lambda: ceiling(work_dir),
            "moto": lambda: moto(work_dir),
        }
        targets: list[ReadyTarget] = []
        # Started one after another: the first kmsd server to open the store prints its credentials.
        for name in TARGET_NAMES:
            if name in args.targets:
                print(f"starting {name}", flush=True)
                targets.append(running.enter_context(starters[name]()))
        servers = {target.name: target.server for target in targets}
        for operation, connections in _cells(args.connections):
            rounds = args.rounds if _is_goal_cell(operation, connections) else 1
            for number in range(1, rounds + 1):
                shown_round = f", round {number} of {rounds}" if rounds > 1 else ""
                print(f"\n{operation} at {connections} connection(s){shown_round}:", flush=True)
                for target in targets:
                    if _measured(target.name, operation, connections):
                        cells.append(_measure(target, operation, connections, args, work_dir))
    context["servers"] = servers
    # A stable sort: a cell's rounds stay in the order they were measured (results_table pairs them by round).
    cells.sort(
        key=lambda cell: (
            TARGET_NAMES.index(cell.target),
            OPERATIONS.index(cell.operation),
            args.connections.index(cell.connections),
        )
    )
    print("\n" + render(cells, OPERATIONS, args.connections))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(as_json(cells, OPERATIONS, args.connections, context), indent=2) + "\n")
    print(f"\nResults: {args.output} (run took {time.monotonic() - started:.0f} s)")
    return 0


def _cells(connections: Sequence[int]) -> Iterator[tuple[str, int]]:
    for operation in OPERATIONS:
        for count in connections:
            yield operation, count


def _measured(target: str, operation: str, connections: int) -> bool:
    """Whether ``target`` runs this cell.

    Every target runs every cell, one target right after the other, so that the
    ratios compare numbers taken seconds apart even when the neighbours' load
    on the machine changes.  granian and the SigV4-only cut of kmsd run only
    the goal's cell: enough to say which server stack is faster and where
    kmsd's time goes without lengthening the run by two thirds.
    """
    if target in GOAL_CELL_ONLY:
        return _is_goal_cell(operation, connections)
    return True


def _is_goal_cell(operation: str, connections: int) -> bool:
    return (operation, connections) == (GOAL_OPERATION, GOAL_CONNECTIONS)


def _measure(target: ReadyTarget, operation: str, connections: int, args: argparse.Namespace, work_dir: Path) -> Cell:
    label = f"{target.name} {operation} c={connections}"
    # Signed per cell: a SigV4 signature expires 15 minutes after its X-Amz-Date.
    request = sign_kms_request(target.endpoint, target.access_key, operation, params_for(operation, target.key))
    status, body = send(request)
    if target.checks_answers:
        check_answer(target.name, operation, status, body)
    elif status != 200:
        raise BenchmarkFailure(f"{label}: HTTP {status}: {body[:300]!r}")
    request_file = work_dir / f"{target.name}-{operation}-{connections}.lua"
    write_lua(request, request_file)
    if args.warmup:
        run_wrk(target.endpoint, request_file, connections, args.warmup, f"{label} (warm-up)")
    cpu_before = target.cpu_seconds()
    result = run_wrk(target.endpoint, request_file, connections, args.duration, label)
    cpu_us = (target.cpu_seconds() - cpu_before) / result.requests * 1e6
    print(
        f"  {target.name:<14} {result.requests_per_second:>9.0f} req/s  "
        f"p50 {result.p50_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  server CPU {cpu_us:6.1f} µs/request",
        flush=True,
    )
    return Cell(target.name, operation, connections, result, cpu_us)


def _context(args: argparse.Namespace) -> dict[str, Any]:
    return run_context(
        {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk_threads": 1,
            "targets": args.targets,
            "goal_cell_rounds": args.rounds,
        }
    )


def _header(context: dict[str, Any]) -> str:
    settings = context["settings"]
    return (
        f"kmsd HTTP benchmark: {settings['duration_s']} s per cell after {settings['warmup_s']} s warm-up, "
        f"wrk -t1, connections {settings['connections']}\n"
        f"{machine_line(context)} (other load on the machine lowers every target alike; compare the ratios)"
    )


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of integers: {text!r}") from None
    if not values or any(value < 1 for value in values):
        raise argparse.ArgumentTypeError("connection counts must be positive")
    return values


def _target_list(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [name for name in names if name not in TARGET_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown targets {unknown}; choose from {', '.join(TARGET_NAMES)}")
    return names


if __name__ == "__main__":
    sys.exit(main())
