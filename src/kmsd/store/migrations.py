"""The SQLite schema, as an ordered list of migrations; ``PRAGMA user_version`` records how many were applied.

Migration *n* (1-based) is ``MIGRATIONS[n - 1]``: a tuple of single SQL
statements.  They are plain statements rather than one script because
``sqlite3.Cursor.executescript`` commits the open transaction first, and a
migration must apply inside the same transaction as the version bump so that a
crash half-way leaves the previous version intact.  Migrations are append-only:
a released one is never edited, a change is a new entry.

Datetimes are TEXT in one fixed-width form (``2026-01-01T00:00:00.000000+00:00``,
always UTC with microseconds), so that string comparison in SQL is time order.
Booleans are INTEGER 0/1; key tags are a JSON object in ``keys.tags`` because
they are always read and replaced together with the key.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the initial schema.
    (
        """
        CREATE TABLE accounts (
            account_id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE access_keys (
            access_key_id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL REFERENCES accounts (account_id) ON DELETE CASCADE,
            principal_arn TEXT NOT NULL,
            wrapped_secret BLOB NOT NULL,
            status TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX access_keys_by_account ON access_keys (account_id, created_at, access_key_id)",
        # keys.account_id deliberately has no foreign key to accounts: in --dev mode a
        # caller's account exists only implicitly, and KMS must not depend on IAM's rows.
        """
        CREATE TABLE keys (
            key_id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            description TEXT NOT NULL,
            key_usage TEXT NOT NULL,
            key_spec TEXT NOT NULL,
            origin TEXT NOT NULL,
            key_state TEXT NOT NULL,
            creation_date TEXT NOT NULL,
            policy TEXT NOT NULL,
            current_material_version INTEGER NOT NULL,
            deletion_date TEXT,
            pending_deletion_window_days INTEGER,
            rotation_enabled INTEGER NOT NULL CHECK (rotation_enabled IN (0, 1)),
            rotation_period_days INTEGER,
            next_rotation_date TEXT,
            multi_region INTEGER NOT NULL CHECK (multi_region IN (0, 1)),
            tags TEXT NOT NULL CHECK (json_valid(tags))
        )
        """,
        "CREATE INDEX keys_by_account_region ON keys (account_id, region, key_id)",
        # Partial indexes keep the periodic sweeps cheap however many keys exist.
        "CREATE INDEX keys_pending_deletion ON keys (deletion_date) WHERE key_state = 'PendingDeletion'",
        "CREATE INDEX keys_rotation_due ON keys (next_rotation_date) WHERE rotation_enabled = 1",
        # "After the waiting period ends, KMS deletes the KMS key, its key material, and all KMS
        # data associated with it, including all aliases that refer to it" (KMS API Reference,
        # ScheduleKeyDeletion): hence ON DELETE CASCADE on key_materials and aliases.
        """
        CREATE TABLE key_materials (
            key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            material_id TEXT NOT NULL,
            wrapped_material BLOB NOT NULL,
            created_at TEXT NOT NULL,
            rotation_type TEXT,
            PRIMARY KEY (key_id, version)
        )
        """,
        # "The alias must be unique in the account and Region" and "You can't create an alias
        # without a KMS key" (KMS API Reference, CreateAlias): the primary key and the foreign key.
        """
        CREATE TABLE aliases (
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            alias_name TEXT NOT NULL,
            target_key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
            creation_date TEXT NOT NULL,
            last_updated_date TEXT NOT NULL,
            PRIMARY KEY (account_id, region, alias_name)
        )
        """,
        "CREATE INDEX aliases_by_target ON aliases (target_key_id, alias_name)",
        """
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )
        """,
    ),
)

LATEST_VERSION = len(MIGRATIONS)
