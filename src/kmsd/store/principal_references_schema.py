"""The schema migration of the principal-reference index: which key policies and trust policies name which IAM ARN.

When an IAM user or role is deleted, every key policy and role trust policy
that names it must show its unique id instead (:mod:`kmsd.store.principal_rewrite`),
in the same transaction, however many accounts' documents name it.  Finding
those documents by searching their text would miss escaped spellings
(``user\\/tmpuser``) and cost a scan of every key; the
``principal_references`` table is the index instead: one row per (lower-cased
IAM user or role ARN, key or role whose document contains it).

The database keeps the index itself, with triggers on ``keys.policy`` and
``iam_roles.assume_role_policy``, so no write path (CreateKey, PutKeyPolicy,
CreateRole, UpdateAssumeRolePolicy, or one added later) can forget it.  The
triggers parse the document with SQLite's JSON parser (``json_tree`` decodes
escapes and visits duplicate members) and index every string of the document
that looks like a user or role ARN, wherever it appears: a superset of the
principals, which is safe because the rewrite itself only touches principals.
A document SQLite cannot parse is indexed under ``?`` and examined at every
deletion, so a difference between SQLite's and Python's JSON parsers can
never hide a principal.  Rows go with their key or role (``ON DELETE
CASCADE``).  The last two statements build the index for documents stored
before this migration.

This tuple is one entry of :data:`kmsd.store.migrations.MIGRATIONS` and, like
the others, is never edited once released.
"""

from __future__ import annotations

UNREADABLE = "?"


def insert_references(owner: str, doc: str, owner_id: str, source: str = "") -> str:
    """INSERT the references of the document ``doc`` (an SQL expression) for the row ``owner`` = ``owner_id``.

    ``source`` is the table the document comes from when the statement indexes a whole table.
    """
    readable = f"CASE WHEN json_valid({doc}) THEN {doc} ELSE '[]' END"
    value = "lower(j.value)"
    return f"""
        INSERT INTO principal_references (principal, {owner})
        SELECT DISTINCT {value}, {owner_id} FROM {source}json_tree({readable}) AS j
        WHERE j.type = 'text' AND ({value} GLOB 'arn:*:iam::*:user/*' OR {value} GLOB 'arn:*:iam::*:role/*')
        UNION SELECT '{UNREADABLE}', {owner_id} FROM {source.rstrip(", ") or "(SELECT 1)"} WHERE NOT json_valid({doc})
    """


def _triggers(table: str, column: str, owner: str) -> tuple[str, str]:
    index = insert_references(owner, f"NEW.{column}", f"NEW.{owner}")
    insert = f"""
        CREATE TRIGGER {table}_principal_references_insert AFTER INSERT ON {table}
        BEGIN
            {index};
        END
    """
    update = f"""
        CREATE TRIGGER {table}_principal_references_update AFTER UPDATE OF {column} ON {table}
        WHEN OLD.{column} IS NOT NEW.{column}
        BEGIN
            DELETE FROM principal_references WHERE {owner} = NEW.{owner};
            {index};
        END
    """
    return insert, update


def _backfill(table: str, column: str, owner: str) -> str:
    return insert_references(owner, f"t.{column}", f"t.{owner}", f"{table} AS t, ")


PRINCIPAL_REFERENCES_MIGRATION: tuple[str, ...] = (
    """
    CREATE TABLE principal_references (
        principal TEXT NOT NULL,
        key_id TEXT REFERENCES keys (key_id) ON DELETE CASCADE,
        role_id TEXT REFERENCES iam_roles (role_id) ON DELETE CASCADE,
        CHECK ((key_id IS NOT NULL) + (role_id IS NOT NULL) = 1)
    )
    """,
    "CREATE INDEX principal_references_by_principal ON principal_references (principal)",
    "CREATE INDEX principal_references_by_key ON principal_references (key_id) WHERE key_id IS NOT NULL",
    "CREATE INDEX principal_references_by_role ON principal_references (role_id) WHERE role_id IS NOT NULL",
    *_triggers("keys", "policy", "key_id"),
    *_triggers("iam_roles", "assume_role_policy", "role_id"),
    # Grants name their principals in columns; these find a deleted principal's grants in any spelling.
    "CREATE INDEX grants_by_grantee_nocase ON grants (grantee_principal COLLATE NOCASE)",
    "CREATE INDEX grants_by_retiring_nocase ON grants (retiring_principal COLLATE NOCASE) "
    "WHERE retiring_principal IS NOT NULL",
    _backfill("keys", "policy", "key_id"),
    _backfill("iam_roles", "assume_role_policy", "role_id"),
)
