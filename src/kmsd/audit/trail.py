"""The audit trail in the store: the :class:`~kmsd.audit.event.AuditSink` that appends events to the hash chain.

Durability.  A mutating call's events (``durable=True``) are stored, in one transaction, before
:meth:`AuditTrail.record` returns (when the store refuses them, they go to the head of the queue, and the writer
retries them with the others): the app calls it on the store-call thread, after the call's own transaction
and before the answer is sent.  A read-only call's events (``durable=False``: Encrypt, Decrypt, Describe*,
answered inline on the event loop) go to a bounded in-memory queue instead, and a writer thread of the trail
appends them in batches of at most ``batch_size`` per transaction: a whole batch as soon as one is queued, and
what is left every ``flush_interval`` seconds.  The hot path never waits for the database, and under load the
store sees one transaction per ``batch_size`` calls: a writer that wrote whatever was queued whenever it could
would chase the queue's tail with small transactions, each holding the writer lock and costing a commit.

A full queue.  When ``queue_limit`` events are waiting (the store is slow or unreachable), :meth:`record` writes
the caller's events itself, synchronously, on the caller's thread -- the event loop too: the server slows down
rather than lose events.  Nothing is dropped silently: a batch the store refuses stays queued (at the front)
and is retried; an event that cannot be written at all (not the store's refusal: a flaw of the event itself)
is left out with an error in the log, so that it never holds up the events behind it; only :meth:`close` gives
up on what still cannot be written after one last attempt, and says so in the log.  :meth:`close` (the app's
lifespan shutdown) writes everything queued.

Retention.  :meth:`AuditTrail.sweep` deletes the events older than ``retention`` (CloudTrail's event history
keeps 90 days), at most once every ``retention_check_interval`` seconds, keeping the chain verifiable
(:func:`kmsd.audit.chain.prune`).  Any process may run it: it runs under the store's writer lock.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from kmsd.audit.chain import ChainSeal, append, prune
from kmsd.audit.event import AuditEvent
from kmsd.clock import Clock
from kmsd.store.base import Store, StoreError

log = logging.getLogger("kmsd.audit")

QUEUE_LIMIT = 10_000
BATCH_SIZE = 500
FLUSH_INTERVAL_SECONDS = 0.5
RETENTION = timedelta(days=90)
RETENTION_CHECK_SECONDS = 3600.0
# After a failed batch, the writer waits this long before it tries again.
RETRY_SECONDS = 1.0
# The writer's pause between two slices of a batch (kmsd.audit.chain.append's ``pause``).
PAUSE_SECONDS = 0.0001


class AuditTrail:
    """Appends events to the store's hash chain: durable ones at once, the others through a queue."""

    def __init__(
        self,
        store: Store,
        seal: ChainSeal,
        clock: Clock,
        *,
        queue_limit: int = QUEUE_LIMIT,
        batch_size: int = BATCH_SIZE,
        flush_interval: float = FLUSH_INTERVAL_SECONDS,
        retention: timedelta = RETENTION,
        retention_check_interval: float = RETENTION_CHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_limit < 1 or batch_size < 1:
            raise ValueError("queue_limit and batch_size must be at least 1")
        self.store = store
        self.seal = seal
        self.clock = clock
        self.queue_limit = queue_limit
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retention = retention
        self.retention_check_interval = retention_check_interval
        self._monotonic = monotonic
        self._next_retention = 0.0
        self._queue: collections.deque[AuditEvent] = collections.deque()
        self._lock = threading.Lock()
        # Set when a batch is ready or the trail closes: the writer does not wait out its interval.
        self._wake = threading.Event()
        self._closing = False
        self._writer: threading.Thread | None = None
        # One batch at a time, so that a flush and the writer never interleave their transactions' order.
        self._writing = threading.Lock()

    # --- AuditSink ------------------------------------------------------------------
    def record(self, events: Sequence[AuditEvent], *, durable: bool) -> None:
        if not events:
            return
        if not durable:
            with self._lock:
                if len(self._queue) + len(events) <= self.queue_limit and not self._closing:
                    self._queue.extend(events)
                    if len(self._queue) >= self.batch_size:
                        self._wake.set()
                    return
        # Durable, or the queue is full (the caller waits for the store: back pressure, never a lost event),
        # or the trail is closing (its writer may be gone).
        try:
            append(self.store, self.seal, events)
        except StoreError:
            # The call has happened (a write is committed before its events): its events must not go with the
            # store's refusal.  They wait at the head of the queue, over its limit if need be, for the writer's
            # retries; a durable event is then stored late, not lost.  Without a writer (never started, or
            # stopped) there is no one to retry: the caller hears of it, as before.
            with self._lock:
                if self._writer is None or self._closing:
                    raise
                self._queue.extendleft(reversed(events))
            self._wake.set()
            log.warning("audit trail: the store refused %d event(s); they are queued and retried", len(events))

    def queue_depth(self) -> int:
        """How many events wait in the queue (for the metrics)."""
        with self._lock:
            return len(self._queue)

    # --- the writer -------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread (the app's lifespan startup); idempotent."""
        with self._lock:
            if self._writer is not None or self._closing:
                return
            self._writer = threading.Thread(target=self._run, name="kmsd-audit-writer", daemon=True)
            self._writer.start()

    def flush(self) -> None:
        """Write every queued event now, on the calling thread; StoreError if the store refuses (they stay queued)."""
        while self._write_batch():
            pass

    def close(self) -> None:
        """Stop the writer and write what is queued (the app's lifespan shutdown)."""
        with self._lock:
            self._closing = True
            writer = self._writer
        self._wake.set()
        if writer is not None:
            writer.join()
        try:
            self.flush()
        except Exception:
            log.exception("audit trail: %d queued event(s) could not be stored at shutdown", self.queue_depth())

    def _run(self) -> None:
        # Full batches are written as soon as they are ready; what is left of a batch waits for the interval,
        # so that a steady stream of calls makes a few large transactions, not one small one per wake-up.
        deadline = time.monotonic() + self.flush_interval
        while True:
            self._wake.wait(max(0.0, deadline - time.monotonic()))
            self._wake.clear()
            with self._lock:
                closing = self._closing
            due = closing or time.monotonic() >= deadline
            try:
                # When the interval is up, what was queued then is written, not what keeps arriving meanwhile.
                left = self.queue_depth() if due else 0
                while self._write_batch(full_only=left <= 0, pause=_let_the_event_loop_run):
                    left -= self.batch_size
            except Exception:
                log.exception("audit trail: a batch could not be stored; retrying in %s s", RETRY_SECONDS)
                if not closing:
                    time.sleep(RETRY_SECONDS)
            if due:
                deadline = time.monotonic() + self.flush_interval
            if closing:
                return

    def _write_batch(self, *, full_only: bool = False, pause: Callable[[], None] | None = None) -> bool:
        """Append up to ``batch_size`` queued events in one transaction; whether there were any (``full_only``:
        only when a whole batch is queued; ``pause``: the writer thread's, see :func:`_let_the_event_loop_run`)."""
        with self._writing:
            with self._lock:
                if full_only and len(self._queue) < self.batch_size:
                    return False
                batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            if not batch:
                return False
            try:
                append(self.store, self.seal, batch, pause=pause)
            except StoreError:
                # The store refuses (unreachable, full, locked too long): the batch is tried again later.
                self._requeue(batch)
                raise
            except Exception:
                # Not the store: some event of the batch cannot be written at all.  It must not hold up every
                # event behind it forever, so the batch is written one event at a time, that one left out.
                self._append_each(batch)
            except BaseException:
                self._requeue(batch)
                raise
            return True

    def _append_each(self, batch: list[AuditEvent]) -> None:
        for position, event in enumerate(batch):
            try:
                append(self.store, self.seal, [event])
            except StoreError:
                self._requeue(batch[position:])
                raise
            except Exception as error:
                # Said loudly, without the event's contents (they may hold what a caller sent).
                log.error(
                    "audit trail: event %s (%s %s, account %s) cannot be stored (%s) and is left out of the trail",
                    event.event_id,
                    event.event_source,
                    event.event_name,
                    event.account_id,
                    type(error).__name__,
                )

    def _requeue(self, events: list[AuditEvent]) -> None:
        with self._lock:
            self._queue.extendleft(reversed(events))

    # --- retention --------------------------------------------------------------------
    def sweep(self) -> int:
        """Delete the events older than the retention period, when a check is due; how many went."""
        now = self._monotonic()
        if now < self._next_retention:
            return 0
        self._next_retention = now + self.retention_check_interval
        deleted = prune(self.store, self.seal, self.clock.now() - self.retention)
        if deleted:
            log.info("audit trail: deleted %d event(s) older than %s", deleted, self.retention)
        return deleted


def _let_the_event_loop_run() -> None:
    """Give up the interpreter for a moment, between two slices of a batch.

    Sealing a batch is pure Python, run while the event loop waits for the GIL at every point where a request lets
    it go (a store read, the random bytes of an id, AES-GCM): without a pause, the loop got it back only when the
    interpreter forced a switch, 5 ms later, at each such point, and one request in a hundred took 15 ms instead of
    0.3 (bench/run.py, Encrypt at one connection: p99 17 ms, 3.5 ms with the pauses).  A sleep, unlike
    ``sleep(0)``, lets the waiting thread take the GIL before this one asks for it again.
    """
    time.sleep(PAUSE_SECONDS)
