"""Custom key stores and the token objects of their keys in the SQLite store.

Key stores are listed by id, a total order DescribeCustomKeyStores pages through.  A token key row names its
key by (key id, region) without a foreign key to ``keys``: the purge of a key deletes it explicitly.
"""

from __future__ import annotations

from kmsd.store.base import StoreError
from kmsd.store.models import CustomKeyStoreRecord, TokenKeyRecord
from kmsd.store.sql.connections import SqlConnections
from kmsd.store.sql.rows import CUSTOM_KEY_STORES, TOKEN_KEYS

_UPDATE_STORE = (
    "UPDATE custom_key_stores SET custom_key_store_name = ?, cloud_hsm_cluster_id = ?, "
    "trust_anchor_certificate = ?, wrapped_key_store_password = ?, connection_state = ?, "
    "connection_error_code = ?, xks_proxy_uri_endpoint = ?, xks_proxy_uri_path = ?, xks_proxy_connectivity = ?, "
    "xks_proxy_vpc_endpoint_service_name = ?, xks_proxy_vpc_endpoint_service_owner = ?, "
    "xks_proxy_access_key_id = ? WHERE custom_key_store_id = ?"
)


class CustomKeyStoreQueries(SqlConnections):
    """The custom_key_stores and token_keys tables."""

    # --- custom key stores -----------------------------------------------------------------------------

    def insert_custom_key_store(self, record: CustomKeyStoreRecord) -> None:
        """Conflict when the name is taken in the account and Region, or the token backs another key store."""
        self._write(
            CUSTOM_KEY_STORES.insert_sql,
            CUSTOM_KEY_STORES.to_row(record),
            f"custom key store `{record.custom_key_store_id}`",
        )

    def update_custom_key_store(self, record: CustomKeyStoreRecord) -> None:
        """Replace the mutable fields (name, token, trust anchor, password, connection state, proxy settings)."""
        what = f"custom key store `{record.custom_key_store_id}`"
        row = CUSTOM_KEY_STORES.to_row(record)
        values = dict(zip(CUSTOM_KEY_STORES.names, row, strict=True))
        changed = self._write(
            _UPDATE_STORE,
            (
                values["custom_key_store_name"],
                values["cloud_hsm_cluster_id"],
                values["trust_anchor_certificate"],
                values["wrapped_key_store_password"],
                values["connection_state"],
                values["connection_error_code"],
                values["xks_proxy_uri_endpoint"],
                values["xks_proxy_uri_path"],
                values["xks_proxy_connectivity"],
                values["xks_proxy_vpc_endpoint_service_name"],
                values["xks_proxy_vpc_endpoint_service_owner"],
                values["xks_proxy_access_key_id"],
                record.custom_key_store_id,
            ),
            what,
        )
        if changed == 0:
            raise StoreError(f"{what} cannot be updated: it is not stored")

    def get_custom_key_store(self, custom_key_store_id: str) -> CustomKeyStoreRecord | None:
        row = self._fetchone(f"{CUSTOM_KEY_STORES.select_sql} WHERE custom_key_store_id = ?", (custom_key_store_id,))
        return None if row is None else CUSTOM_KEY_STORES.from_row(row)

    def list_custom_key_stores(self, account_id: str, region: str) -> list[CustomKeyStoreRecord]:
        rows = self._fetchall(
            f"{CUSTOM_KEY_STORES.select_sql} WHERE account_id = ? AND region = ? ORDER BY custom_key_store_id",
            (account_id, region),
        )
        return [CUSTOM_KEY_STORES.from_row(row) for row in rows]

    def custom_key_store_of_cluster(self, cloud_hsm_cluster_id: str) -> CustomKeyStoreRecord | None:
        row = self._fetchone(f"{CUSTOM_KEY_STORES.select_sql} WHERE cloud_hsm_cluster_id = ?", (cloud_hsm_cluster_id,))
        return None if row is None else CUSTOM_KEY_STORES.from_row(row)

    def delete_custom_key_store(self, custom_key_store_id: str) -> None:
        """No-op when absent; StoreError while token keys still name it."""
        self._write(
            "DELETE FROM custom_key_stores WHERE custom_key_store_id = ?",
            (custom_key_store_id,),
            f"custom key store `{custom_key_store_id}`",
        )

    # --- the token objects of keys -----------------------------------------------------------------------

    def insert_token_key(self, record: TokenKeyRecord) -> None:
        self._write(TOKEN_KEYS.insert_sql, TOKEN_KEYS.to_row(record), f"token key of key `{record.key_id}`")

    def update_token_key(self, record: TokenKeyRecord) -> None:
        """Set the state the key returns to when its key store is connected again."""
        changed = self._write(
            "UPDATE token_keys SET state_when_available = ? WHERE key_id = ? AND region = ?",
            (record.state_when_available, record.key_id, record.region),
            f"token key of key `{record.key_id}`",
        )
        if changed == 0:
            raise StoreError(f"token key of key `{record.key_id}` cannot be updated: it is not stored")

    def get_token_key(self, key_id: str, region: str) -> TokenKeyRecord | None:
        row = self._fetchone(f"{TOKEN_KEYS.select_sql} WHERE key_id = ? AND region = ?", (key_id, region))
        return None if row is None else TOKEN_KEYS.from_row(row)

    def list_token_keys(self, custom_key_store_id: str) -> list[TokenKeyRecord]:
        rows = self._fetchall(
            f"{TOKEN_KEYS.select_sql} WHERE custom_key_store_id = ? ORDER BY key_id", (custom_key_store_id,)
        )
        return [TOKEN_KEYS.from_row(row) for row in rows]

    def delete_token_key(self, key_id: str, region: str) -> None:
        """No-op when absent."""
        self._write(
            "DELETE FROM token_keys WHERE key_id = ? AND region = ?", (key_id, region), f"token key of key `{key_id}`"
        )
