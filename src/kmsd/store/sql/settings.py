"""The store's small named settings (whether the default account was made, the root key's check value)."""

from __future__ import annotations

from kmsd.store.sql.connections import SqlConnections


class SettingQueries(SqlConnections):
    """The settings table."""

    def get_setting(self, name: str) -> str | None:
        row = self._fetchone("SELECT value FROM settings WHERE name = ?", (name,))
        return None if row is None else str(row[0])

    def set_setting(self, name: str, value: str) -> None:
        self._write(
            "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
            f"setting `{name}`",
        )
