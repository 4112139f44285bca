"""How a node of a PostgreSQL-backed service learns that another node (or another worker) committed a change.

:class:`ChangeListener` keeps one connection that ``LISTEN``\\ s on the changes channel, on a daemon thread.  A
notification from any other store raises a flag that :meth:`ChangeListener.changed` hands, once, to the next
request; the request then drops its caches (``kmsd.api.app``), so a change made elsewhere is honoured as soon as
its notification arrives (milliseconds on one network), without a store round trip per request.

When the connection drops, notifications may be lost.  Until it is back, :meth:`ChangeListener.changed` answers
True at most every :data:`FALLBACK_SECONDS`: caches then live no longer than that, which bounds how stale a node
can be however long PostgreSQL is away.  A reconnection reports a change too, for what was missed meanwhile.
The connection is checked with a trivial query whenever it has been quiet for :data:`POLL_SECONDS`, and one
that has not shown itself alive for :data:`SILENCE_SECONDS` counts as deaf meanwhile, so a peer that vanished
without closing the socket (the probe then waits on TCP, for minutes) bounds staleness the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg

from kmsd.store.postgres.connections import CHANGES_CHANNEL, connect_long_lived

logger = logging.getLogger("kmsd.store")

# The longest a node's caches live while it cannot hear notifications (the promise is one second).
FALLBACK_SECONDS = 0.5
# How long the listening connection may be quiet before it is checked with a query.
POLL_SECONDS = 0.5
RECONNECT_SECONDS = 0.5
# How long one wait for notifications lasts before the thread looks at whether it should stop.
WAIT_SECONDS = 0.1
# A listening connection shows it is alive at least every POLL_SECONDS (a notification, or the probe's answer).
# One silent for longer counts as deaf: a peer gone without closing the socket (a partition, a stuck proxy)
# leaves the probe waiting for TCP to give up, minutes, while notifications are lost and no flag is raised.
SILENCE_SECONDS = POLL_SECONDS + 0.25
LISTENER_APPLICATION_NAME = "kmsd-listener"


class ChangeListener:
    """One LISTEN connection on a daemon thread, and the flag it raises for other stores' commits."""

    def __init__(
        self,
        conninfo: str,
        own_id: str,
        on_change: Callable[[], None],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conninfo = conninfo
        self._own_id = own_id
        self._on_change = on_change  # empties the store's key cache at once, from the listener's thread
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._changed = False
        self._listening = threading.Event()
        self._stopping = threading.Event()
        self._last_fallback = monotonic()
        self._last_key_expiry = monotonic()  # the key cache's own fallback timer (expire_keys_when_deaf)
        self._alive_at = monotonic()  # when the connection last showed it is alive (see SILENCE_SECONDS)
        self._connected_before = False
        self._thread = threading.Thread(target=self._run, name="kmsd-store-listener", daemon=True)
        self._thread.start()

    @property
    def listening(self) -> bool:
        """Connected, and heard from within SILENCE_SECONDS."""
        return self._listening.is_set() and self._monotonic() - self._alive_at <= SILENCE_SECONDS

    def wait_until_listening(self, timeout: float) -> bool:
        return self._listening.wait(timeout)

    def changed(self) -> bool:
        """Whether another store committed since the last call (or, while deaf, whether caches are due to go)."""
        if not self.listening:
            now = self._monotonic()
            if now - self._last_fallback < FALLBACK_SECONDS:
                return False
            self._last_fallback = now
            self._on_change()
            return True
        with self._lock:
            changed, self._changed = self._changed, False
        return changed

    def expire_keys_when_deaf(self) -> None:
        """While deaf, empty the store's key cache at least every FALLBACK_SECONDS, on a timer of its own.

        The key cache is read between requests' checks (and outside requests): had it taken the turn of
        :meth:`changed`, that turn's True would be lost to the request caches (grants, credentials), which would
        then wait a whole period more.
        """
        if self.listening:
            return
        now = self._monotonic()
        if now - self._last_key_expiry >= FALLBACK_SECONDS:
            self._last_key_expiry = now
            self._on_change()

    def close(self) -> None:
        # The thread sees the flag within WAIT_SECONDS (or RECONNECT_SECONDS) and closes its connection itself.
        self._stopping.set()
        self._thread.join(timeout=5)

    # --- the listening thread ----------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                if not self._stopping.is_set():
                    logger.warning("store change notifications interrupted (%s); reconnecting", type(error).__name__)
            finally:
                self._listening.clear()
            self._stopping.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        # application_name: an operator (or a test) can tell this connection in pg_stat_activity.
        with connect_long_lived(self._conninfo, LISTENER_APPLICATION_NAME) as connection:
            connection.execute(f"LISTEN {CHANGES_CHANNEL}")
            # Whatever was committed while nobody listened is unknown: report a change.  Not on the first
            # connection: the store is still opening and holds nothing that a commit could have outdated.
            if self._connected_before:
                self._report()
            self._connected_before = True
            self._alive_at = self._monotonic()
            self._listening.set()
            while not self._stopping.is_set():
                # Short waits, so that close() is not kept waiting; the probe only after POLL_SECONDS of quiet.
                for notification in connection.notifies(timeout=WAIT_SECONDS):
                    self._alive_at = self._monotonic()
                    if notification.payload != self._own_id:
                        self._report()
                if self._monotonic() - self._alive_at >= POLL_SECONDS and not self._stopping.is_set():
                    connection.execute("SELECT 1")
                    self._alive_at = self._monotonic()

    def _report(self) -> None:
        self._on_change()
        with self._lock:
            self._changed = True
