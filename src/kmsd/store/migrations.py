"""The SQLite schema, as an ordered list of migrations; ``PRAGMA user_version`` records how many were applied.

Migration *n* (1-based) is ``MIGRATIONS[n - 1]``: a tuple of single SQL
statements.  They are plain statements rather than one script because
``sqlite3.Cursor.executescript`` commits the open transaction first, and a
migration must apply inside the same transaction as the version bump so that a
crash half-way leaves the previous version intact.  Migrations are append-only:
a released one is never edited, a change is a new entry.

Datetimes are TEXT in one fixed-width form (``2026-01-01T00:00:00.000000+00:00``,
always UTC with microseconds), so that string comparison in SQL is time order.
Booleans are INTEGER 0/1; tags (of keys, users, roles, policies, sessions) are
a JSON object in a ``tags`` column because they are always read and replaced
together with their owner.

IAM names.  "IAM user, group, role, and policy names must be unique within the
account. Names are not distinguished by case. For example, you cannot create
resources named both "MyResource" and "myresource"." (IAM API Reference,
CreateUser / CreateGroup / CreateRole / CreatePolicy).  Those name columns are
therefore ``COLLATE NOCASE``: the ``UNIQUE (account_id, name)`` constraints
refuse a second spelling, lookups by name find the entity whatever the case,
and lists sort case-insensitively.  NOCASE folds ASCII only, which is all an
IAM name may contain (``[A-Za-z0-9_+=,.@-]``).  Paths, ARNs, inline policy names and
ids compare exactly.

IAM relations.  Memberships, attachments, inline policies and access keys refer
to their owner's id with ``ON DELETE CASCADE``, so deleting a user, group or
role removes what hangs off it (AWS refuses such a deletion with DeleteConflict
while anything is left; that check is the IAM service's, the cascade only
makes sure nothing dangles).  An inline policy or an attachment belongs to
exactly one of a user, a group or a role: one nullable foreign-key column per
kind, with a CHECK that exactly one is set, gives each kind a real foreign key.
Attachments refer to the policy without a cascade: a policy must be detached
before it is deleted.  IAM tables have no foreign key to ``accounts``: AWS
managed policies belong to the pseudo-account ``aws``, which has no row.

KMS grants.  A grant belongs to one key and goes with it: "KMS deletes the KMS
key, its key material, and all KMS data associated with it" (KMS API
Reference, ScheduleKeyDeletion), hence ``ON DELETE CASCADE``.  Its operations
are a JSON array and each encryption-context constraint a JSON object (or
NULL), read and written with the grant.  Two indexes serve the two ways grants
are read: every grant on a key, for the authorizer and ListGrants, and every
grant one principal may retire, for ListRetirableGrants.  Principals are
stored as ARNs, compared exactly.
"""

from __future__ import annotations

from kmsd.store.audit_events_schema import AUDIT_EVENTS_MIGRATION
from kmsd.store.principal_references_schema import PRINCIPAL_REFERENCES_MIGRATION
from kmsd.store.regional_keys_schema import REGIONAL_KEYS_MIGRATION

# A migration is a tuple of statements; a TableRebuild (kmsd.store.table_rebuild) is run with foreign keys off.
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
    # 2: IAM users, groups, roles, managed and inline policies, attachments; STS sessions.
    (
        """
        CREATE TABLE iam_users (
            user_id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            user_name TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL,
            created_at TEXT NOT NULL,
            permissions_boundary_arn TEXT,
            tags TEXT NOT NULL CHECK (json_valid(tags)),
            UNIQUE (account_id, user_name)
        )
        """,
        """
        CREATE TABLE iam_groups (
            group_id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            group_name TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (account_id, group_name)
        )
        """,
        """
        CREATE TABLE iam_group_members (
            group_id TEXT NOT NULL REFERENCES iam_groups (group_id) ON DELETE CASCADE,
            user_id TEXT NOT NULL REFERENCES iam_users (user_id) ON DELETE CASCADE,
            PRIMARY KEY (group_id, user_id)
        )
        """,
        "CREATE INDEX iam_group_members_by_user ON iam_group_members (user_id, group_id)",
        """
        CREATE TABLE iam_roles (
            role_id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            role_name TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL,
            created_at TEXT NOT NULL,
            assume_role_policy TEXT NOT NULL,
            description TEXT NOT NULL,
            max_session_duration INTEGER NOT NULL,
            permissions_boundary_arn TEXT,
            tags TEXT NOT NULL CHECK (json_valid(tags)),
            UNIQUE (account_id, role_name)
        )
        """,
        """
        CREATE TABLE iam_policies (
            arn TEXT PRIMARY KEY,
            policy_id TEXT NOT NULL UNIQUE,
            account_id TEXT NOT NULL,
            policy_name TEXT NOT NULL COLLATE NOCASE,
            path TEXT NOT NULL,
            default_version_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            description TEXT NOT NULL,
            next_version_number INTEGER NOT NULL,
            tags TEXT NOT NULL CHECK (json_valid(tags)),
            UNIQUE (account_id, policy_name)
        )
        """,
        # DeletePolicy "automatically deletes the policy's default version" (IAM API Reference,
        # DeletePolicy): the versions go with the policy; refusing to delete a policy that still
        # has other versions is the IAM service's check.
        """
        CREATE TABLE iam_policy_versions (
            policy_arn TEXT NOT NULL REFERENCES iam_policies (arn) ON DELETE CASCADE,
            version_id TEXT NOT NULL,
            document TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (policy_arn, version_id)
        )
        """,
        """
        CREATE TABLE iam_inline_policies (
            account_id TEXT NOT NULL,
            user_id TEXT REFERENCES iam_users (user_id) ON DELETE CASCADE,
            group_id TEXT REFERENCES iam_groups (group_id) ON DELETE CASCADE,
            role_id TEXT REFERENCES iam_roles (role_id) ON DELETE CASCADE,
            policy_name TEXT NOT NULL,
            document TEXT NOT NULL,
            CHECK ((user_id IS NOT NULL) + (group_id IS NOT NULL) + (role_id IS NOT NULL) = 1),
            UNIQUE (user_id, policy_name),
            UNIQUE (group_id, policy_name),
            UNIQUE (role_id, policy_name)
        )
        """,
        """
        CREATE TABLE iam_policy_attachments (
            account_id TEXT NOT NULL,
            user_id TEXT REFERENCES iam_users (user_id) ON DELETE CASCADE,
            group_id TEXT REFERENCES iam_groups (group_id) ON DELETE CASCADE,
            role_id TEXT REFERENCES iam_roles (role_id) ON DELETE CASCADE,
            policy_arn TEXT NOT NULL REFERENCES iam_policies (arn),
            CHECK ((user_id IS NOT NULL) + (group_id IS NOT NULL) + (role_id IS NOT NULL) = 1),
            UNIQUE (user_id, policy_arn),
            UNIQUE (group_id, policy_arn),
            UNIQUE (role_id, policy_arn)
        )
        """,
        "CREATE INDEX iam_policy_attachments_by_policy ON iam_policy_attachments (policy_arn, account_id)",
        # ALTER TABLE ... ADD COLUMN with REFERENCES needs a NULL default, which is what a root
        # user's key has: user_id stays NULL for every key created before this migration.
        "ALTER TABLE access_keys ADD COLUMN user_id TEXT REFERENCES iam_users (user_id) ON DELETE CASCADE",
        "ALTER TABLE access_keys ADD COLUMN last_used_at TEXT",
        "ALTER TABLE access_keys ADD COLUMN last_used_service TEXT",
        "ALTER TABLE access_keys ADD COLUMN last_used_region TEXT",
        "CREATE INDEX access_keys_by_user ON access_keys (user_id, created_at, access_key_id)",
        # No foreign key to the role or user a session was issued for: a session record lives
        # until it expires, and what a session whose role is gone may do is decided when its
        # permissions are looked up, not by deleting rows here.
        """
        CREATE TABLE sts_sessions (
            access_key_id TEXT PRIMARY KEY,
            wrapped_secret BLOB NOT NULL,
            token_hash BLOB NOT NULL,
            account_id TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('assumed-role', 'session-token')),
            principal_arn TEXT NOT NULL,
            user_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            role_id TEXT,
            session_name TEXT,
            source_user_id TEXT,
            session_policy TEXT,
            session_policy_arns TEXT NOT NULL CHECK (json_valid(session_policy_arns)),
            tags TEXT NOT NULL CHECK (json_valid(tags)),
            transitive_tag_keys TEXT NOT NULL CHECK (json_valid(transitive_tag_keys))
        )
        """,
        "CREATE INDEX sts_sessions_by_expiry ON sts_sessions (expires_at)",
    ),
    # 3: KMS grants.
    (
        """
        CREATE TABLE grants (
            grant_id TEXT PRIMARY KEY,
            key_id TEXT NOT NULL REFERENCES keys (key_id) ON DELETE CASCADE,
            grantee_principal TEXT NOT NULL,
            operations TEXT NOT NULL CHECK (json_valid(operations)),
            issuing_account TEXT NOT NULL,
            created_at TEXT NOT NULL,
            name TEXT,
            retiring_principal TEXT,
            encryption_context_equals TEXT,
            encryption_context_subset TEXT,
            CHECK (encryption_context_equals IS NULL OR json_valid(encryption_context_equals)),
            CHECK (encryption_context_subset IS NULL OR json_valid(encryption_context_subset))
        )
        """,
        "CREATE INDEX grants_by_key ON grants (key_id, created_at, grant_id)",
        # Most grants have no retiring principal; the partial index leaves them out.
        "CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal, created_at, grant_id) "
        "WHERE retiring_principal IS NOT NULL",
    ),
    # 4: the source identity of an STS session (AssumeRole SourceIdentity, kept through role chaining).
    ("ALTER TABLE sts_sessions ADD COLUMN source_identity TEXT",),
    # 5: the index of the IAM ARNs that key policies and trust policies name, kept by triggers, so that
    # deleting a user or role rewrites them to its unique id (see principal_references_schema.py).
    PRINCIPAL_REFERENCES_MIGRATION,
    # 6: imported key material (Origin EXTERNAL): the root-key-wrapped digest of the material first imported,
    # which outlives DeleteImportedKeyMaterial so that only that material is accepted again, and how and when
    # the material imported now expires.  It goes with its key, like the key's material.
    (
        """
        CREATE TABLE imported_materials (
            key_id TEXT PRIMARY KEY REFERENCES keys (key_id) ON DELETE CASCADE,
            wrapped_digest BLOB NOT NULL,
            expiration_model TEXT,
            valid_to TEXT
        )
        """,
        "CREATE INDEX imported_materials_by_valid_to ON imported_materials (valid_to) WHERE valid_to IS NOT NULL",
    ),
    # 7: the last successful cryptographic use of each key (GetKeyLastUsage), written at most once a minute per
    # key.  Keys that exist when tracking begins get a row saying when it began (their TrackingStartDate); a
    # key created later has none until its first use, and its tracking starts at its creation.
    (
        """
        CREATE TABLE key_last_usage (
            key_id TEXT PRIMARY KEY REFERENCES keys (key_id) ON DELETE CASCADE,
            tracking_started_at TEXT,
            operation TEXT,
            used_at TEXT,
            request_id TEXT
        )
        """,
        "INSERT INTO key_last_usage (key_id, tracking_started_at) "
        "SELECT key_id, strftime('%Y-%m-%dT%H:%M:%f', 'now') || '000+00:00' FROM keys",
    ),
    # 8: imported key material, one row per material (ImportType NEW_KEY_MATERIAL and RotateKeyOnDemand give an
    # EXTERNAL key several), replacing migration 6's one row per key.  A row belongs to a key by (key_id, region)
    # and has no foreign key to keys, whose primary key is about to become (key_id, region): kmsd.kms.expiry
    # deletes a purged key's rows itself.  The rows of migration 6 become the key's version 1, imported while
    # that version's material is stored.
    (
        """
        CREATE TABLE imported_key_materials (
            key_id TEXT NOT NULL,
            region TEXT NOT NULL,
            version INTEGER NOT NULL,
            wrapped_digest BLOB NOT NULL,
            imported INTEGER NOT NULL CHECK (imported IN (0, 1)),
            expiration_model TEXT,
            valid_to TEXT,
            description TEXT,
            rotation_type TEXT,
            rotated_at TEXT,
            PRIMARY KEY (key_id, region, version)
        )
        """,
        "INSERT INTO imported_key_materials (key_id, region, version, wrapped_digest, imported, expiration_model, "
        "valid_to) SELECT imported_materials.key_id, keys.region, 1, imported_materials.wrapped_digest, "
        "EXISTS (SELECT 1 FROM key_materials WHERE key_materials.key_id = imported_materials.key_id "
        "AND key_materials.version = 1), imported_materials.expiration_model, imported_materials.valid_to "
        "FROM imported_materials JOIN keys ON keys.key_id = imported_materials.key_id",
        "DROP TABLE imported_materials",
        "CREATE INDEX imported_key_materials_by_valid_to ON imported_key_materials (valid_to) "
        "WHERE valid_to IS NOT NULL",
    ),
    # 9: who manages a key (KeyMetadata KeyManager): CUSTOMER, or AWS for the AWS managed keys kmsd creates on
    # the first use of a predefined alias/aws/ alias.  Every key that exists already is a customer's.
    (
        "ALTER TABLE keys ADD COLUMN key_manager TEXT NOT NULL DEFAULT 'CUSTOMER' "
        "CHECK (key_manager IN ('CUSTOMER', 'AWS'))",
    ),
    # 10: custom key stores backed by PKCS#11 tokens (Origin AWS_CLOUDHSM), and which token object holds which
    # key.  A token backs one key store in the whole service (kmsd's stricter CloudHsmClusterInUseException).
    # token_keys names its key by (key_id, region) with no foreign key to keys: the purge deletes its row
    # (kms/expiry.py).  A key store with keys cannot be deleted (CustomKeyStoreHasCMKsException), which the
    # foreign key to custom_key_stores also holds.
    (
        """
        CREATE TABLE custom_key_stores (
            custom_key_store_id TEXT PRIMARY KEY,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            custom_key_store_name TEXT NOT NULL,
            custom_key_store_type TEXT NOT NULL,
            cloud_hsm_cluster_id TEXT NOT NULL UNIQUE,
            trust_anchor_certificate TEXT NOT NULL,
            wrapped_key_store_password BLOB NOT NULL,
            connection_state TEXT NOT NULL,
            creation_date TEXT NOT NULL,
            connection_error_code TEXT,
            UNIQUE (account_id, region, custom_key_store_name)
        )
        """,
        """
        CREATE TABLE token_keys (
            key_id TEXT NOT NULL,
            region TEXT NOT NULL,
            custom_key_store_id TEXT NOT NULL REFERENCES custom_key_stores (custom_key_store_id),
            object_label TEXT NOT NULL,
            material_id TEXT NOT NULL,
            state_when_available TEXT,
            PRIMARY KEY (key_id, region)
        )
        """,
        "CREATE INDEX token_keys_by_store ON token_keys (custom_key_store_id, key_id)",
    ),
    # 11: a key is identified by (key_id, region), so that the replicas of a multi-Region key can share its id; the
    # tables that refer to keys follow (a table rebuild, see regional_keys_schema.py).
    REGIONAL_KEYS_MIGRATION,
    # 12: external key stores (EXTERNAL_KEY_STORE) on PKCS#11 tokens: the proxy settings AWS shows in
    # XksProxyConfiguration.  The token label stays in cloud_hsm_cluster_id (one token, one key store, whatever
    # the type), the proxy credential's secret in wrapped_key_store_password; the XksKeyId of a key is its
    # token_keys.object_label.
    (
        "ALTER TABLE custom_key_stores ADD COLUMN xks_proxy_uri_endpoint TEXT",
        "ALTER TABLE custom_key_stores ADD COLUMN xks_proxy_uri_path TEXT",
        "ALTER TABLE custom_key_stores ADD COLUMN xks_proxy_connectivity TEXT",
        "ALTER TABLE custom_key_stores ADD COLUMN xks_proxy_vpc_endpoint_service_name TEXT",
        "ALTER TABLE custom_key_stores ADD COLUMN xks_proxy_vpc_endpoint_service_owner TEXT",
        "ALTER TABLE custom_key_stores ADD COLUMN xks_proxy_access_key_id TEXT",
    ),
    # 13: the audit trail (audit_events_schema.py).
    AUDIT_EVENTS_MIGRATION,
    # 14: events are no longer found by their hash through an index: a random 64-digit key made every append
    # touch a random page of it, a sixth of what storing an event cost, for a message of kmsd audit verify's
    # alone, which now looks near the event (kmsd.audit.chain._broken_link).
    ("DROP INDEX audit_events_by_hash",),
)

LATEST_VERSION = len(MIGRATIONS)
