"""The scaling benchmark (``make bench-scaling``): Encrypt on 1, 2, 3 server processes against the ceiling's.

In one run it measures Encrypt throughput of kmsd with 1 and 2 workers on a
SQLite store (``kmsd serve --workers N``) and with 1, 2 and 3 nodes on one
PostgreSQL store (N ``kmsd serve`` processes on N ports, one worker each),
and the bare ASGI ceiling (``echo_app.py``) in both shapes with as many
processes: N workers on one port, and N processes on N ports.  For each it
reads the CPU time of every server process, of PostgreSQL's processes and of
wrk over the measured window, and it prints requests/s, the scaling against
one process, the share of the ceiling with as many processes, the CPU µs per
request of each process, and what the two cores went to.  Any non-2xx answer
fails the run.  See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cpu_time import command_line, machine_busy_seconds
from failures import BenchmarkFailure, run_command
from kms_workload import check_answer, params_for
from postgres_db import PostgresCpu, database_name, fresh_database, postgres_cpu
from run_context import machine_line, run_context
from scaling_table import Config, Measurement, render
from signed_requests import send, sign_kms_request, write_lua
from targets import KmsdStore, ReadyTarget, ceiling, kmsd_uvicorn
from wrk_load import LoadResult, require_wrk, run_wrk

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUTPUT = BENCH_DIR / "results" / "scaling.json"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432"
OPERATION = "Encrypt"
MOST_PROCESSES = 3
SQLITE_WORKERS = (1, 2)
# Divisible by 1, 2 and 3: wrk gives each thread connections // threads, so every row has the same total.
DEFAULT_CONNECTIONS = 30


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    return run_command(lambda: _run(args))


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per row (default: 10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load per row (default: 2)")
    parser.add_argument(
        "--connections",
        type=int,
        default=DEFAULT_CONNECTIONS,
        help=f"concurrent connections, a multiple of 6 (default: {DEFAULT_CONNECTIONS})",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="times every row is measured; medians are shown (default: 1)"
    )
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        help=f"the PostgreSQL server the run creates its database on, or 'none' (default: {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSON results file")
    args = parser.parse_args(argv)
    if args.duration < 1 or args.warmup < 0 or args.rounds < 1:
        parser.error("--duration and --rounds must be at least 1 and --warmup at least 0")
    if args.connections < 6 or args.connections % 6:
        parser.error("--connections must be a multiple of 6, so that 1, 2 and 3 wrk threads share them evenly")
    return args


@dataclass(frozen=True)
class PostgresNodes:
    """The kmsd nodes on the run's PostgreSQL database, or why there are none."""

    nodes: list[ReadyTarget]
    database: str = ""
    not_measured: str = ""


def _run(args: argparse.Namespace) -> int:
    require_wrk()
    started = time.monotonic()
    context = _context(args)
    print(_header(context), flush=True)
    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="kmsd-scaling-") as scratch, contextlib.ExitStack() as running:
        work_dir = Path(scratch)
        sqlite_store = KmsdStore.sqlite(work_dir / "store")
        print(f"starting {MOST_PROCESSES} ceiling processes on {MOST_PROCESSES} ports", flush=True)
        echo_nodes = [
            running.enter_context(ceiling(work_dir, name=f"ceiling-node-{number}", own_session=False))
            for number in range(1, MOST_PROCESSES + 1)
        ]
        postgres = _start_postgres_nodes(args, work_dir, running)

        def measure(config: Config, servers: Sequence[ReadyTarget], number: int) -> None:
            database = postgres.database if config.family == "postgresql" else None
            measurements.append(_measure(config, servers, number, args, work_dir, database))

        for number in range(1, args.rounds + 1):
            if args.rounds > 1:
                print(f"\nround {number} of {args.rounds}", flush=True)
            # Every server stays in this run's session (own_session=False): the kernel's per-session CPU shares
            # then treat N nodes and N workers under one supervisor alike (server_processes explains).
            # Row by process count, each kmsd row right after its ceiling, so the ratios compare numbers
            # taken seconds apart even when the neighbours' load on the machine comes and goes.
            for count in range(1, MOST_PROCESSES + 1):
                with ceiling(work_dir, workers=count, name=f"ceiling-{count}-workers", own_session=False) as server:
                    measure(Config("ceiling-workers", count), [server], number)
                if count in SQLITE_WORKERS:
                    sqlite_server = kmsd_uvicorn(
                        sqlite_store, work_dir, workers=count, name=f"kmsd-{count}-workers", own_session=False
                    )
                    with sqlite_server as server:
                        measure(Config("sqlite", count), [server], number)
                if count > 1:
                    measure(Config("ceiling-nodes", count), echo_nodes[:count], number)
                if postgres.nodes:
                    measure(Config("postgresql", count), postgres.nodes[:count], number)
    print("\n" + render(measurements, os.cpu_count() or 1, postgres.not_measured))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {**context, "postgresql_not_measured": postgres.not_measured or None}
    document["measurements"] = [_as_json(measurement) for measurement in measurements]
    args.output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nResults: {args.output} (run took {time.monotonic() - started:.0f} s)")
    return 0


def _start_postgres_nodes(args: argparse.Namespace, work_dir: Path, running: contextlib.ExitStack) -> PostgresNodes:
    if args.postgres == "none":
        return PostgresNodes([], not_measured="--postgres none")
    database_url = running.enter_context(fresh_database(args.postgres))
    # Every node of one store must hold the same root key, and a database has no directory for its file.
    store = KmsdStore(database_url, root_key=base64.b64encode(os.urandom(32)).decode("ascii"))
    nodes: list[ReadyTarget] = []
    for number in range(1, MOST_PROCESSES + 1):
        print(f"starting kmsd node {number} on PostgreSQL", flush=True)
        node = kmsd_uvicorn(store, work_dir, name=f"kmsd-node-{number}", own_session=False)
        nodes.append(running.enter_context(node))
    return PostgresNodes(nodes, database=database_name(database_url))


def _measure(
    config: Config,
    servers: Sequence[ReadyTarget],
    round_number: int,
    args: argparse.Namespace,
    work_dir: Path,
    database: str | None,
) -> Measurement:
    label = f"{config.label} (round {round_number})"
    first = servers[0]
    # One request, signed for the first server's key and Host header, goes to every server: the nodes share
    # the store (so the key) and check the signature against the Host header they are sent, as behind a
    # load balancer.  Each server answers it correctly once before the run.
    request = sign_kms_request(first.endpoint, first.access_key, OPERATION, params_for(OPERATION, first.key))
    for server in servers:
        status, body = send(dataclasses.replace(request, endpoint=server.endpoint))
        if first.checks_answers:
            check_answer(f"{label}, {server.name}", OPERATION, status, body)
        elif status != 200:
            raise BenchmarkFailure(f"{label}, {server.name}: HTTP {status}: {body[:300]!r}")
    request_file = work_dir / f"{config.family}-{config.processes}.lua"
    write_lua(request, request_file)
    hosts = [urlsplit(server.endpoint).netloc for server in servers] if len(servers) > 1 else []

    def load(duration_s: int, shown: str) -> LoadResult:
        # One wrk thread per server process: the load generator's shape depends only on the process count.
        return run_wrk(
            first.endpoint, request_file, args.connections, duration_s, shown, threads=config.processes, hosts=hosts
        )

    if args.warmup:
        load(args.warmup, f"{label} (warm-up)")
    before = _cpu_snapshot(servers, database)
    result = load(args.duration, label)
    after = _cpu_snapshot(servers, database)
    measurement = Measurement(
        config=config,
        round=round_number,
        load=result,
        server_cpu_s=_process_deltas(servers, before.servers, after.servers),
        postgres_cpu_s=_postgres_delta(before.postgres, after.postgres),
        machine_busy_s=after.machine_busy_s - before.machine_busy_s,
    )
    print(f"  {measurement.summary_line()}", flush=True)
    return measurement


@dataclass(frozen=True)
class _CpuSnapshot:
    servers: list[dict[int, float]]  # per server, CPU seconds by pid
    postgres: PostgresCpu | None
    machine_busy_s: float


def _cpu_snapshot(servers: Sequence[ReadyTarget], database: str | None) -> _CpuSnapshot:
    return _CpuSnapshot(
        servers=[server.cpu_by_process() for server in servers],
        postgres=postgres_cpu(database) if database is not None else None,
        machine_busy_s=machine_busy_seconds(),
    )


def _process_deltas(
    servers: Sequence[ReadyTarget], before: Sequence[dict[int, float]], after: Sequence[dict[int, float]]
) -> dict[str, float]:
    """CPU seconds over the window of each server process, named for the table (node, supervisor, worker)."""
    deltas: dict[str, float] = {}
    for number, (server, was, now) in enumerate(zip(servers, before, after, strict=True), start=1):
        # A process that started during the window (a replaced worker) counts from zero.
        used = {pid: cpu - was.get(pid, 0.0) for pid, cpu in sorted(now.items())}
        if len(servers) > 1:
            deltas[f"node {number}"] = sum(used.values())
        elif len(used) == 1:
            deltas["server"] = sum(used.values())
        else:
            deltas["supervisor"] = used.pop(server.group, 0.0)
            workers = 0
            for pid, cpu in used.items():
                # The supervisor spawns its workers with multiprocessing, which starts a resource tracker too.
                if "multiprocessing.resource_tracker" in command_line(pid):
                    deltas["resource tracker"] = cpu
                else:
                    workers += 1
                    deltas[f"worker {workers}"] = cpu
    return deltas


def _postgres_delta(before: PostgresCpu | None, after: PostgresCpu | None) -> PostgresCpu | None:
    if before is None or after is None:
        return None
    return PostgresCpu(after.backends_s - before.backends_s, after.server_s - before.server_s)


def _as_json(measurement: Measurement) -> dict[str, object]:
    return {
        "configuration": measurement.config.label,
        "family": measurement.config.family,
        "processes": measurement.config.processes,
        "round": measurement.round,
        **dataclasses.asdict(measurement.load),
        "server_cpu_s": measurement.server_cpu_s,
        "postgres_cpu_s": dataclasses.asdict(measurement.postgres_cpu_s) if measurement.postgres_cpu_s else None,
        "machine_busy_s": measurement.machine_busy_s,
    }


def _context(args: argparse.Namespace) -> dict[str, Any]:
    return run_context(
        {
            "operation": OPERATION,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "rounds": args.rounds,
            "postgres": args.postgres,
        }
    )


def _header(context: dict[str, Any]) -> str:
    settings = context["settings"]
    return (
        f"kmsd scaling benchmark: {OPERATION}, {settings['connections']} connections, wrk with one thread per "
        f"server process, {settings['duration_s']} s per row after {settings['warmup_s']} s warm-up, "
        f"{settings['rounds']} round(s)\n{machine_line(context)}"
    )


if __name__ == "__main__":
    sys.exit(main())
