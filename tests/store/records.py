"""The records the store tests build, shared by the modules of tests/store instead of imported from one another.

Every builder returns a complete, valid record with fixed, recognisable values;
keyword ``changes`` replace fields where a test needs another value.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from kmsd.store.models import AccessKeyRecord, AliasRecord, GrantRecord, IamRole, IamUser, KeyMaterialRecord, KeyRecord
from kmsd.store.sql.rows import GRANTS, KEYS
from kmsd.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
ACCOUNT = "111122223333"
REGION = "us-east-1"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},'
    '"Action":"sts:AssumeRole"}]}'
)


def key_id(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-000000000000"


def make_key(n: int, account_id: str = ACCOUNT, region: str = REGION, **changes: object) -> KeyRecord:
    key = KeyRecord(
        key_id=key_id(n),
        account_id=account_id,
        region=region,
        description=f"key {n}",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        key_state="Enabled",
        creation_date=T0,
        policy='{"Version":"2012-10-17","Statement":[]}',
        current_material_version=1,
    )
    return replace(key, **changes)  # type: ignore[arg-type]


def make_material(n: int, version: int = 1, rotation_type: str | None = None) -> KeyMaterialRecord:
    return KeyMaterialRecord(
        key_id=key_id(n),
        version=version,
        material_id=f"{version:064x}",
        wrapped_material=bytes([n % 256, version % 256]) * 30 + b"\x00\xff",
        created_at=T0 + timedelta(days=version),
        rotation_type=rotation_type,
    )


def make_alias(name: str, target: int, account_id: str = ACCOUNT, region: str = REGION) -> AliasRecord:
    return AliasRecord(
        account_id=account_id,
        region=region,
        alias_name=name,
        target_key_id=key_id(target),
        creation_date=T0,
        last_updated_date=T0,
    )


def make_access_key(suffix: str, created_at: datetime = T0, account_id: str = ACCOUNT) -> AccessKeyRecord:
    return AccessKeyRecord(
        access_key_id=f"AKIA{suffix:0>16}",
        account_id=account_id,
        principal_arn=f"arn:aws:iam::{account_id}:root",
        wrapped_secret=b"\x00wrapped\xff" + suffix.encode(),
        status="Active",
        created_at=created_at,
    )


def grant_id(n: int) -> str:
    return f"{n:064x}"


def make_grant(n: int, key: int = 1, created_at: datetime = T0, **changes: object) -> GrantRecord:
    grant = GrantRecord(
        grant_id=grant_id(n),
        key_id=key_id(key),
        region=REGION,
        grantee_principal=ALICE,
        operations=("Encrypt", "Decrypt"),
        issuing_account=f"arn:aws:iam::{ACCOUNT}:root",
        created_at=created_at,
    )
    return replace(grant, **changes)  # type: ignore[arg-type]


def insert_grant_before_regions(store: SqliteStore, grant: GrantRecord) -> None:
    """Store ``grant`` in a store whose schema predates migration 11, when grants had no Region column."""
    _insert_without(store, GRANTS.table, dict(zip(GRANTS.names, GRANTS.to_row(grant), strict=True)), "region")


def _insert_without(store: SqliteStore, table: str, row: dict[str, object], column: str) -> None:
    del row[column]
    columns = ", ".join(row)
    store._write(f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()), table)


def unique_id(prefix: str, account_id: str, name: str) -> str:
    """An AWS-shaped id, the same for names that differ only by case (as one entity's would be)."""
    return prefix + f"{account_id[-3:]}{name.upper()}".rjust(17, "X")[:17]


def user(name: str, account_id: str = ACCOUNT, path: str = "/", **changes: object) -> IamUser:
    record = IamUser(
        user_id=unique_id("AIDA", account_id, name), account_id=account_id, user_name=name, path=path, created_at=T0
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def role(name: str, account_id: str = ACCOUNT, path: str = "/", **changes: object) -> IamRole:
    record = IamRole(
        role_id=unique_id("AROA", account_id, name),
        account_id=account_id,
        role_name=name,
        path=path,
        created_at=T0,
        assume_role_policy=TRUST,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


# Columns the keys table gained after migration 1, newest last, with the migration that added each.
_LATER_KEY_COLUMNS = {"key_manager": 9, "primary_region": 11}


def insert_key_at_version(store: SqliteStore, version: int, key: KeyRecord) -> None:
    """Insert ``key`` into a store whose schema stopped at ``version``: only the columns the keys table had then.

    The migration tests build old files with the store's own code, whose row codec names every column of the
    latest schema.
    """
    names = [name for name in KEYS.names if _LATER_KEY_COLUMNS.get(name, 0) <= version]
    row = dict(zip(KEYS.names, KEYS.to_row(key), strict=True))
    sql = f"INSERT INTO keys ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    with store.transaction():
        store._write(sql, [row[name] for name in names], f"key `{key.key_id}`")


def key_policy(*principals: str, element: str = "Principal") -> str:
    """A policy document with one statement for each principal, under ``element`` (Principal or NotPrincipal)."""
    statements = [{"Effect": "Allow", element: {"AWS": p}, "Action": "kms:*", "Resource": "*"} for p in principals]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})
