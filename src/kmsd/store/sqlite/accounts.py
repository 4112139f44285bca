"""Accounts and access keys in the SQLite store: creating and listing accounts, storing access keys with their secrets
wrapped, and the last-used fields that GetAccessKeyLastUsed reports.
"""

from __future__ import annotations

from datetime import datetime

from kmsd.store.models import AccessKeyRecord, Account
from kmsd.store.sqlite.connections import SqliteConnections
from kmsd.store.sqlite.rows import (
    _ACCESS_KEY_COLUMNS,
    _access_key_from_row,
    _access_key_to_row,
    decode_time,
    encode_time,
)


class AccountQueries(SqliteConnections):
    """The accounts and access_keys tables."""

    # --- accounts and access keys ------------------------------------------------------

    def create_account(self, account: Account) -> None:
        self._write(
            "INSERT INTO accounts (account_id, created_at) VALUES (?, ?)",
            (account.account_id, encode_time(account.created_at)),
            f"account `{account.account_id}`",
        )

    def get_account(self, account_id: str) -> Account | None:
        row = self._fetchone("SELECT account_id, created_at FROM accounts WHERE account_id = ?", (account_id,))
        return None if row is None else Account(account_id=row[0], created_at=decode_time(row[1]))

    def list_accounts(self) -> list[Account]:
        rows = self._fetchall("SELECT account_id, created_at FROM accounts ORDER BY account_id")
        return [Account(account_id=row[0], created_at=decode_time(row[1])) for row in rows]

    def put_access_key(self, key: AccessKeyRecord) -> None:
        """Insert, or replace every field of the key with the same id (the last-used fields too)."""
        self._write(
            f"INSERT INTO access_keys ({_ACCESS_KEY_COLUMNS}) VALUES ({', '.join('?' * 10)}) "
            "ON CONFLICT (access_key_id) DO UPDATE SET account_id = excluded.account_id, "
            "principal_arn = excluded.principal_arn, wrapped_secret = excluded.wrapped_secret, "
            "status = excluded.status, created_at = excluded.created_at, user_id = excluded.user_id, "
            "last_used_at = excluded.last_used_at, last_used_service = excluded.last_used_service, "
            "last_used_region = excluded.last_used_region",
            _access_key_to_row(key),
            f"access key `{key.access_key_id}`",
        )

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None:
        row = self._fetchone(f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?", (access_key_id,))
        return None if row is None else _access_key_from_row(row)

    def list_access_keys(self, account_id: str) -> list[AccessKeyRecord]:
        rows = self._fetchall(
            f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE account_id = ? ORDER BY created_at, access_key_id",
            (account_id,),
        )
        return [_access_key_from_row(row) for row in rows]

    # --- IAM: access keys of users -------------------------------------------------------------

    def list_user_access_keys(self, user_id: str) -> list[AccessKeyRecord]:
        rows = self._fetchall(
            f"SELECT {_ACCESS_KEY_COLUMNS} FROM access_keys WHERE user_id = ? ORDER BY created_at, access_key_id",
            (user_id,),
        )
        return [_access_key_from_row(row) for row in rows]

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
        self._write(
            "UPDATE access_keys SET last_used_at = ?, last_used_service = ?, last_used_region = ? "
            "WHERE access_key_id = ? AND (last_used_at IS NULL OR last_used_at <= ?)",
            (stamp, service, region, access_key_id, stamp),
            f"access key `{access_key_id}`",
        )
