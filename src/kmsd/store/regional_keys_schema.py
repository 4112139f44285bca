"""The schema migration that identifies a KMS key by its id *and* its Region, so multi-Region keys can have replicas.

A replica of a multi-Region key is "a KMS key with the same key ID and key
material as its primary key" in another Region ("Multi-Region keys in AWS
KMS", KMS Developer Guide); each is a resource of its own with its own key
policy, state, aliases, grants and tags.  So ``keys`` gets the primary key
``(key_id, region)`` and, for a multi-Region key, the Region of its set's
primary key (``primary_region``), and every table that referred to
``keys (key_id)`` follows:

- ``aliases``, ``grants``, ``key_last_usage`` and ``principal_references``
  belong to one key in one Region: they carry its Region (an alias already
  did) and refer to ``keys (key_id, region)`` with ``ON DELETE CASCADE``, as
  before (``imported_key_materials``, migration 8, already carries the Region
  and refers to nothing; :mod:`kmsd.kms.expiry` deletes its rows);
- ``key_materials`` stays keyed by key id alone and refers to nothing: the
  keys of a multi-Region set share one wrapped copy of every material
  version (rotation is driven by the primary), so the store deletes a key
  id's material when it deletes the last key with that id
  (:meth:`kmsd.store.sql.kms_keys.KmsKeyQueries.delete_key`).

Every row existing before the migration belongs to the one key with its id,
whose Region the copy takes.  The migration is a
:class:`~kmsd.store.table_rebuild.TableRebuild` (SQLite's twelve-step
procedure): the new tables are created under ``*_new`` names, filled, the old
ones dropped with foreign keys off, the new ones renamed, and the indexes and
triggers created again.  Like every entry of
:data:`kmsd.store.migrations.MIGRATIONS`, it is never edited once released.
"""

from __future__ import annotations

from kmsd.store.principal_references_schema import insert_references
from kmsd.store.table_rebuild import TableRebuild

# The tables rebuilt, in the order their old copies are dropped (those that refer to keys first).
_REBUILT = (
    "principal_references",
    "key_last_usage",
    "grants",
    "aliases",
    "key_materials",
    "keys",
)


def _key_policy_triggers() -> tuple[str, str]:
    """The principal_references triggers on ``keys.policy``, now that a key is (key_id, region)."""
    owner, owner_id = "key_id, region", "NEW.key_id, NEW.region"
    index = insert_references(owner, "NEW.policy", owner_id)
    insert = f"""
        CREATE TRIGGER keys_principal_references_insert AFTER INSERT ON keys
        BEGIN
            {index};
        END
    """
    update = f"""
        CREATE TRIGGER keys_principal_references_update AFTER UPDATE OF policy ON keys
        WHEN OLD.policy IS NOT NEW.policy
        BEGIN
            DELETE FROM principal_references WHERE key_id = NEW.key_id AND region = NEW.region;
            {index};
        END
    """
    return insert, update


def _role_trust_policy_triggers() -> tuple[str, str]:
    """The principal_references triggers on ``iam_roles.assume_role_policy``, unchanged but created again:
    they write to ``principal_references``, which is dropped and renamed under them."""
    index = insert_references("role_id", "NEW.assume_role_policy", "NEW.role_id")
    insert = f"""
        CREATE TRIGGER iam_roles_principal_references_insert AFTER INSERT ON iam_roles
        BEGIN
            {index};
        END
    """
    update = f"""
        CREATE TRIGGER iam_roles_principal_references_update AFTER UPDATE OF assume_role_policy ON iam_roles
        WHEN OLD.assume_role_policy IS NOT NEW.assume_role_policy
        BEGIN
            DELETE FROM principal_references WHERE role_id = NEW.role_id;
            {index};
        END
    """
    return insert, update


REGIONAL_KEYS_MIGRATION = TableRebuild(
    (
        # The triggers go first: they name tables that are about to be dropped.
        "DROP TRIGGER keys_principal_references_insert",
        "DROP TRIGGER keys_principal_references_update",
        "DROP TRIGGER iam_roles_principal_references_insert",
        "DROP TRIGGER iam_roles_principal_references_update",
        """
        CREATE TABLE keys_new (
            key_id TEXT NOT NULL,
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
            tags TEXT NOT NULL CHECK (json_valid(tags)),
            key_manager TEXT NOT NULL DEFAULT 'CUSTOMER' CHECK (key_manager IN ('CUSTOMER', 'AWS')),
            primary_region TEXT,
            PRIMARY KEY (key_id, region)
        )
        """,
        # Every multi-Region key stored so far is a primary key: kmsd had no ReplicateKey.
        "INSERT INTO keys_new SELECT key_id, account_id, region, description, key_usage, key_spec, origin, key_state, "
        "creation_date, policy, current_material_version, deletion_date, pending_deletion_window_days, "
        "rotation_enabled, rotation_period_days, next_rotation_date, multi_region, tags, key_manager, "
        "CASE WHEN multi_region = 1 THEN region END FROM keys",
        # Shared by every key of a multi-Region set: no foreign key (see the module docstring).
        """
        CREATE TABLE key_materials_new (
            key_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            material_id TEXT NOT NULL,
            wrapped_material BLOB NOT NULL,
            created_at TEXT NOT NULL,
            rotation_type TEXT,
            PRIMARY KEY (key_id, version)
        )
        """,
        "INSERT INTO key_materials_new SELECT key_id, version, material_id, wrapped_material, created_at, "
        "rotation_type FROM key_materials",
        # An alias and its key are in one Region ("The alias must be unique in the account and Region").
        """
        CREATE TABLE aliases_new (
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            alias_name TEXT NOT NULL,
            target_key_id TEXT NOT NULL,
            creation_date TEXT NOT NULL,
            last_updated_date TEXT NOT NULL,
            PRIMARY KEY (account_id, region, alias_name),
            FOREIGN KEY (target_key_id, region) REFERENCES keys (key_id, region) ON DELETE CASCADE
        )
        """,
        "INSERT INTO aliases_new SELECT account_id, region, alias_name, target_key_id, creation_date, "
        "last_updated_date FROM aliases",
        """
        CREATE TABLE grants_new (
            grant_id TEXT PRIMARY KEY,
            key_id TEXT NOT NULL,
            region TEXT NOT NULL,
            grantee_principal TEXT NOT NULL,
            operations TEXT NOT NULL CHECK (json_valid(operations)),
            issuing_account TEXT NOT NULL,
            created_at TEXT NOT NULL,
            name TEXT,
            retiring_principal TEXT,
            encryption_context_equals TEXT,
            encryption_context_subset TEXT,
            CHECK (encryption_context_equals IS NULL OR json_valid(encryption_context_equals)),
            CHECK (encryption_context_subset IS NULL OR json_valid(encryption_context_subset)),
            FOREIGN KEY (key_id, region) REFERENCES keys (key_id, region) ON DELETE CASCADE
        )
        """,
        "INSERT INTO grants_new SELECT g.grant_id, g.key_id, k.region, g.grantee_principal, g.operations, "
        "g.issuing_account, g.created_at, g.name, g.retiring_principal, g.encryption_context_equals, "
        "g.encryption_context_subset FROM grants AS g JOIN keys AS k ON k.key_id = g.key_id",
        """
        CREATE TABLE key_last_usage_new (
            key_id TEXT NOT NULL,
            region TEXT NOT NULL,
            tracking_started_at TEXT,
            operation TEXT,
            used_at TEXT,
            request_id TEXT,
            PRIMARY KEY (key_id, region),
            FOREIGN KEY (key_id, region) REFERENCES keys (key_id, region) ON DELETE CASCADE
        )
        """,
        "INSERT INTO key_last_usage_new SELECT u.key_id, k.region, u.tracking_started_at, u.operation, u.used_at, "
        "u.request_id FROM key_last_usage AS u JOIN keys AS k ON k.key_id = u.key_id",
        """
        CREATE TABLE principal_references_new (
            principal TEXT NOT NULL,
            key_id TEXT,
            region TEXT,
            role_id TEXT REFERENCES iam_roles (role_id) ON DELETE CASCADE,
            CHECK ((key_id IS NOT NULL) + (role_id IS NOT NULL) = 1),
            CHECK ((key_id IS NULL) = (region IS NULL)),
            FOREIGN KEY (key_id, region) REFERENCES keys (key_id, region) ON DELETE CASCADE
        )
        """,
        "INSERT INTO principal_references_new SELECT p.principal, p.key_id, k.region, p.role_id "
        "FROM principal_references AS p LEFT JOIN keys AS k ON k.key_id = p.key_id",
        *(f"DROP TABLE {table}" for table in _REBUILT),
        *(f"ALTER TABLE {table}_new RENAME TO {table}" for table in reversed(_REBUILT)),
        # The indexes of migrations 1, 3, 5 and 7 (dropped with their tables), with the Region where a key is named.
        "CREATE INDEX keys_by_account_region ON keys (account_id, region, key_id)",
        "CREATE INDEX keys_pending_deletion ON keys (deletion_date) WHERE key_state = 'PendingDeletion'",
        "CREATE INDEX keys_rotation_due ON keys (next_rotation_date) WHERE rotation_enabled = 1",
        "CREATE INDEX aliases_by_target ON aliases (target_key_id, region, alias_name)",
        "CREATE INDEX grants_by_key ON grants (key_id, region, created_at, grant_id)",
        "CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal, created_at, grant_id) "
        "WHERE retiring_principal IS NOT NULL",
        "CREATE INDEX grants_by_grantee_nocase ON grants (grantee_principal COLLATE NOCASE)",
        "CREATE INDEX grants_by_retiring_nocase ON grants (retiring_principal COLLATE NOCASE) "
        "WHERE retiring_principal IS NOT NULL",
        "CREATE INDEX principal_references_by_principal ON principal_references (principal)",
        "CREATE INDEX principal_references_by_key ON principal_references (key_id, region) WHERE key_id IS NOT NULL",
        "CREATE INDEX principal_references_by_role ON principal_references (role_id) WHERE role_id IS NOT NULL",
        # The foreign key key_materials can no longer declare: material is added to a key that exists.
        """
        CREATE TRIGGER key_materials_need_a_key BEFORE INSERT ON key_materials
        WHEN NOT EXISTS (SELECT 1 FROM keys WHERE key_id = NEW.key_id)
        BEGIN
            SELECT RAISE(ABORT, 'key material refers to a key that does not exist');
        END
        """,
        *_key_policy_triggers(),
        *_role_trust_policy_triggers(),
    )
)
