"""When, where and for which service each long-term access key was last used: the writes behind GetAccessKeyLastUsed.

IAM's GetAccessKeyLastUsed reports the last use of a long-term access key
(``AKIA...``) by any service; temporary credentials (``ASIA...``, from STS)
have no such record.  Every authenticated request notes its key here, after
its signature has been verified.  A store write on every request would cost
more than most calls, so each key's use is written at most once per
``KEY_USE_RECORD_INTERVAL``.  The write itself runs wherever the owner says
(``submit``): the API hands in its store-call thread, so the event loop never
waits for the store's writer, and the record of one request is queued before
that request's own store call, in arrival order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from kmsd.iam.ids import SESSION_KEY_ID_PREFIX
from kmsd.store.base import Store, StoreError

log = logging.getLogger("kmsd.iam")

KEY_USE_RECORD_INTERVAL = timedelta(minutes=1)
# Keys remembered between writes; beyond this the memory starts over (a few extra writes, never a lost one).
_KEY_USE_MEMORY = 10_000

Submit = Callable[[Callable[[], None]], object]


class AccessKeyUse:
    """Notes each verified request's access key and writes its last use to the store, at most once a minute."""

    def __init__(self, store: Store, submit: Submit) -> None:
        self.store = store
        self._submit = submit
        self._recorded: dict[str, datetime] = {}

    def note(self, access_key_id: str, service: str, region: str, now: datetime) -> None:
        """Record the use of ``access_key_id`` (through ``submit``) if it is a long-term key and a record is due."""
        if access_key_id.startswith(SESSION_KEY_ID_PREFIX):
            return
        last = self._recorded.get(access_key_id)
        # A clock that went back (last in the future) records again rather than waiting for it.
        if last is not None and timedelta(0) <= now - last < KEY_USE_RECORD_INTERVAL:
            return
        if len(self._recorded) >= _KEY_USE_MEMORY:
            self._recorded.clear()
        self._recorded[access_key_id] = now
        self._submit(lambda: self._record(access_key_id, service, region, now))

    def _record(self, access_key_id: str, service: str, region: str, now: datetime) -> None:
        try:
            self.store.record_access_key_use(access_key_id, now, service, region)
        except StoreError:
            # Bookkeeping only: the request itself must not fail because of it.
            log.warning("could not record the use of access key %s", access_key_id, exc_info=True)
