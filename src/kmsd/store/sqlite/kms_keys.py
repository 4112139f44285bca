"""KMS keys, their key material versions and their aliases in the SQLite store, including the key cache lookups of
``get_key`` that every KMS call goes through.
"""

from __future__ import annotations

import threading
from datetime import datetime

from kmsd.store.base import StoreError
from kmsd.store.models import AliasRecord, KeyMaterialRecord, KeyRecord
from kmsd.store.sqlite.connections import _KEY_CACHE_LIMIT, SqliteConnections
from kmsd.store.sqlite.rows import (
    _ALIAS_COLUMNS,
    _KEY_COLUMNS,
    _KEY_PLACEHOLDERS,
    _KEY_UPDATE,
    _MATERIAL_COLUMNS,
    _alias_from_row,
    _key_from_row,
    _key_to_row,
    _material_from_row,
    encode_time,
)


class KmsKeyQueries(SqliteConnections):
    """The keys, key_materials and aliases tables."""

    # --- KMS keys ------------------------------------------------------------------

    def insert_key(self, key: KeyRecord) -> None:
        self._write(
            f"INSERT INTO keys ({_KEY_COLUMNS}) VALUES ({_KEY_PLACEHOLDERS})",
            _key_to_row(key),
            f"key `{key.key_id}`",
        )

    def update_key(self, key: KeyRecord) -> None:
        row = _key_to_row(key)
        changed = self._write(
            f"UPDATE keys SET {_KEY_UPDATE} WHERE key_id = ?", (*row[1:], row[0]), f"key `{key.key_id}`"
        )
        if changed == 0:
            raise StoreError(f"key `{key.key_id}` cannot be updated: it is not stored")

    def get_key(self, key_id: str) -> KeyRecord | None:
        """The key, from the key cache when this thread is outside a transaction (see the module docstring)."""
        if self._owner == threading.get_ident() or not self._key_cache_is_current():
            return self._read_key(key_id)
        cached = self._key_cache.get(key_id)
        if cached is not None:
            return cached
        generation = self._key_cache_generation
        key = self._read_key(key_id)
        # Absent keys are not cached: a key created elsewhere must be found at once.
        if key is not None:
            with self._key_cache_lock:
                if generation == self._key_cache_generation:
                    if len(self._key_cache) >= _KEY_CACHE_LIMIT:
                        self._key_cache.clear()
                    self._key_cache[key_id] = key
        return key

    def _read_key(self, key_id: str) -> KeyRecord | None:
        row = self._fetchone(f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_id = ?", (key_id,))
        return None if row is None else _key_from_row(row)

    def list_keys(self, account_id: str, region: str, after_key_id: str | None, limit: int) -> list[KeyRecord]:
        if limit < 0:
            raise StoreError(f"list_keys limit must not be negative, got {limit}")
        rows = self._fetchall(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE account_id = ? AND region = ? AND key_id > ? "
            "ORDER BY key_id LIMIT ?",
            (account_id, region, after_key_id or "", limit),
        )
        return [_key_from_row(row) for row in rows]

    def delete_key(self, key_id: str) -> None:
        """Remove the key, its material, aliases and grants (by foreign-key cascade); no-op when absent.

        The wrapped material is then scrubbed from the files: zeroed by secure_delete, and the WAL
        emptied once the transaction commits (see the ``Deletion`` paragraph of :mod:`kmsd.store.sqlite`).
        """
        with self.transaction():
            self._request_scrub()
            self._write("DELETE FROM keys WHERE key_id = ?", (key_id,), f"key `{key_id}`")

    def keys_pending_deletion_before(self, when: datetime) -> list[KeyRecord]:
        """Keys in PendingDeletion whose deletion date is at or before ``when``, soonest first."""
        rows = self._fetchall(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE key_state = 'PendingDeletion' AND deletion_date <= ? "
            "ORDER BY deletion_date, key_id",
            (encode_time(when),),
        )
        return [_key_from_row(row) for row in rows]

    def keys_due_for_rotation(self, when: datetime) -> list[KeyRecord]:
        """Keys with rotation enabled whose next rotation date is at or before ``when``, soonest first.

        Whatever their key state: AWS rotates a disabled key when it is re-enabled
        if the date has passed, so that decision belongs to the KMS service.
        """
        rows = self._fetchall(
            f"SELECT {_KEY_COLUMNS} FROM keys WHERE rotation_enabled = 1 AND next_rotation_date <= ? "
            "ORDER BY next_rotation_date, key_id",
            (encode_time(when),),
        )
        return [_key_from_row(row) for row in rows]

    # --- key material ---------------------------------------------------------------

    def add_key_material(self, material: KeyMaterialRecord) -> None:
        self._write(
            f"INSERT INTO key_materials ({_MATERIAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                material.key_id,
                material.version,
                material.material_id,
                material.wrapped_material,
                encode_time(material.created_at),
                material.rotation_type,
            ),
            f"key material version {material.version} of key `{material.key_id}`",
        )

    def get_key_material(self, key_id: str, version: int) -> KeyMaterialRecord | None:
        row = self._fetchone(
            f"SELECT {_MATERIAL_COLUMNS} FROM key_materials WHERE key_id = ? AND version = ?",
            (key_id, version),
        )
        return None if row is None else _material_from_row(row)

    def list_key_materials(self, key_id: str) -> list[KeyMaterialRecord]:
        rows = self._fetchall(
            f"SELECT {_MATERIAL_COLUMNS} FROM key_materials WHERE key_id = ? ORDER BY version", (key_id,)
        )
        return [_material_from_row(row) for row in rows]

    # --- aliases ---------------------------------------------------------------------

    def insert_alias(self, alias: AliasRecord) -> None:
        self._write(
            f"INSERT INTO aliases ({_ALIAS_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                alias.account_id,
                alias.region,
                alias.alias_name,
                alias.target_key_id,
                encode_time(alias.creation_date),
                encode_time(alias.last_updated_date),
            ),
            f"alias `{alias.alias_name}` in {alias.account_id}/{alias.region}",
        )

    def update_alias(self, alias: AliasRecord) -> None:
        """Point the stored alias (same account, region, name) at ``target_key_id``, with the given dates."""
        what = f"alias `{alias.alias_name}` in {alias.account_id}/{alias.region}"
        changed = self._write(
            "UPDATE aliases SET target_key_id = ?, creation_date = ?, last_updated_date = ? "
            "WHERE account_id = ? AND region = ? AND alias_name = ?",
            (
                alias.target_key_id,
                encode_time(alias.creation_date),
                encode_time(alias.last_updated_date),
                alias.account_id,
                alias.region,
                alias.alias_name,
            ),
            what,
        )
        if changed == 0:
            raise StoreError(f"{what} cannot be updated: it is not stored")

    def delete_alias(self, account_id: str, region: str, alias_name: str) -> None:
        """Remove the alias; no-op when absent."""
        self._write(
            "DELETE FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
            (account_id, region, alias_name),
            f"alias `{alias_name}` in {account_id}/{region}",
        )

    def get_alias(self, account_id: str, region: str, alias_name: str) -> AliasRecord | None:
        row = self._fetchone(
            f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? AND alias_name = ?",
            (account_id, region, alias_name),
        )
        return None if row is None else _alias_from_row(row)

    def list_aliases(self, account_id: str, region: str, key_id: str | None = None) -> list[AliasRecord]:
        if key_id is None:
            rows = self._fetchall(
                f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? ORDER BY alias_name",
                (account_id, region),
            )
        else:
            rows = self._fetchall(
                f"SELECT {_ALIAS_COLUMNS} FROM aliases WHERE account_id = ? AND region = ? "
                "AND target_key_id = ? ORDER BY alias_name",
                (account_id, region, key_id),
            )
        return [_alias_from_row(row) for row in rows]
