"""STS sessions in the SQLite store: the temporary credentials AssumeRole and GetSessionToken hand out, kept until they
expire.
"""

from __future__ import annotations

from datetime import datetime

from kmsd.store.models import SessionRecord
from kmsd.store.sql.codec import encode_time
from kmsd.store.sql.connections import SqlConnections
from kmsd.store.sql.rows import SESSIONS


class SessionQueries(SqlConnections):
    """The sts_sessions table."""

    # --- STS sessions ---------------------------------------------------------------------------------

    def insert_session(self, session: SessionRecord) -> None:
        self._write(
            SESSIONS.insert_sql,
            SESSIONS.to_row(session),
            f"session `{session.access_key_id}`",
        )

    def get_session(self, access_key_id: str) -> SessionRecord | None:
        """The session, expired or not: telling an expired token from an unknown one is the caller's job."""
        row = self._fetchone(f"{SESSIONS.select_sql} WHERE access_key_id = ?", (access_key_id,))
        return None if row is None else SESSIONS.from_row(row)

    def delete_sessions_expired_before(self, when: datetime) -> int:
        """Remove sessions whose expiry is strictly before ``when``; how many were removed."""
        return self._write("DELETE FROM sts_sessions WHERE expires_at < ?", (encode_time(when),), "expired sessions")
