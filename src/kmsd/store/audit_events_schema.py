"""The schema migration of the audit trail: its events, their resources and the state of their hash chain.

``audit_events`` holds one row per event of one account's trail (a cross-account call has a row in each
account), numbered by ``sequence`` in the order they were written: the hash chain's order
(:mod:`kmsd.audit.chain`).  The columns LookupEvents and ``kmsd audit query`` filter on are pulled out of the
record and indexed with the account and the time, newest first being the order of every answer; ``record`` is
the CloudTrail record as JSON text, kept byte for byte (TEXT, not a JSON type) because the chain
hashes it.  ``audit_event_resources`` repeats each event's resources (LookupEvents' ResourceType and
ResourceName) so that they can be indexed; its rows go with their event.  ``audit_chain`` has at most one row:
the chain's sealed head (the newest event's sequence and hash) and the boundary up to which retention pruned
it (the last pruned event's sequence and hash), so that a verification starts where the stored events do.

This tuple is one entry of :data:`kmsd.store.migrations.MIGRATIONS` and, like the others, is never edited once
released; :func:`kmsd.store.postgres.schema.translate` gives PostgreSQL's form.
"""

from __future__ import annotations

AUDIT_EVENTS_MIGRATION: tuple[str, ...] = (
    """
    CREATE TABLE audit_events (
        sequence INTEGER PRIMARY KEY,
        account_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_time TEXT NOT NULL,
        event_source TEXT NOT NULL,
        event_name TEXT NOT NULL,
        read_only INTEGER NOT NULL CHECK (read_only IN (0, 1)),
        username TEXT,
        access_key_id TEXT,
        principal_arn TEXT,
        error_code TEXT,
        record TEXT NOT NULL,
        previous_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    )
    """,
    "CREATE INDEX audit_events_by_time ON audit_events (account_id, event_time, sequence)",
    "CREATE INDEX audit_events_by_event_name ON audit_events (account_id, event_name, event_time)",
    "CREATE INDEX audit_events_by_username ON audit_events (account_id, username, event_time)",
    "CREATE INDEX audit_events_by_access_key ON audit_events (account_id, access_key_id, event_time)",
    "CREATE INDEX audit_events_by_event_source ON audit_events (account_id, event_source, event_time)",
    "CREATE INDEX audit_events_by_read_only ON audit_events (account_id, read_only, event_time)",
    "CREATE INDEX audit_events_by_principal ON audit_events (account_id, principal_arn, event_time)",
    "CREATE INDEX audit_events_by_error ON audit_events (account_id, error_code, event_time)",
    "CREATE INDEX audit_events_by_event_id ON audit_events (event_id)",
    "CREATE INDEX audit_events_by_hash ON audit_events (hash)",
    # Retention deletes the oldest events: it finds the first one still within the period by time alone.
    "CREATE INDEX audit_events_by_time_only ON audit_events (event_time)",
    """
    CREATE TABLE audit_event_resources (
        sequence INTEGER NOT NULL REFERENCES audit_events (sequence) ON DELETE CASCADE ON UPDATE CASCADE,
        position INTEGER NOT NULL,
        account_id TEXT NOT NULL,
        event_time TEXT NOT NULL,
        resource_type TEXT NOT NULL,
        resource_name TEXT NOT NULL,
        PRIMARY KEY (sequence, position)
    )
    """,
    "CREATE INDEX audit_event_resources_by_type ON audit_event_resources (account_id, resource_type, event_time)",
    "CREATE INDEX audit_event_resources_by_name ON audit_event_resources (account_id, resource_name, event_time)",
    """
    CREATE TABLE audit_chain (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        head_sequence INTEGER NOT NULL,
        head_hash TEXT NOT NULL,
        head_seal TEXT NOT NULL,
        pruned_sequence INTEGER NOT NULL,
        pruned_hash TEXT NOT NULL,
        pruned_seal TEXT NOT NULL
    )
    """,
)
