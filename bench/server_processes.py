"""Start a server under test on a loopback port, wait until it answers, and always stop it.

Each server leads a process group of its own, so stopping it also ends any
worker processes it forked (granian does); ``running_server`` stops it on every
exit path, including a failed cell or Ctrl-C.  Output goes to a log file whose
tail is shown when the server fails to start.

By default the group is in a session of its own too.  ``own_session=False``
keeps it in the benchmark's session, for the scaling benchmark: Linux's
scheduler autogroups give each *session* an equal share of contended CPUs, so
three single-process nodes in three sessions would get three shares against
the neighbours (and against wrk) where ``--workers 3`` under one supervisor
gets one; in the benchmark's session every server process and wrk thread of
the run competes as an equal, whatever the server's shape.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from cpu_time import group_cpu_by_process, group_cpu_seconds
from failures import BenchmarkFailure

LOOPBACK = "127.0.0.1"
STOP_GRACE_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    name: str
    endpoint: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by every live process of the server's process group.

        The server leads its own process group, so the group is it and its workers (granian's included).
        Per request, it leaves out wrk's share of the machine and any time the server sat waiting;
        the neighbours' load still inflates it (cache pressure, steal), so compare it within a run.
        """
        return group_cpu_seconds(self.process.pid)

    def cpu_by_process(self) -> dict[int, float]:
        """:meth:`cpu_seconds` of each process of the group, by pid (a supervisor and its workers apart)."""
        return group_cpu_by_process(self.process.pid)


@contextlib.contextmanager
def running_server(
    name: str,
    command: Sequence[str],
    *,
    port: int,
    ready_path: str,
    log_dir: Path,
    environment: Mapping[str, str] | None = None,
    start_timeout_s: float = 60.0,
    own_session: bool = True,
) -> Iterator[ServerProcess]:
    """Run ``command`` (which must listen on ``port``) until the ``with`` block ends.

    ``own_session=False``: a process group of its own in the benchmark's session (see the module docstring).
    """
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(environment) if environment is not None else None,
            start_new_session=own_session,
            process_group=None if own_session else 0,
        )
    server = ServerProcess(name, f"http://{LOOPBACK}:{port}", process, log_path)
    try:
        _wait_until_ready(server, port, ready_path, start_timeout_s)
        yield server
    finally:
        _stop(process)


def _wait_until_ready(server: ServerProcess, port: int, path: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise BenchmarkFailure(
                f"{server.name} exited with {server.process.returncode} while starting:\n{server.log_tail()}"
            )
        if _answers_200(port, path):
            return
        time.sleep(0.1)
    raise BenchmarkFailure(f"{server.name} did not answer GET {path} within {timeout_s:.0f} s:\n{server.log_tail()}")


def _answers_200(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=2.0)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    # The server leads its own process group, which holds it and its workers.
    group = process.pid
    _signal_group(group, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(group, signal.SIGKILL)
        process.wait(timeout=STOP_GRACE_S)
    # A worker that outlived its parent would keep a core busy during the next target's cells.
    _signal_group(group, signal.SIGKILL)


def _signal_group(group: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)
