"""A commit counter that the worker processes of one node share, for read-your-writes across them on PostgreSQL.

On SQLite a worker asks ``PRAGMA data_version`` on every request, which sees every other process's commit the
moment it happened.  On PostgreSQL a worker hears of other processes' commits by NOTIFY, which arrives a moment
after the commit: a client that got the answer to a write from one worker and at once asks another could be
faster than that notification.  So the workers of one ``kmsd serve --workers N`` also share an eight-byte
counter in a small file (mapped into each of them): a worker bumps it after each commit that wrote and before
it answers, and every request reads it, a memory read, no system call.  A reading that differs from the last
one this process saw means another worker committed.

Bumps are serialised by an ``flock`` on the file (writes are rare); a reader takes no lock.  A torn read of
the eight bytes while another worker writes can only differ from the previous reading, which at worst
empties this worker's caches once for nothing; the reading that matters, after the writer answered its
client, sees the finished write.  Nodes on other machines still rely on NOTIFY (``notifications.py``).
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import tempfile
import threading
from pathlib import Path

_COUNTER = struct.Struct("<Q")


def create_counter_file() -> Path:
    """A new zeroed counter file (in /dev/shm when there is one: memory, never disk), this user's only."""
    shared_memory = Path("/dev/shm")
    directory = shared_memory if shared_memory.is_dir() and os.access(shared_memory, os.W_OK) else None
    descriptor, name = tempfile.mkstemp(prefix="kmsd-commits-", dir=directory)
    try:
        os.write(descriptor, bytes(_COUNTER.size))
    finally:
        os.close(descriptor)
    return Path(name)


class LocalCommits:
    """This process's view of the shared counter: :meth:`bump` after a commit, :meth:`moved` per request."""

    def __init__(self, path: Path) -> None:
        self._descriptor = os.open(path, os.O_RDWR)
        try:
            self._map = mmap.mmap(self._descriptor, _COUNTER.size)
        except BaseException:
            os.close(self._descriptor)
            raise
        self._lock = threading.Lock()
        self._seen = self._value()
        self._missed = False  # another worker's bump this process stepped over while bumping itself

    def _value(self) -> int:
        value: int = _COUNTER.unpack_from(self._map, 0)[0]
        return value

    def bump(self) -> None:
        """Count a commit of this process (called after it, before the call answers)."""
        with self._lock:
            fcntl.flock(self._descriptor, fcntl.LOCK_EX)
            try:
                value = self._value()
                if value != self._seen:
                    # Another worker committed since this process last looked: that is still news to it.
                    self._missed = True
                value += 1
                _COUNTER.pack_into(self._map, 0, value)
            finally:
                fcntl.flock(self._descriptor, fcntl.LOCK_UN)
            self._seen = value

    def moved(self) -> bool:
        """Whether another worker committed since the previous call."""
        with self._lock:
            value = self._value()
            moved = value != self._seen or self._missed
            self._seen = value
            self._missed = False
            return moved

    def close(self) -> None:
        with self._lock:
            self._map.close()
            os.close(self._descriptor)
