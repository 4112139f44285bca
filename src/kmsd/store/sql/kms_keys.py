"""KMS keys, their key material versions and their aliases in the SQLite store, including the key cache lookups of
``get_key`` that every KMS call goes through.
"""

from __future__ import annotations

from datetime import datetime

from kmsd.store.base import StoreError
from kmsd.store.models import AliasRecord, ImportedMaterialRecord, KeyLastUsageRecord, KeyMaterialRecord, KeyRecord
from kmsd.store.sql.codec import encode_time
from kmsd.store.sql.connections import KEY_CACHE_LIMIT, SqlConnections
from kmsd.store.sql.rows import ALIASES, IMPORTED_MATERIALS, KEY_LAST_USAGE, KEY_MATERIALS, KEYS

# get_key's statement, built once: a cache miss is on the request path.
_SELECT_KEY = f"{KEYS.select_sql} WHERE key_id = ? AND region = ?"


class KmsKeyQueries(SqlConnections):
    """The keys, key_materials and aliases tables."""

    # --- KMS keys ------------------------------------------------------------------

    def insert_key(self, key: KeyRecord) -> None:
        self._write(KEYS.insert_sql, KEYS.to_row(key), f"key `{key.key_id}`")

    def update_key(self, key: KeyRecord) -> None:
        changed = self._write(KEYS.update_sql, KEYS.update_values(key), f"key `{key.key_id}`")
        if changed == 0:
            raise StoreError(f"key `{key.key_id}` cannot be updated: it is not stored")

    def get_key(self, key_id: str, region: str) -> KeyRecord | None:
        """The key, from the key cache when this thread is outside a transaction (see the module docstring)."""
        if self._in_own_transaction() or not self._key_cache_is_current():
            return self._read_key(key_id, region)
        identity = (key_id, region)
        cached = self._key_cache.get(identity)
        if cached is not None:
            self.counters.key_cache_hits += 1
            return cached
        self.counters.key_cache_misses += 1
        generation = self._key_cache_generation
        key = self._read_key(key_id, region)
        # Absent keys are not cached: a key created elsewhere must be found at once.
        if key is not None:
            with self._key_cache_lock:
                if generation == self._key_cache_generation:
                    if len(self._key_cache) >= KEY_CACHE_LIMIT:
                        self._key_cache.clear()
                    self._key_cache[identity] = key
        return key

    def _read_key(self, key_id: str, region: str) -> KeyRecord | None:
        row = self._fetchone(_SELECT_KEY, (key_id, region))
        return None if row is None else KEYS.from_row(row)

    def keys_with_id(self, key_id: str) -> list[KeyRecord]:
        rows = self._fetchall(f"{KEYS.select_sql} WHERE key_id = ? ORDER BY region", (key_id,))
        return [KEYS.from_row(row) for row in rows]

    def list_keys(self, account_id: str, region: str, after_key_id: str | None, limit: int) -> list[KeyRecord]:
        if limit < 0:
            raise StoreError(f"list_keys limit must not be negative, got {limit}")
        rows = self._fetchall(
            f"{KEYS.select_sql} WHERE account_id = ? AND region = ? AND key_id > ? ORDER BY key_id LIMIT ?",
            (account_id, region, after_key_id or "", limit),
        )
        return [KEYS.from_row(row) for row in rows]

    def delete_key(self, key_id: str, region: str) -> None:
        """Remove the key, its aliases, grants and records (by foreign-key cascade); no-op when absent.

        Its material goes with the last key of its id: the replicas of a multi-Region key share it (migration 11).
        The wrapped material is then scrubbed from the files: zeroed by secure_delete, and the WAL
        emptied once the transaction commits (see the ``Deletion`` paragraph of :mod:`kmsd.store.sqlite.store`).
        """
        what = f"key `{key_id}` in {region}"
        with self.transaction():
            self._request_scrub()
            self._write("DELETE FROM keys WHERE key_id = ? AND region = ?", (key_id, region), what)
            self._write(
                "DELETE FROM key_materials WHERE key_id = ? AND NOT EXISTS (SELECT 1 FROM keys WHERE key_id = ?)",
                (key_id, key_id),
                f"key material of {what}",
            )

    def keys_pending_deletion_before(self, when: datetime) -> list[KeyRecord]:
        """Keys in PendingDeletion whose deletion date is at or before ``when``, soonest first."""
        rows = self._fetchall(
            f"{KEYS.select_sql} WHERE key_state = 'PendingDeletion' AND deletion_date <= ? "
            "ORDER BY deletion_date, key_id",
            (encode_time(when),),
        )
        return [KEYS.from_row(row) for row in rows]

    def keys_due_for_rotation(self, when: datetime) -> list[KeyRecord]:
        """Keys with rotation enabled whose next rotation date is at or before ``when``, soonest first.

        Whatever their key state: AWS rotates a disabled key when it is re-enabled
        if the date has passed, so that decision belongs to the KMS service.
        """
        rows = self._fetchall(
            f"{KEYS.select_sql} WHERE rotation_enabled = 1 AND next_rotation_date <= ? "
            "ORDER BY next_rotation_date, key_id",
            (encode_time(when),),
        )
        return [KEYS.from_row(row) for row in rows]

    # --- key material ---------------------------------------------------------------

    def add_key_material(self, material: KeyMaterialRecord) -> None:
        self._write(
            KEY_MATERIALS.insert_sql,
            KEY_MATERIALS.to_row(material),
            f"key material version {material.version} of key `{material.key_id}`",
        )

    def get_key_material(self, key_id: str, version: int) -> KeyMaterialRecord | None:
        row = self._fetchone(f"{KEY_MATERIALS.select_sql} WHERE key_id = ? AND version = ?", (key_id, version))
        return None if row is None else KEY_MATERIALS.from_row(row)

    def list_key_materials(self, key_id: str) -> list[KeyMaterialRecord]:
        rows = self._fetchall(f"{KEY_MATERIALS.select_sql} WHERE key_id = ? ORDER BY version", (key_id,))
        return [KEY_MATERIALS.from_row(row) for row in rows]

    def delete_key_materials(self, key_id: str) -> None:
        """Remove every generation of the key's material (DeleteImportedKeyMaterial, expiry); no-op when none.

        Scrubbed like a purged key's: zeroed by secure_delete, and the WAL emptied once the transaction commits.
        """
        with self.transaction():
            self._request_scrub()
            self._write("DELETE FROM key_materials WHERE key_id = ?", (key_id,), f"key material of key `{key_id}`")

    def delete_key_material(self, key_id: str, version: int) -> None:
        """Remove one generation of the key's material (DeleteImportedKeyMaterial, expiry); no-op when absent.

        Scrubbed like a purged key's: zeroed by secure_delete, and the WAL emptied once the transaction commits.
        """
        with self.transaction():
            self._request_scrub()
            self._write(
                "DELETE FROM key_materials WHERE key_id = ? AND version = ?",
                (key_id, version),
                f"key material {version} of key `{key_id}`",
            )

    # --- last use of keys (GetKeyLastUsage) ---------------------------------------------

    def get_key_last_usage(self, key_id: str, region: str) -> KeyLastUsageRecord | None:
        row = self._fetchone(f"{KEY_LAST_USAGE.select_sql} WHERE key_id = ? AND region = ?", (key_id, region))
        return None if row is None else KEY_LAST_USAGE.from_row(row)

    def record_key_use(self, key_id: str, region: str, operation: str, when: datetime, request_id: str) -> None:
        """Set the key's last use unless a later one is already recorded; a no-op for an unknown key.

        Uses are recorded off the request, so they may arrive out of order: the latest one is kept.
        """
        stamp = encode_time(when)
        self._bookkeeping_write(
            "INSERT INTO key_last_usage (key_id, region, operation, used_at, request_id) "
            "SELECT key_id, region, ?, ?, ? FROM keys WHERE key_id = ? AND region = ? "
            "ON CONFLICT (key_id, region) DO UPDATE SET operation = excluded.operation, used_at = excluded.used_at, "
            "request_id = excluded.request_id "
            "WHERE key_last_usage.used_at IS NULL OR key_last_usage.used_at <= excluded.used_at",
            (operation, stamp, request_id, key_id, region),
            f"last use of key `{key_id}` in {region}",
        )

    # --- imported key material (origin EXTERNAL) ------------------------------------

    def list_imported_materials(self, key_id: str, region: str) -> list[ImportedMaterialRecord]:
        rows = self._fetchall(
            f"{IMPORTED_MATERIALS.select_sql} WHERE key_id = ? AND region = ? ORDER BY version", (key_id, region)
        )
        return [IMPORTED_MATERIALS.from_row(row) for row in rows]

    def put_imported_material(self, record: ImportedMaterialRecord) -> None:
        """Store the record, replacing the one of the same key, Region and version."""
        with self.transaction():
            self.delete_imported_material(record.key_id, record.region, record.version)
            what = f"imported material {record.version} of key `{record.key_id}`"
            self._write(IMPORTED_MATERIALS.insert_sql, IMPORTED_MATERIALS.to_row(record), what)

    def delete_imported_material(self, key_id: str, region: str, version: int) -> None:
        self._write(
            "DELETE FROM imported_key_materials WHERE key_id = ? AND region = ? AND version = ?",
            (key_id, region, version),
            f"imported material {version} of key `{key_id}`",
        )

    def delete_imported_materials(self, key_id: str, region: str) -> None:
        self._write(
            "DELETE FROM imported_key_materials WHERE key_id = ? AND region = ?",
            (key_id, region),
            f"imported materials of key `{key_id}`",
        )

    def imported_materials_expired_by(self, when: datetime) -> list[ImportedMaterialRecord]:
        """The records whose ValidTo is at or before ``when``, soonest first."""
        rows = self._fetchall(
            f"{IMPORTED_MATERIALS.select_sql} WHERE valid_to IS NOT NULL AND valid_to <= ? "
            "ORDER BY valid_to, key_id, version",
            (encode_time(when),),
        )
        return [IMPORTED_MATERIALS.from_row(row) for row in rows]

    # --- aliases ---------------------------------------------------------------------

    def insert_alias(self, alias: AliasRecord) -> None:
        self._write(
            ALIASES.insert_sql,
            ALIASES.to_row(alias),
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
            f"{ALIASES.select_sql} WHERE account_id = ? AND region = ? AND alias_name = ?",
            (account_id, region, alias_name),
        )
        return None if row is None else ALIASES.from_row(row)

    def list_aliases(self, account_id: str, region: str, key_id: str | None = None) -> list[AliasRecord]:
        if key_id is None:
            rows = self._fetchall(
                f"{ALIASES.select_sql} WHERE account_id = ? AND region = ? ORDER BY alias_name",
                (account_id, region),
            )
        else:
            rows = self._fetchall(
                f"{ALIASES.select_sql} WHERE account_id = ? AND region = ? AND target_key_id = ? ORDER BY alias_name",
                (account_id, region, key_id),
            )
        return [ALIASES.from_row(row) for row in rows]
