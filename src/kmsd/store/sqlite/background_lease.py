"""The background lease of a SQLite store: an exclusive ``flock`` on a file beside the database.

Every process that opens the file (the workers of ``kmsd serve --workers``, or two servers started on one
file) asks for it before its periodic sweep; one holds it.  The kernel releases the lock when the holder
dies, however it dies, so another process takes over at its next sweep; nothing has to expire or be cleaned
up.  The lock file holds nothing.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class FileLease:
    """An exclusive, non-blocking ``flock`` held for the life of the process (or until :meth:`release`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._descriptor: int | None = None

    def try_hold(self) -> bool:
        """Whether this process holds the lease now (taking it if it is free); never waits."""
        if self._descriptor is not None:
            return True
        descriptor = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        return True

    def release(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
