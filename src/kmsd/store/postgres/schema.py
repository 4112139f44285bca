"""The PostgreSQL form of every migration in :data:`kmsd.store.migrations.MIGRATIONS`: one history, two dialects.

Migration *n* means the same schema change on both stores, and a store of either kind at version *n* has the same
tables, columns, constraints and triggers (``tests/store`` compares them).  Most SQLite statements carry over with
a handful of mechanical rewrites (:func:`translate`); the ones that use what only SQLite has (``json_tree``,
``strftime``, SQLite's table rebuild, triggers) have their PostgreSQL statements written out here, by number.

The rewrites and why:

- ``TEXT`` is ``TEXT COLLATE "C"``: lists are ordered and paged by comparing ids and names, and SQLite compares
  bytes; a database created with a language collation (``en_US.UTF-8`` ignores punctuation) would order
  ``alias/a-b`` and ``alias/ab`` differently and break paging markers.
- IAM names (``COLLATE NOCASE`` in SQLite) are ``CITEXT COLLATE "C"``: equal and unique regardless of ASCII case,
  sorted case-insensitively, exactly NOCASE's rule (``citext`` folds with ``lower()``, which under ``"C"``
  folds ASCII only, all an IAM name may contain).  ``citext`` is a trusted extension: a database owner may
  create it.
- ``BLOB`` is ``BYTEA``; ``INTEGER`` is ``BIGINT`` (SQLite integers are 64-bit).
- ``json_valid(x)`` is ``kmsd_json_valid(x)``, a function made by migration 1 (PostgreSQL 15 has no JSON test).
- ``(a IS NOT NULL) + (b IS NOT NULL) = 1`` (SQLite adds booleans) is ``num_nonnulls(a, b) = 1``.
- an index on ``x COLLATE NOCASE`` is an index on ``lower(x)``, which
  :attr:`kmsd.store.postgres.connections.PostgresConnections.NOCASE_EQUALS` compares.

Like the SQLite statements, these are never edited once released; a change is a new migration in both forms.
"""

from __future__ import annotations

import re

from kmsd.store.migrations import MIGRATIONS
from kmsd.store.principal_references_schema import UNREADABLE

_NOCASE_COLUMN = re.compile(r"\bTEXT NOT NULL COLLATE NOCASE\b")
_TEXT = re.compile(r"\bTEXT\b")
_NOCASE_INDEX = re.compile(r"\((\w+) COLLATE NOCASE\)")
_JSON_VALID = re.compile(r"\bjson_valid\(")
_EXACTLY_ONE = re.compile(r"\(((?:\(\w+ IS NOT NULL\)(?: \+ )?)+) = 1\)")


def translate(statement: str) -> str:
    """The PostgreSQL statement for a SQLite schema statement that uses nothing SQLite-only but spellings."""
    text = _NOCASE_COLUMN.sub('CITEXT COLLATE "C" NOT NULL', statement)
    text = _TEXT.sub('TEXT COLLATE "C"', text)
    text = _NOCASE_INDEX.sub(r"(lower(\1))", text)
    text = text.replace("BLOB", "BYTEA").replace("INTEGER", "BIGINT")
    text = _JSON_VALID.sub("kmsd_json_valid(", text)
    return _EXACTLY_ONE.sub(lambda match: f"(num_nonnulls({_columns(match.group(1))}) = 1)", text)


def _columns(terms: str) -> str:
    return ", ".join(re.findall(r"\((\w+) IS NOT NULL\)", terms))


# --- migration 1: what PostgreSQL lacks, before the initial schema ---------------------------------------------

_FUNCTIONS = (
    "CREATE EXTENSION IF NOT EXISTS citext",
    """
    CREATE FUNCTION kmsd_json_valid(document TEXT) RETURNS BOOLEAN LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
        PERFORM document::json;
        RETURN TRUE;
    EXCEPTION WHEN others THEN
        RETURN FALSE;
    END
    $$
    """,
)

# --- migration 5: the principal-reference index (principal_references_schema.py), kept by triggers ------------

# Every string of the document that looks like an IAM user or role ARN, lower-cased, at any depth; the ``json``
# type (not ``jsonb``) keeps duplicate members, as SQLite's json_tree visits them.  A document PostgreSQL cannot
# read (or a string it cannot turn into text, such as one holding \u0000) adds the unreadable marker, which
# every deletion examines, so a parser difference can never hide a principal.
_PRINCIPAL_STRINGS = f"""
    CREATE FUNCTION kmsd_principal_strings(document TEXT) RETURNS SETOF TEXT LANGUAGE plpgsql IMMUTABLE AS $$
    BEGIN
        RETURN QUERY
        WITH RECURSIVE node (value) AS (
            SELECT document::json
            UNION ALL
            SELECT child.value FROM node, LATERAL (
                SELECT value FROM json_each(CASE WHEN json_typeof(node.value) = 'object' THEN node.value END)
                UNION ALL
                SELECT value FROM json_array_elements(CASE WHEN json_typeof(node.value) = 'array' THEN node.value END)
            ) AS child
        ), strings (text) AS (
            SELECT lower(value #>> '{{}}') FROM node WHERE json_typeof(value) = 'string'
        )
        SELECT DISTINCT text COLLATE "C" FROM strings
        WHERE text LIKE 'arn:%:iam::%:user/%' OR text LIKE 'arn:%:iam::%:role/%';
    EXCEPTION WHEN others THEN
        RETURN NEXT '{UNREADABLE}';
    END
    $$
"""


def _index_function(name: str, column: str, owner_columns: tuple[str, ...]) -> str:
    """The trigger function that indexes ``NEW.column`` for the row whose identity is ``owner_columns``."""
    matches = " AND ".join(f"{owner} = NEW.{owner}" for owner in owner_columns)
    values = ", ".join(f"NEW.{owner}" for owner in owner_columns)
    return f"""
        CREATE OR REPLACE FUNCTION {name}() RETURNS TRIGGER LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM principal_references WHERE {matches};
            INSERT INTO principal_references (principal, {", ".join(owner_columns)})
            SELECT principal, {values} FROM kmsd_principal_strings(NEW.{column}) AS principal;
            RETURN NULL;
        END
        $$
    """


def _index_triggers(table: str, column: str, function: str) -> tuple[str, str]:
    return (
        f"CREATE TRIGGER {table}_principal_references_insert AFTER INSERT ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_principal_references_update AFTER UPDATE OF {column} ON {table} "
        f"FOR EACH ROW WHEN (OLD.{column} IS DISTINCT FROM NEW.{column}) EXECUTE FUNCTION {function}()",
    )


_PRINCIPAL_REFERENCES = (
    """
    CREATE TABLE principal_references (
        principal TEXT COLLATE "C" NOT NULL,
        key_id TEXT COLLATE "C" REFERENCES keys (key_id) ON DELETE CASCADE,
        role_id TEXT COLLATE "C" REFERENCES iam_roles (role_id) ON DELETE CASCADE,
        CHECK (num_nonnulls(key_id, role_id) = 1)
    )
    """,
    "CREATE INDEX principal_references_by_principal ON principal_references (principal)",
    "CREATE INDEX principal_references_by_key ON principal_references (key_id) WHERE key_id IS NOT NULL",
    "CREATE INDEX principal_references_by_role ON principal_references (role_id) WHERE role_id IS NOT NULL",
    _PRINCIPAL_STRINGS,
    _index_function("kmsd_index_key_policy", "policy", ("key_id",)),
    _index_function("kmsd_index_trust_policy", "assume_role_policy", ("role_id",)),
    *_index_triggers("keys", "policy", "kmsd_index_key_policy"),
    *_index_triggers("iam_roles", "assume_role_policy", "kmsd_index_trust_policy"),
    "CREATE INDEX grants_by_grantee_nocase ON grants (lower(grantee_principal))",
    "CREATE INDEX grants_by_retiring_nocase ON grants (lower(retiring_principal)) WHERE retiring_principal IS NOT NULL",
    "INSERT INTO principal_references (principal, key_id) "
    "SELECT principal, keys.key_id FROM keys, kmsd_principal_strings(keys.policy) AS principal",
    "INSERT INTO principal_references (principal, role_id) "
    "SELECT principal, iam_roles.role_id FROM iam_roles, kmsd_principal_strings(iam_roles.assume_role_policy) "
    "AS principal",
)

# --- migration 7: the last use of keys; the rows of existing keys say when tracking began -----------------------

_NOW = "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00'"

_KEY_LAST_USAGE = (
    translate(MIGRATIONS[6][0]),
    f"INSERT INTO key_last_usage (key_id, tracking_started_at) SELECT key_id, {_NOW} FROM keys",
)

# --- migration 8: one row per imported material ----------------------------------------------------------------

_IMPORTED_KEY_MATERIALS = (
    translate(MIGRATIONS[7][0]),
    "INSERT INTO imported_key_materials (key_id, region, version, wrapped_digest, imported, expiration_model, "
    "valid_to) SELECT imported_materials.key_id, keys.region, 1, imported_materials.wrapped_digest, "
    "CASE WHEN EXISTS (SELECT 1 FROM key_materials WHERE key_materials.key_id = imported_materials.key_id "
    "AND key_materials.version = 1) THEN 1 ELSE 0 END, imported_materials.expiration_model, "
    "imported_materials.valid_to FROM imported_materials JOIN keys ON keys.key_id = imported_materials.key_id",
    *(translate(statement) for statement in MIGRATIONS[7][2:]),
)

# --- migration 11: a key is (key_id, region); PostgreSQL alters in place what SQLite rebuilds --------------------


def _region_of_key(table: str) -> tuple[str, ...]:
    """Give ``table`` (which names a key by ``key_id``) the key's Region, filled from the key."""
    return (
        f'ALTER TABLE {table} ADD COLUMN region TEXT COLLATE "C"',
        f"UPDATE {table} SET region = keys.region FROM keys WHERE keys.key_id = {table}.key_id",
    )


_REGIONAL_KEYS = (
    'ALTER TABLE keys ADD COLUMN primary_region TEXT COLLATE "C"',
    # Every multi-Region key stored so far is a primary key: kmsd had no ReplicateKey.
    "UPDATE keys SET primary_region = region WHERE multi_region = 1",
    # PostgreSQL names an unnamed foreign key <table>_<column>_fkey and a primary key <table>_pkey.
    "ALTER TABLE key_materials DROP CONSTRAINT key_materials_key_id_fkey",
    "ALTER TABLE aliases DROP CONSTRAINT aliases_target_key_id_fkey",
    "ALTER TABLE grants DROP CONSTRAINT grants_key_id_fkey",
    "ALTER TABLE key_last_usage DROP CONSTRAINT key_last_usage_key_id_fkey",
    "ALTER TABLE principal_references DROP CONSTRAINT principal_references_key_id_fkey",
    "ALTER TABLE keys DROP CONSTRAINT keys_pkey",
    "ALTER TABLE keys ADD PRIMARY KEY (key_id, region)",
    "ALTER TABLE aliases ADD FOREIGN KEY (target_key_id, region) REFERENCES keys (key_id, region) ON DELETE CASCADE",
    *_region_of_key("grants"),
    "ALTER TABLE grants ALTER COLUMN region SET NOT NULL",
    "ALTER TABLE grants ADD FOREIGN KEY (key_id, region) REFERENCES keys (key_id, region) ON DELETE CASCADE",
    *_region_of_key("key_last_usage"),
    "ALTER TABLE key_last_usage ALTER COLUMN region SET NOT NULL",
    "ALTER TABLE key_last_usage DROP CONSTRAINT key_last_usage_pkey",
    "ALTER TABLE key_last_usage ADD PRIMARY KEY (key_id, region)",
    "ALTER TABLE key_last_usage ADD FOREIGN KEY (key_id, region) REFERENCES keys (key_id, region) ON DELETE CASCADE",
    *_region_of_key("principal_references"),
    "ALTER TABLE principal_references ADD CHECK ((key_id IS NULL) = (region IS NULL))",
    "ALTER TABLE principal_references ADD FOREIGN KEY (key_id, region) REFERENCES keys (key_id, region) "
    "ON DELETE CASCADE",
    "DROP INDEX aliases_by_target",
    "CREATE INDEX aliases_by_target ON aliases (target_key_id, region, alias_name)",
    "DROP INDEX grants_by_key",
    "CREATE INDEX grants_by_key ON grants (key_id, region, created_at, grant_id)",
    "DROP INDEX principal_references_by_key",
    "CREATE INDEX principal_references_by_key ON principal_references (key_id, region) WHERE key_id IS NOT NULL",
    # The foreign key key_materials can no longer declare: material is added to a key that exists.
    """
    CREATE FUNCTION kmsd_key_material_needs_a_key() RETURNS TRIGGER LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM keys WHERE key_id = NEW.key_id) THEN
            RAISE EXCEPTION 'key material refers to a key that does not exist' USING ERRCODE = 'foreign_key_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    "CREATE TRIGGER key_materials_need_a_key BEFORE INSERT ON key_materials "
    "FOR EACH ROW EXECUTE FUNCTION kmsd_key_material_needs_a_key()",
    _index_function("kmsd_index_key_policy", "policy", ("key_id", "region")),
)

_WRITTEN_OUT: dict[int, tuple[str, ...]] = {
    1: (*_FUNCTIONS, *(translate(statement) for statement in MIGRATIONS[0])),
    5: _PRINCIPAL_REFERENCES,
    7: _KEY_LAST_USAGE,
    8: _IMPORTED_KEY_MATERIALS,
    11: _REGIONAL_KEYS,
}


def postgres_migration(version: int) -> tuple[str, ...]:
    """The PostgreSQL statements of migration ``version`` (1-based)."""
    written = _WRITTEN_OUT.get(version)
    if written is not None:
        return written
    return tuple(translate(statement) for statement in MIGRATIONS[version - 1])


POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = tuple(
    postgres_migration(version) for version in range(1, len(MIGRATIONS) + 1)
)
