"""How records become rows of the SQLite store and back: the column lists, the order of values in a row,
and the stored forms of times (fixed-width UTC text) and JSON fields; no SQL is executed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from kmsd.store.base import StoreError
from kmsd.store.models import (
    AccessKeyRecord,
    AliasRecord,
    GrantRecord,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    KeyMaterialRecord,
    KeyRecord,
    ManagedPolicy,
    OwnerKind,
    PolicyAttachment,
    PolicyVersion,
    SessionRecord,
)

_KEY_COLUMNS = (
    "key_id, account_id, region, description, key_usage, key_spec, origin, key_state, creation_date, "
    "policy, current_material_version, deletion_date, pending_deletion_window_days, rotation_enabled, "
    "rotation_period_days, next_rotation_date, multi_region, tags"
)
_KEY_PLACEHOLDERS = ", ".join("?" * 18)
_KEY_UPDATE = ", ".join(f"{column.strip()} = ?" for column in _KEY_COLUMNS.split(",")[1:])
_MATERIAL_COLUMNS = "key_id, version, material_id, wrapped_material, created_at, rotation_type"
_ALIAS_COLUMNS = "account_id, region, alias_name, target_key_id, creation_date, last_updated_date"
_ACCESS_KEY_COLUMNS = (
    "access_key_id, account_id, principal_arn, wrapped_secret, status, created_at, "
    "user_id, last_used_at, last_used_service, last_used_region"
)
_USER_COLUMNS = ("user_id", "account_id", "user_name", "path", "created_at", "permissions_boundary_arn", "tags")
_GROUP_COLUMNS = ("group_id", "account_id", "group_name", "path", "created_at")
_ROLE_COLUMNS = (
    "role_id",
    "account_id",
    "role_name",
    "path",
    "created_at",
    "assume_role_policy",
    "description",
    "max_session_duration",
    "permissions_boundary_arn",
    "tags",
)
_POLICY_COLUMNS = (
    "arn",
    "policy_id",
    "account_id",
    "policy_name",
    "path",
    "default_version_id",
    "created_at",
    "updated_at",
    "description",
    "next_version_number",
    "tags",
)
_POLICY_VERSION_COLUMNS = "policy_arn, version_id, document, created_at"
_SESSION_COLUMNS = (
    "access_key_id",
    "wrapped_secret",
    "token_hash",
    "account_id",
    "kind",
    "principal_arn",
    "user_id",
    "created_at",
    "expires_at",
    "role_id",
    "session_name",
    "source_user_id",
    "session_policy",
    "session_policy_arns",
    "tags",
    "transitive_tag_keys",
    "source_identity",
)
_GRANT_COLUMNS = (
    "grant_id",
    "key_id",
    "grantee_principal",
    "operations",
    "issuing_account",
    "created_at",
    "name",
    "retiring_principal",
    "encryption_context_equals",
    "encryption_context_subset",
)
# Inline policies and attachments have one owner column per kind (see migrations.py).
_OWNER_COLUMNS: dict[OwnerKind, str] = {"user": "user_id", "group": "group_id", "role": "role_id"}
_OWNER_SELECT = (
    "CASE WHEN user_id IS NOT NULL THEN 'user' WHEN group_id IS NOT NULL THEN 'group' ELSE 'role' END, "
    "coalesce(user_id, group_id, role_id)"
)
# AWS's PathPrefix is a plain, case-sensitive string prefix; LIKE would fold case and treat `_` as a wildcard.
_PATH_PREFIX_MATCH = "substr(path, 1, length(?)) = ?"

Row = tuple[Any, ...]


def encode_time(value: datetime) -> str:
    """The stored form: UTC, microseconds, fixed width, so that text order is time order."""
    if value.tzinfo is None:
        # A naive datetime would be read as local time and silently shift; records promise aware UTC.
        raise StoreError(f"naive datetime `{value.isoformat()}`: the store needs timezone-aware datetimes")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def decode_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _encode_optional_time(value: datetime | None) -> str | None:
    return None if value is None else encode_time(value)


def _decode_optional_time(text: str | None) -> datetime | None:
    return None if text is None else decode_time(text)


def _key_to_row(key: KeyRecord) -> Row:
    return (
        key.key_id,
        key.account_id,
        key.region,
        key.description,
        key.key_usage,
        key.key_spec,
        key.origin,
        key.key_state,
        encode_time(key.creation_date),
        key.policy,
        key.current_material_version,
        _encode_optional_time(key.deletion_date),
        key.pending_deletion_window_days,
        int(key.rotation_enabled),
        key.rotation_period_days,
        _encode_optional_time(key.next_rotation_date),
        int(key.multi_region),
        _encode_json(key.tags),
    )


def _key_from_row(row: Row) -> KeyRecord:
    return KeyRecord(
        key_id=row[0],
        account_id=row[1],
        region=row[2],
        description=row[3],
        key_usage=row[4],
        key_spec=row[5],
        origin=row[6],
        key_state=row[7],
        creation_date=decode_time(row[8]),
        policy=row[9],
        current_material_version=row[10],
        deletion_date=_decode_optional_time(row[11]),
        pending_deletion_window_days=row[12],
        rotation_enabled=bool(row[13]),
        rotation_period_days=row[14],
        next_rotation_date=_decode_optional_time(row[15]),
        multi_region=bool(row[16]),
        tags=json.loads(row[17]),
    )


def _material_from_row(row: Row) -> KeyMaterialRecord:
    return KeyMaterialRecord(
        key_id=row[0],
        version=row[1],
        material_id=row[2],
        wrapped_material=bytes(row[3]),
        created_at=decode_time(row[4]),
        rotation_type=row[5],
    )


def _alias_from_row(row: Row) -> AliasRecord:
    return AliasRecord(
        account_id=row[0],
        region=row[1],
        alias_name=row[2],
        target_key_id=row[3],
        creation_date=decode_time(row[4]),
        last_updated_date=decode_time(row[5]),
    )


def _access_key_to_row(key: AccessKeyRecord) -> Row:
    return (
        key.access_key_id,
        key.account_id,
        key.principal_arn,
        key.wrapped_secret,
        key.status,
        encode_time(key.created_at),
        key.user_id,
        _encode_optional_time(key.last_used_at),
        key.last_used_service,
        key.last_used_region,
    )


def _access_key_from_row(row: Row) -> AccessKeyRecord:
    return AccessKeyRecord(
        access_key_id=row[0],
        account_id=row[1],
        principal_arn=row[2],
        wrapped_secret=bytes(row[3]),
        status=row[4],
        created_at=decode_time(row[5]),
        user_id=row[6],
        last_used_at=_decode_optional_time(row[7]),
        last_used_service=row[8],
        last_used_region=row[9],
    )


def _encode_json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _columns(names: Sequence[str], table_alias: str = "") -> str:
    prefix = f"{table_alias}." if table_alias else ""
    return ", ".join(prefix + name for name in names)


def _placeholders(names: Sequence[str]) -> str:
    return ", ".join("?" * len(names))


def _assignments(names: Sequence[str]) -> str:
    """``a = ?, b = ?`` for every column but the first (the identity a row is updated by)."""
    return ", ".join(f"{name} = ?" for name in names[1:])


def _owner_column(owner_kind: OwnerKind) -> str:
    try:
        return _OWNER_COLUMNS[owner_kind]
    except KeyError:
        raise StoreError(f"unknown owner kind `{owner_kind}`: expected user, group or role") from None


def _user_to_row(user: IamUser) -> Row:
    return (
        user.user_id,
        user.account_id,
        user.user_name,
        user.path,
        encode_time(user.created_at),
        user.permissions_boundary_arn,
        _encode_json(user.tags),
    )


def _user_from_row(row: Row) -> IamUser:
    return IamUser(
        user_id=row[0],
        account_id=row[1],
        user_name=row[2],
        path=row[3],
        created_at=decode_time(row[4]),
        permissions_boundary_arn=row[5],
        tags=json.loads(row[6]),
    )


def _group_to_row(group: IamGroup) -> Row:
    return (group.group_id, group.account_id, group.group_name, group.path, encode_time(group.created_at))


def _group_from_row(row: Row) -> IamGroup:
    return IamGroup(group_id=row[0], account_id=row[1], group_name=row[2], path=row[3], created_at=decode_time(row[4]))


def _role_to_row(role: IamRole) -> Row:
    return (
        role.role_id,
        role.account_id,
        role.role_name,
        role.path,
        encode_time(role.created_at),
        role.assume_role_policy,
        role.description,
        role.max_session_duration,
        role.permissions_boundary_arn,
        _encode_json(role.tags),
    )


def _role_from_row(row: Row) -> IamRole:
    return IamRole(
        role_id=row[0],
        account_id=row[1],
        role_name=row[2],
        path=row[3],
        created_at=decode_time(row[4]),
        assume_role_policy=row[5],
        description=row[6],
        max_session_duration=row[7],
        permissions_boundary_arn=row[8],
        tags=json.loads(row[9]),
    )


def _policy_to_row(policy: ManagedPolicy) -> Row:
    return (
        policy.arn,
        policy.policy_id,
        policy.account_id,
        policy.policy_name,
        policy.path,
        policy.default_version_id,
        encode_time(policy.created_at),
        encode_time(policy.updated_at),
        policy.description,
        policy.next_version_number,
        _encode_json(policy.tags),
    )


def _policy_from_row(row: Row) -> ManagedPolicy:
    return ManagedPolicy(
        arn=row[0],
        policy_id=row[1],
        account_id=row[2],
        policy_name=row[3],
        path=row[4],
        default_version_id=row[5],
        created_at=decode_time(row[6]),
        updated_at=decode_time(row[7]),
        description=row[8],
        next_version_number=row[9],
        tags=json.loads(row[10]),
    )


def _policy_version_from_row(row: Row) -> PolicyVersion:
    return PolicyVersion(policy_arn=row[0], version_id=row[1], document=row[2], created_at=decode_time(row[3]))


def _inline_policy_from_row(row: Row) -> InlinePolicy:
    return InlinePolicy(account_id=row[0], owner_kind=row[1], owner_id=row[2], policy_name=row[3], document=row[4])


def _attachment_from_row(row: Row) -> PolicyAttachment:
    return PolicyAttachment(account_id=row[0], owner_kind=row[1], owner_id=row[2], policy_arn=row[3])


def _session_to_row(session: SessionRecord) -> Row:
    return (
        session.access_key_id,
        session.wrapped_secret,
        session.token_hash,
        session.account_id,
        session.kind,
        session.principal_arn,
        session.user_id,
        encode_time(session.created_at),
        encode_time(session.expires_at),
        session.role_id,
        session.session_name,
        session.source_user_id,
        session.session_policy,
        _encode_json(list(session.session_policy_arns)),
        _encode_json(session.tags),
        _encode_json(list(session.transitive_tag_keys)),
        session.source_identity,
    )


def _session_from_row(row: Row) -> SessionRecord:
    return SessionRecord(
        access_key_id=row[0],
        wrapped_secret=bytes(row[1]),
        token_hash=bytes(row[2]),
        account_id=row[3],
        kind=row[4],
        principal_arn=row[5],
        user_id=row[6],
        created_at=decode_time(row[7]),
        expires_at=decode_time(row[8]),
        role_id=row[9],
        session_name=row[10],
        source_user_id=row[11],
        session_policy=row[12],
        session_policy_arns=tuple(json.loads(row[13])),
        tags=json.loads(row[14]),
        transitive_tag_keys=tuple(json.loads(row[15])),
        source_identity=row[16],
    )


def _encode_optional_json(value: object | None) -> str | None:
    return None if value is None else _encode_json(value)


def _decode_optional_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _grant_to_row(grant: GrantRecord) -> Row:
    return (
        grant.grant_id,
        grant.key_id,
        grant.grantee_principal,
        _encode_json(list(grant.operations)),
        grant.issuing_account,
        encode_time(grant.created_at),
        grant.name,
        grant.retiring_principal,
        _encode_optional_json(grant.encryption_context_equals),
        _encode_optional_json(grant.encryption_context_subset),
    )


def _grant_from_row(row: Row) -> GrantRecord:
    return GrantRecord(
        grant_id=row[0],
        key_id=row[1],
        grantee_principal=row[2],
        operations=tuple(json.loads(row[3])),
        issuing_account=row[4],
        created_at=decode_time(row[5]),
        name=row[6],
        retiring_principal=row[7],
        encryption_context_equals=_decode_optional_json(row[8]),
        encryption_context_subset=_decode_optional_json(row[9]),
    )
