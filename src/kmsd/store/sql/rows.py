"""The column table of every record the SQLite store keeps: one :class:`RowCodec` per record, declared once.

Each codec names the record's table and how its fields are stored where that is not
as they are (see :mod:`kmsd.store.sql.codec`); the column names and their order are
the dataclass's, which are also the schema's (``migrations.py``), so the statements the
codecs build are the ones the store always issued.  The query modules take their column
lists, statements and conversions from here and index no row by hand.
"""

from __future__ import annotations

from typing import Any

from kmsd.store.base import StoreError
from kmsd.store.models import (
    AccessKeyRecord,
    Account,
    AliasRecord,
    CustomKeyStoreRecord,
    GrantRecord,
    IamGroup,
    IamRole,
    IamUser,
    ImportedMaterialRecord,
    InlinePolicy,
    KeyLastUsageRecord,
    KeyMaterialRecord,
    KeyRecord,
    ManagedPolicy,
    OwnerKind,
    PolicyAttachment,
    PolicyVersion,
    SessionRecord,
    TokenKeyRecord,
)
from kmsd.store.sql.codec import BLOB, BOOL, JSON_OBJECT, JSON_TUPLE, TIME, RowCodec

ACCOUNTS = RowCodec(Account, "accounts", {"created_at": TIME})
ACCESS_KEYS = RowCodec(
    AccessKeyRecord,
    "access_keys",
    {"wrapped_secret": BLOB, "created_at": TIME, "last_used_at": TIME.or_none()},
)
KEYS = RowCodec(
    KeyRecord,
    "keys",
    {
        "creation_date": TIME,
        "deletion_date": TIME.or_none(),
        "rotation_enabled": BOOL,
        "next_rotation_date": TIME.or_none(),
        "multi_region": BOOL,
        "tags": JSON_OBJECT,
    },
    # The replicas of a multi-Region key share its id: a key is its id in its Region (migration 11).
    identity=("key_id", "region"),
)
KEY_MATERIALS = RowCodec(KeyMaterialRecord, "key_materials", {"wrapped_material": BLOB, "created_at": TIME})
IMPORTED_MATERIALS = RowCodec(
    ImportedMaterialRecord,
    "imported_key_materials",
    {"wrapped_digest": BLOB, "imported": BOOL, "valid_to": TIME.or_none(), "rotated_at": TIME.or_none()},
)
KEY_LAST_USAGE = RowCodec(
    KeyLastUsageRecord, "key_last_usage", {"tracking_started_at": TIME.or_none(), "used_at": TIME.or_none()}
)
CUSTOM_KEY_STORES = RowCodec(
    CustomKeyStoreRecord, "custom_key_stores", {"wrapped_key_store_password": BLOB, "creation_date": TIME}
)
TOKEN_KEYS = RowCodec(TokenKeyRecord, "token_keys")
ALIASES = RowCodec(AliasRecord, "aliases", {"creation_date": TIME, "last_updated_date": TIME})
GRANTS = RowCodec(
    GrantRecord,
    "grants",
    {
        "operations": JSON_TUPLE,
        "created_at": TIME,
        "encryption_context_equals": JSON_OBJECT.or_none(),
        "encryption_context_subset": JSON_OBJECT.or_none(),
    },
)

USERS = RowCodec(IamUser, "iam_users", {"created_at": TIME, "tags": JSON_OBJECT})
GROUPS = RowCodec(IamGroup, "iam_groups", {"created_at": TIME})
ROLES = RowCodec(IamRole, "iam_roles", {"created_at": TIME, "tags": JSON_OBJECT})
POLICIES = RowCodec(ManagedPolicy, "iam_policies", {"created_at": TIME, "updated_at": TIME, "tags": JSON_OBJECT})
POLICY_VERSIONS = RowCodec(PolicyVersion, "iam_policy_versions", {"created_at": TIME})

# Inline policies and attachments have one owner column per kind (see migrations.py): a row is read
# with the kind and the id computed from whichever is set, and written by the owner's own column.
_OWNER_COLUMNS: dict[OwnerKind, str] = {"user": "user_id", "group": "group_id", "role": "role_id"}
_OWNER = {
    "owner_kind": "CASE WHEN user_id IS NOT NULL THEN 'user' WHEN group_id IS NOT NULL THEN 'group' ELSE 'role' END",
    "owner_id": "coalesce(user_id, group_id, role_id)",
}
INLINE_POLICIES = RowCodec(InlinePolicy, "iam_inline_policies", expressions=_OWNER)
ATTACHMENTS = RowCodec(PolicyAttachment, "iam_policy_attachments", expressions=_OWNER)

SESSIONS = RowCodec(
    SessionRecord,
    "sts_sessions",
    {
        "wrapped_secret": BLOB,
        "token_hash": BLOB,
        "created_at": TIME,
        "expires_at": TIME,
        "session_policy_arns": JSON_TUPLE,
        "tags": JSON_OBJECT,
        "transitive_tag_keys": JSON_TUPLE,
    },
)

# Every record's codec, for the tests that check each one round-trips.
ALL_CODECS: tuple[RowCodec[Any], ...] = (
    ACCOUNTS,
    ACCESS_KEYS,
    KEYS,
    KEY_MATERIALS,
    IMPORTED_MATERIALS,
    KEY_LAST_USAGE,
    ALIASES,
    CUSTOM_KEY_STORES,
    TOKEN_KEYS,
    GRANTS,
    USERS,
    GROUPS,
    ROLES,
    POLICIES,
    POLICY_VERSIONS,
    INLINE_POLICIES,
    ATTACHMENTS,
    SESSIONS,
)

# AWS's PathPrefix is a plain, case-sensitive string prefix; LIKE would fold case and treat `_` as a wildcard.
PATH_PREFIX_MATCH = "substr(path, 1, length(?)) = ?"


def owner_column(owner_kind: OwnerKind) -> str:
    """The column that holds an inline policy's or an attachment's owner of this kind."""
    try:
        return _OWNER_COLUMNS[owner_kind]
    except KeyError:
        raise StoreError(f"unknown owner kind `{owner_kind}`: expected user, group or role") from None
