"""KMS grants in the SQLite store, listed oldest first in a total order that ListGrants pages through."""

from __future__ import annotations

from kmsd.store.models import GrantRecord
from kmsd.store.sql.connections import SqlConnections
from kmsd.store.sql.rows import GRANTS


class GrantQueries(SqlConnections):
    """The grants table."""

    # --- KMS grants -----------------------------------------------------------------------------------
    # Lists are oldest first; the grant id breaks ties between grants created at one instant, so
    # the order is total and ListGrants can page through it with a marker.

    def insert_grant(self, grant: GrantRecord) -> None:
        """Conflict for a grant id already stored; StoreError when the grant's key does not exist."""
        self._write(
            GRANTS.insert_sql,
            GRANTS.to_row(grant),
            f"grant `{grant.grant_id}` on key `{grant.key_id}`",
        )

    def get_grant(self, grant_id: str) -> GrantRecord | None:
        row = self._fetchone(f"{GRANTS.select_sql} WHERE grant_id = ?", (grant_id,))
        return None if row is None else GRANTS.from_row(row)

    def list_grants(self, key_id: str, region: str) -> list[GrantRecord]:
        rows = self._fetchall(
            f"{GRANTS.select_sql} WHERE key_id = ? AND region = ? ORDER BY created_at, grant_id", (key_id, region)
        )
        return [GRANTS.from_row(row) for row in rows]

    def list_grants_retirable_by(self, retiring_principal: str) -> list[GrantRecord]:
        """Grants on keys of any account and Region: narrowing them down is the KMS service's job."""
        rows = self._fetchall(
            f"{GRANTS.select_sql} WHERE retiring_principal = ? ORDER BY created_at, grant_id", (retiring_principal,)
        )
        return [GRANTS.from_row(row) for row in rows]

    def delete_grant(self, grant_id: str) -> None:
        """No-op when absent."""
        self._write("DELETE FROM grants WHERE grant_id = ?", (grant_id,), f"grant `{grant_id}`")
