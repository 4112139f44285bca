"""How ``kmsd store copy`` shows its progress: a bar redrawn in place on a terminal, plain lines in a log.

Written to stderr, so that stdout keeps only the final report.  On a terminal one line is redrawn with ``\\r``
(the table being copied, a bar over all rows, the counts); when stderr is a file or a pipe (a container's log,
CI) each table gets one line when it is done, with its count and the running total.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TextIO

BAR_WIDTH = 30
# A terminal is redrawn at most this often: a copy writes a page every few milliseconds.
REDRAW_SECONDS = 0.1


class TerminalProgress:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._total = 0
        self._done = 0
        self._tables_left = 0
        self._drawn_at = 0.0
        self._line_open = False

    def begin(self, counts: Mapping[str, int]) -> None:
        self._total = sum(counts.values())
        self._tables_left = len(counts)

    def advance(self, table: str, rows: int) -> None:
        self._done += rows
        now = time.monotonic()
        if now - self._drawn_at >= REDRAW_SECONDS:
            self._drawn_at = now
            self._draw(table)

    def table_done(self, table: str, rows: int) -> None:
        self._draw(table)
        self._tables_left -= 1
        if self._tables_left == 0:
            self.close()

    def close(self) -> None:
        """End the bar's line (after the last table, or at a failure), so that what follows has a line of its own."""
        if self._line_open:
            self._stream.write("\n")
            self._stream.flush()
            self._line_open = False

    def _draw(self, table: str) -> None:
        share = self._done / self._total if self._total else 1.0
        filled = round(share * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        # \033[K clears what a longer table name left at the end of the line.
        self._stream.write(f"\r[{bar}] {share:4.0%} {self._done}/{self._total} rows ({table})\033[K")
        self._stream.flush()
        self._line_open = True


class LogProgress:
    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._total = 0
        self._done = 0

    def begin(self, counts: Mapping[str, int]) -> None:
        self._total = sum(counts.values())
        print(f"kmsd: store copy: {self._total} rows in {len(counts)} tables", file=self._stream, flush=True)

    def advance(self, table: str, rows: int) -> None:
        self._done += rows

    def table_done(self, table: str, rows: int) -> None:
        print(f"kmsd: store copy: {table}: {rows} rows ({self._done}/{self._total})", file=self._stream, flush=True)

    def close(self) -> None:
        return None  # every line is whole already


def progress_for(stream: TextIO | None = None) -> TerminalProgress | LogProgress:
    """A bar when ``stream`` (stderr by default) is a terminal, lines otherwise."""
    stream = stream if stream is not None else sys.stderr
    return TerminalProgress(stream) if stream.isatty() else LogProgress(stream)
