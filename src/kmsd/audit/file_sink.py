"""``kmsd serve --audit-file PATH``: the audit events as JSON lines, one CloudTrail record per line.

The file is opened with ``O_APPEND`` and every batch of lines goes out in one
``write``: the kernel appends each write whole at the end of the file, so the
processes of ``kmsd serve --workers N`` (each with its own sink on the same
file) and the threads of one process never interleave inside a line.  A
durable batch (a call that changed something) is written and ``fsync``'ed on
the thread that ran the call, before its answer is sent; the other events are
queued and written by the sink's own thread, so that a read, the Encrypt path
above all, pays neither the JSON encoding nor the write.  The queue is drained
in order before each durable write, and on exit.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from kmsd.audit.event import AuditEvent

log = logging.getLogger("kmsd.audit")

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


def open_for_append(path: Path) -> int:
    """The file's descriptor for appending, created 0600 if missing (OSError when it cannot be)."""
    return os.open(path, _FLAGS, 0o600)


def encode_lines(events: Sequence[AuditEvent]) -> bytes:
    """One JSON line per event (ASCII: any text the caller sent, lone surrogates included, survives)."""
    return "".join(json.dumps(event.record, separators=(",", ":")) + "\n" for event in events).encode("ascii")


class FileSink:
    """Appends events to one file, durable batches at once, the others from a writer thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = open_for_append(path)
        self._write_lock = threading.Lock()  # one batch at a time, and the queue taken in order
        self._queued = threading.Condition()
        self._pending: list[Sequence[AuditEvent]] = []
        self._closed = False
        self._writer = threading.Thread(target=self._write_queued, name="kmsd-audit-file", daemon=True)
        self._writer.start()
        atexit.register(self.close)

    def record(self, events: Sequence[AuditEvent], *, durable: bool) -> None:
        if not durable:
            with self._queued:
                self._pending.append(events)
                self._queued.notify()
            return
        with self._write_lock:
            batch = self._take_pending()
            batch.append(events)
            self._write(batch)
            os.fsync(self._fd)

    def close(self) -> None:
        """Write what is queued, then close the file (a second call does nothing)."""
        with self._queued:
            if self._closed:
                return
            self._closed = True
            self._queued.notify()
        self._writer.join()
        with self._write_lock:
            self._write(self._take_pending())
            os.close(self._fd)

    def _take_pending(self) -> list[Sequence[AuditEvent]]:
        with self._queued:
            batch, self._pending = self._pending, []
        return batch

    def _write(self, batch: list[Sequence[AuditEvent]]) -> None:
        data = b"".join(encode_lines(events) for events in batch)
        view = memoryview(data)
        while view:
            # A regular file takes the whole write unless the disk is full; what is left goes in the next one.
            written = os.write(self._fd, view)
            view = view[written:]

    def _write_queued(self) -> None:
        while True:
            with self._queued:
                while not self._pending and not self._closed:
                    self._queued.wait()
                if self._closed:
                    return
            try:
                with self._write_lock:
                    self._write(self._take_pending())
            except OSError:
                # A full disk, say: those events are lost, later ones are written when it can take them again.
                log.exception("cannot append audit events to %s", self.path)
