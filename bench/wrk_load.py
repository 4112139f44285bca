"""Run wrk against one target and read its report: requests/s, p50, p99, and the errors.

wrk runs with one thread (``-t1``) so the load generator holds one of the
machine's two cores and the server the other, and with ``--latency`` for the
percentile lines.  Its text report is parsed here; any non-2xx answer or socket
error makes the cell fail, because requests/s over errors is meaningless.
The scaling benchmark runs one thread per server process instead, and spreads
the threads over several servers (``hosts``) when they listen on several ports.
wrk's own CPU time over the run is read too: it shares the machine's cores with
the servers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import resource
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from failures import BenchmarkFailure

REPLAY_SCRIPT = Path(__file__).resolve().parent / "wrk" / "replay.lua"
REQUEST_FILE_ENV = "KMSD_BENCH_REQUEST"
HOSTS_ENV = "KMSD_BENCH_HOSTS"  # read by replay.lua: the host:port each thread connects to, in turn

_UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_DURATION = r"([0-9.]+)(us|ms|s|m|h)"
_REQUESTS_PER_SECOND = re.compile(r"^Requests/sec:\s+([0-9.]+)\s*$", re.MULTILINE)
_PERCENTILE = r"^\s*{}%\s+" + _DURATION + r"\s*$"
_TOTAL = re.compile(r"^\s*(\d+) requests in " + _DURATION + r",", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s+(\d+)\s*$", re.MULTILINE)
_SOCKET_ERRORS = re.compile(
    r"^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)\s*$", re.MULTILINE
)


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    generator_cpu_s: float = 0.0  # wrk's user + system CPU seconds, warm-up excluded (0 when parsed from text)


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise BenchmarkFailure("wrk is not installed: run `make bench`, or `apt-get install -y wrk`")


def wrk_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        # `wrk -v` prints its version and usage, and exits non-zero.
        shown = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10, check=False)
        return (shown.stdout or shown.stderr).splitlines()[0].strip()
    return "unknown"


def parse_wrk_report(report: str) -> LoadResult:
    """The numbers of one ``wrk --latency`` report; raises if a line it needs is missing."""
    rate = _REQUESTS_PER_SECOND.search(report)
    total = _TOTAL.search(report)
    p50 = re.search(_PERCENTILE.format("50"), report, re.MULTILINE)
    p99 = re.search(_PERCENTILE.format("99"), report, re.MULTILINE)
    if rate is None or total is None or p50 is None or p99 is None:
        raise BenchmarkFailure(f"wrk's report lacks the requests/s or latency lines:\n{report}")
    non_2xx = _NON_2XX.search(report)
    sockets = _SOCKET_ERRORS.search(report)
    return LoadResult(
        requests=int(total.group(1)),
        duration_s=_to_ms(total.group(2), total.group(3)) / 1000.0,
        requests_per_second=float(rate.group(1)),
        p50_ms=_to_ms(p50.group(1), p50.group(2)),
        p99_ms=_to_ms(p99.group(1), p99.group(2)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(count) for count in sockets.groups()) if sockets else 0,
    )


def run_wrk(
    endpoint: str,
    request_file: Path,
    connections: int,
    duration_s: int,
    label: str,
    *,
    threads: int = 1,
    hosts: Sequence[str] = (),
) -> LoadResult:
    """One wrk run replaying ``request_file``; raises if it failed or saw any error.

    wrk gives each of its ``threads`` ``connections // threads`` connections.  With ``hosts`` (``host:port``
    of servers that all accept the request signed for ``endpoint``), thread i connects to host i modulo
    their number, so one report covers every server over the same window.
    """
    if connections % threads or (hosts and threads % len(hosts)):
        raise ValueError("wrk needs connections divisible by threads, and threads by hosts, to share them evenly")
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--latency",
        # wrk's default 2 s timeout would turn a slow peer's queueing into errors, not latency.
        "--timeout",
        "10s",
        "-s",
        str(REPLAY_SCRIPT),
        f"{endpoint}/",
    ]
    environment = {**os.environ, REQUEST_FILE_ENV: str(request_file)}
    if hosts:
        environment[HOSTS_ENV] = " ".join(hosts)
    # wrk is the only child that ends during the run, so the children's CPU time grows by exactly its own.
    generator_before = _children_cpu_seconds()
    try:
        finished = subprocess.run(
            command, env=environment, capture_output=True, text=True, timeout=duration_s + 30, check=False
        )
    except FileNotFoundError:
        raise BenchmarkFailure("wrk is not installed: run `make bench`, or `apt-get install -y wrk`") from None
    except subprocess.TimeoutExpired:
        raise BenchmarkFailure(f"{label}: wrk did not finish within {duration_s + 30} s") from None
    if finished.returncode != 0:
        raise BenchmarkFailure(f"{label}: wrk exited {finished.returncode}:\n{finished.stdout}{finished.stderr}")
    result = dataclasses.replace(
        parse_wrk_report(finished.stdout), generator_cpu_s=_children_cpu_seconds() - generator_before
    )
    if result.requests == 0:
        raise BenchmarkFailure(f"{label}: no request completed:\n{finished.stdout}")
    if result.non_2xx or result.socket_errors:
        raise BenchmarkFailure(
            f"{label}: {result.non_2xx} non-2xx answers and {result.socket_errors} socket errors "
            f"in {result.requests} requests; the numbers would measure errors:\n{finished.stdout}"
        )
    return result


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _UNIT_TO_MS[unit]
