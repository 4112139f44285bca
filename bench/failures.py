"""The one error the benchmark raises when a measurement cannot be trusted, and how a run ends on it.

A server that does not start, a setup call that fails, a cell with non-2xx
answers or socket errors: each stops the run with a message saying which
target and cell, because a number measured over errors would be read as a
real one.  :func:`run_command` runs a benchmark's command so that a failure,
Ctrl-C or SIGTERM ends it with a message, after every server it started has
been stopped by the with-blocks it unwinds.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType


class BenchmarkFailure(Exception):
    """The run cannot produce trustworthy numbers; the message says why."""


def run_command(run: Callable[[], int]) -> int:
    """``run()``'s exit status; 1 with the reason on a BenchmarkFailure, 130 on Ctrl-C."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return run()
    except BenchmarkFailure as failure:
        print(f"\nbench: FAILED: {failure}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbench: interrupted; every server started has been stopped", file=sys.stderr)
        return 130


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through the with-blocks, so the servers are stopped before the process ends.
    raise SystemExit(128 + signum)
