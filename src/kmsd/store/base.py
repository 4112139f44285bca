"""The repository interface every store implements (SQLite now, PostgreSQL later).

Service code depends on :class:`Store` only.  Every write happens inside
``with store.transaction():`` so that an operation that fails half-way leaves
nothing written; reads may happen inside or outside one.  Methods that look a
record up return ``None`` when it does not exist; methods that write raise
:class:`Conflict` when a unique record already exists.  Lists come back in a
stable order so that paging with a marker is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from kmsd.store.models import AccessKeyRecord, Account, AliasRecord, KeyMaterialRecord, KeyRecord


class StoreError(Exception):
    """The store could not do what was asked (unreachable, corrupt, a bug)."""


class Conflict(StoreError):
    """A record with the same identity already exists."""


class Store(Protocol):
    # --- lifecycle -------------------------------------------------------
    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together or not at all.  Re-entrant: an inner block joins the outer."""
        ...

    def schema_version(self) -> int: ...

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        ...

    def changed_since_last_check(self) -> bool:
        """True when another connection or process committed since the previous call.

        Caches in the service layer call this once per request and drop what
        they hold when it says True (SQLite: ``PRAGMA data_version``).
        """
        ...

    def close(self) -> None: ...

    # --- small key/value settings (e.g. whether the default account was initialised) --
    def get_setting(self, name: str) -> str | None: ...

    def set_setting(self, name: str, value: str) -> None: ...

    # --- accounts and access keys -----------------------------------------
    def create_account(self, account: Account) -> None: ...

    def get_account(self, account_id: str) -> Account | None: ...

    def list_accounts(self) -> list[Account]: ...

    def put_access_key(self, key: AccessKeyRecord) -> None:
        """Insert, or replace the record with the same access key id."""
        ...

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None: ...

    def list_access_keys(self, account_id: str) -> list[AccessKeyRecord]: ...

    # --- KMS keys ------------------------------------------------------------
    def insert_key(self, key: KeyRecord) -> None: ...

    def update_key(self, key: KeyRecord) -> None:
        """Replace the stored record with the same ``key_id`` (all fields, tags included)."""
        ...

    def get_key(self, key_id: str) -> KeyRecord | None:
        """By UUID, whatever the account or region."""
        ...

    def list_keys(
        self, account_id: str, region: str, after_key_id: str | None, limit: int
    ) -> list[KeyRecord]:
        """Keys of one account and region ordered by ``key_id``, strictly after ``after_key_id``."""
        ...

    def delete_key(self, key_id: str) -> None:
        """Remove the key with its material and aliases (the end of a deletion window)."""
        ...

    def keys_pending_deletion_before(self, when: datetime) -> list[KeyRecord]: ...

    def keys_due_for_rotation(self, when: datetime) -> list[KeyRecord]: ...

    # --- key material ----------------------------------------------------
    def add_key_material(self, material: KeyMaterialRecord) -> None: ...

    def get_key_material(self, key_id: str, version: int) -> KeyMaterialRecord | None: ...

    def list_key_materials(self, key_id: str) -> list[KeyMaterialRecord]:
        """Ordered by version, oldest first."""
        ...

    # --- aliases -----------------------------------------------------------
    def insert_alias(self, alias: AliasRecord) -> None: ...

    def update_alias(self, alias: AliasRecord) -> None: ...

    def delete_alias(self, account_id: str, region: str, alias_name: str) -> None: ...

    def get_alias(self, account_id: str, region: str, alias_name: str) -> AliasRecord | None: ...

    def list_aliases(self, account_id: str, region: str, key_id: str | None = None) -> list[AliasRecord]:
        """Ordered by alias name."""
        ...


def iter_all_keys(store: Store, account_id: str, region: str, page: int = 500) -> Iterator[KeyRecord]:
    """Every key of one account and region, page by page."""
    after: str | None = None
    while True:
        batch = store.list_keys(account_id, region, after, page)
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].key_id
