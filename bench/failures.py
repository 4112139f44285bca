"""The one error the benchmark raises when a measurement cannot be trusted.

A server that does not start, a setup call that fails, a cell with non-2xx
answers or socket errors: each stops the run with a message saying which
target and cell, because a number measured over errors would be read as a
real one.
"""

from __future__ import annotations


class BenchmarkFailure(Exception):
    """The run cannot produce trustworthy numbers; the message says why."""
