"""Accounts and access keys in the SQLite store: creating and listing accounts, storing access keys with their secrets
wrapped, and the last-used fields that GetAccessKeyLastUsed reports.
"""

from __future__ import annotations

from datetime import datetime

from kmsd.store.models import AccessKeyRecord, Account
from kmsd.store.sql.codec import encode_time
from kmsd.store.sql.connections import SqlConnections
from kmsd.store.sql.rows import ACCESS_KEYS, ACCOUNTS

# put_access_key replaces every field of a key with the same id, the last-used fields too.
_REPLACE_ACCESS_KEY = ", ".join(f"{column} = excluded.{column}" for column in ACCESS_KEYS.names[1:])


class AccountQueries(SqlConnections):
    """The accounts and access_keys tables."""

    # --- accounts and access keys ------------------------------------------------------

    def create_account(self, account: Account) -> None:
        self._write(
            ACCOUNTS.insert_sql,
            ACCOUNTS.to_row(account),
            f"account `{account.account_id}`",
        )

    def get_account(self, account_id: str) -> Account | None:
        row = self._fetchone(f"{ACCOUNTS.select_sql} WHERE account_id = ?", (account_id,))
        return None if row is None else ACCOUNTS.from_row(row)

    def list_accounts(self) -> list[Account]:
        rows = self._fetchall(f"{ACCOUNTS.select_sql} ORDER BY account_id")
        return [ACCOUNTS.from_row(row) for row in rows]

    def put_access_key(self, key: AccessKeyRecord) -> None:
        """Insert, or replace every field of the key with the same id (the last-used fields too)."""
        self._write(
            f"{ACCESS_KEYS.insert_sql} ON CONFLICT (access_key_id) DO UPDATE SET {_REPLACE_ACCESS_KEY}",
            ACCESS_KEYS.to_row(key),
            f"access key `{key.access_key_id}`",
        )

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        row = self._fetchone(f"{ACCESS_KEYS.select_sql} WHERE access_key_id = ?", (access_key_id,))
        return None if row is None else ACCESS_KEYS.from_row(row)

    def list_access_keys(self, account_id: str) -> list[AccessKeyRecord]:
        rows = self._fetchall(
            f"{ACCESS_KEYS.select_sql} WHERE account_id = ? ORDER BY created_at, access_key_id", (account_id,)
        )
        return [ACCESS_KEYS.from_row(row) for row in rows]

    # --- IAM: access keys of users -------------------------------------------------------------

    def list_user_access_keys(self, user_id: str) -> list[AccessKeyRecord]:
        rows = self._fetchall(
            f"{ACCESS_KEYS.select_sql} WHERE user_id = ? ORDER BY created_at, access_key_id", (user_id,)
        )
        return [ACCESS_KEYS.from_row(row) for row in rows]

    def delete_access_key(self, access_key_id: str) -> None:
        """No-op when absent."""
        self._write(
            "DELETE FROM access_keys WHERE access_key_id = ?", (access_key_id,), f"access key `{access_key_id}`"
        )

    def record_access_key_use(self, access_key_id: str, when: datetime, service: str, region: str) -> None:
        """Set the last-used fields unless a later use is already recorded; no-op for an unknown key.

        Concurrent requests may finish out of order; keeping the latest time means
        GetAccessKeyLastUsed never goes backwards.
        """
        stamp = encode_time(when)
        self._bookkeeping_write(
            "UPDATE access_keys SET last_used_at = ?, last_used_service = ?, last_used_region = ? "
            "WHERE access_key_id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
            (stamp, service, region, access_key_id, stamp),
            f"access key `{access_key_id}`",
        )
