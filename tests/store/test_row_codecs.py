"""Every record's row codec round-trips (record → row → record), in memory and through its table in a real store file.

The codecs are the only place that maps a record to its columns (``kmsd.store.sql.rows``);
these tests hold each one to the schema the migrations create and to the stored forms
(times as text, booleans as 0/1, JSON for tags, tuples and contexts), with every
optional field both set and unset.
"""

from __future__ import annotations

import dataclasses
import inspect
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kmsd.store import models
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
    PolicyAttachment,
    PolicyVersion,
    SessionRecord,
    TokenKeyRecord,
)
from kmsd.store.sql.codec import RowCodec
from kmsd.store.sql.rows import ALL_CODECS, GRANTS, INLINE_POLICIES, KEYS, USERS
from kmsd.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
T1 = T0 + timedelta(days=7, microseconds=1)
ACCOUNT = "111122223333"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
TAGS = {"Project": "Zürich", "team": ""}

# Each record with every field set to a value other than its default...
FULL: list[Any] = [
    Account(account_id=ACCOUNT, created_at=T0),
    AccessKeyRecord(
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        account_id=ACCOUNT,
        principal_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        wrapped_secret=b"\x00wrapped\xff",
        status="Inactive",
        created_at=T0,
        user_id="AIDAEXAMPLEEXAMPLE01",
        last_used_at=T1,
        last_used_service="kms",
        last_used_region="eu-west-1",
    ),
    KeyRecord(
        key_id=KEY_ID,
        account_id=ACCOUNT,
        region="eu-west-1",
        description="déjà vu",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        key_state="PendingDeletion",
        creation_date=T0,
        policy='{"Version":"2012-10-17","Statement":[]}',
        current_material_version=3,
        deletion_date=T1,
        pending_deletion_window_days=7,
        rotation_enabled=True,
        rotation_period_days=90,
        next_rotation_date=T1,
        multi_region=True,
        tags=TAGS,
        key_manager="AWS",
        primary_region="us-west-2",
    ),
    KeyMaterialRecord(
        key_id=KEY_ID,
        version=2,
        material_id="ab" * 32,
        wrapped_material=b"\x01material",
        created_at=T0,
        rotation_type="ON_DEMAND",
    ),
    AliasRecord(
        account_id=ACCOUNT,
        region="eu-west-1",
        alias_name="alias/example",
        target_key_id=KEY_ID,
        creation_date=T0,
        last_updated_date=T1,
    ),
    GrantRecord(
        grant_id="cd" * 32,
        key_id=KEY_ID,
        region="eu-west-1",
        grantee_principal=f"arn:aws:iam::{ACCOUNT}:role/app",
        operations=("Encrypt", "Decrypt"),
        issuing_account=f"arn:aws:iam::{ACCOUNT}:root",
        created_at=T0,
        name="nightly",
        retiring_principal=f"arn:aws:iam::{ACCOUNT}:user/alice",
        encryption_context_equals={"tenant": "ä"},
        encryption_context_subset={"stage": "prod"},
    ),
    IamUser(
        user_id="AIDAEXAMPLEEXAMPLE01",
        account_id=ACCOUNT,
        user_name="alice",
        path="/staff/",
        created_at=T0,
        permissions_boundary_arn=f"arn:aws:iam::{ACCOUNT}:policy/boundary",
        tags=TAGS,
    ),
    IamGroup(group_id="AGPAEXAMPLEEXAMPLE01", account_id=ACCOUNT, group_name="admins", path="/ops/", created_at=T0),
    IamRole(
        role_id="AROAEXAMPLEEXAMPLE01",
        account_id=ACCOUNT,
        role_name="app",
        path="/service/",
        created_at=T0,
        assume_role_policy='{"Version":"2012-10-17","Statement":[]}',
        description="the app's role",
        max_session_duration=7200,
        permissions_boundary_arn=f"arn:aws:iam::{ACCOUNT}:policy/boundary",
        tags=TAGS,
    ),
    ManagedPolicy(
        arn=f"arn:aws:iam::{ACCOUNT}:policy/ops/readers",
        policy_id="ANPAEXAMPLEEXAMPLE01",
        account_id=ACCOUNT,
        policy_name="readers",
        path="/ops/",
        default_version_id="v3",
        created_at=T0,
        updated_at=T1,
        description="read only",
        next_version_number=4,
        tags=TAGS,
    ),
    PolicyVersion(
        policy_arn=f"arn:aws:iam::{ACCOUNT}:policy/ops/readers",
        version_id="v3",
        document='{"Version":"2012-10-17","Statement":[]}',
        created_at=T1,
    ),
    InlinePolicy(
        account_id=ACCOUNT, owner_kind="group", owner_id="AGPAEXAMPLEEXAMPLE01", policy_name="inline", document="{}"
    ),
    PolicyAttachment(
        account_id=ACCOUNT,
        owner_kind="role",
        owner_id="AROAEXAMPLEEXAMPLE01",
        policy_arn=f"arn:aws:iam::{ACCOUNT}:policy/ops/readers",
    ),
    KeyLastUsageRecord(
        key_id=KEY_ID,
        region="eu-west-1",
        tracking_started_at=T1,
        operation="Encrypt",
        used_at=T1,
        request_id="request-1",
    ),
    ImportedMaterialRecord(
        key_id=KEY_ID,
        region="us-east-1",
        version=2,
        wrapped_digest=b"\x01digest",
        imported=True,
        expiration_model="KEY_MATERIAL_EXPIRES",
        valid_to=T1,
        description="second material",
        rotation_type="ON_DEMAND",
        rotated_at=T0,
    ),
    CustomKeyStoreRecord(
        custom_key_store_id="cks-0123456789abcdef0",
        account_id=ACCOUNT,
        region="us-east-1",
        custom_key_store_name="hsm-store",
        custom_key_store_type="AWS_CLOUDHSM",
        cloud_hsm_cluster_id="cluster-kmsdtokenaaa",
        trust_anchor_certificate="-----BEGIN CERTIFICATE-----\n...",
        wrapped_key_store_password=b"\x01pin",
        connection_state="FAILED",
        creation_date=T0,
        connection_error_code="INVALID_CREDENTIALS",
    ),
    TokenKeyRecord(
        key_id=KEY_ID,
        region="us-east-1",
        custom_key_store_id="cks-0123456789abcdef0",
        object_label=KEY_ID,
        material_id="ab" * 32,
        state_when_available="Disabled",
    ),
    SessionRecord(
        access_key_id="ASIAEXAMPLEEXAMPLE01",
        wrapped_secret=b"\x02secret",
        token_hash=b"\x03" * 32,
        account_id=ACCOUNT,
        kind="assumed-role",
        principal_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app/s1",
        user_id="AROAEXAMPLEEXAMPLE01:s1",
        created_at=T0,
        expires_at=T1,
        role_id="AROAEXAMPLEEXAMPLE01",
        session_name="s1",
        source_user_id="AIDAEXAMPLEEXAMPLE01",
        session_policy='{"Version":"2012-10-17","Statement":[]}',
        session_policy_arns=(f"arn:aws:iam::{ACCOUNT}:policy/ops/readers", "arn:aws:iam::aws:policy/ReadOnlyAccess"),
        tags=TAGS,
        transitive_tag_keys=("Project",),
        source_identity="alice@example.com",
    ),
]


def _with_defaults(record: Any) -> Any:
    """The record with every field that has a default set back to it (the optional fields unset)."""
    defaults: dict[str, Any] = {}
    for field in dataclasses.fields(record):
        if field.default is not dataclasses.MISSING:
            defaults[field.name] = field.default
        elif field.default_factory is not dataclasses.MISSING:
            defaults[field.name] = field.default_factory()
    return replace(record, **defaults)


SAMPLES = [*FULL, *(_with_defaults(record) for record in FULL)]


def _codec_for(record: Any) -> RowCodec[Any]:
    (codec,) = [codec for codec in ALL_CODECS if codec.record is type(record)]
    return codec


def _sample_id(record: Any) -> str:
    return type(record).__name__


def test_every_record_of_the_models_has_exactly_one_codec() -> None:
    records = {
        value
        for value in vars(models).values()
        if inspect.isclass(value) and dataclasses.is_dataclass(value) and value.__module__ == models.__name__
    }
    codecs = [codec.record for codec in ALL_CODECS]
    assert sorted(codecs, key=lambda record: record.__name__) == sorted(records, key=lambda record: record.__name__)
    assert {type(record) for record in FULL} == records


@pytest.mark.parametrize("record", SAMPLES, ids=_sample_id)
def test_a_record_round_trips_through_its_row(record: Any) -> None:
    codec = _codec_for(record)
    row = codec.to_row(record)
    assert len(row) == len(codec.names)
    # Only values SQLite stores natively: every time, boolean, dict and tuple is converted.
    assert all(value is None or type(value) in (str, int, bytes) for value in row)
    assert codec.from_row(row) == record


@pytest.mark.parametrize("record", SAMPLES, ids=_sample_id)
def test_a_record_round_trips_through_its_table(tmp_path: Path, record: Any) -> None:
    codec = _codec_for(record)
    SqliteStore(tmp_path / "kmsd.db").close()  # the schema, as the migrations create it
    connection = sqlite3.connect(tmp_path / "kmsd.db")  # foreign keys off: each record alone
    try:
        # Key materials check their key with a trigger instead of a foreign key (migration 11).
        connection.execute("DROP TRIGGER key_materials_need_a_key")
        if codec is INLINE_POLICIES or codec.record is PolicyAttachment:
            # Written through the owner's own column (owner_column), read back through the codec.
            owner_column = f"{record.owner_kind}_id"
            values = {name: getattr(record, name) for name in codec.names if not name.startswith("owner_")}
            values[owner_column] = record.owner_id
            connection.execute(
                f"INSERT INTO {codec.table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                tuple(values.values()),
            )
        else:
            connection.execute(codec.insert_sql, codec.to_row(record))
        rows = connection.execute(codec.select_sql).fetchall()
    finally:
        connection.close()
    assert [codec.from_row(row) for row in rows] == [record]


def test_the_column_lists_are_the_schema_s(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "kmsd.db").close()
    connection = sqlite3.connect(tmp_path / "kmsd.db")
    try:
        for codec in ALL_CODECS:
            stored = {row[1] for row in connection.execute(f"PRAGMA table_info({codec.table})")}
            plain = [name for name in codec.names if name not in ("owner_kind", "owner_id")]
            assert set(plain) <= stored, codec.table
    finally:
        connection.close()


def test_the_statements_a_codec_builds() -> None:
    assert KEYS.insert_sql.startswith("INSERT INTO keys (key_id, account_id, region, description, ")
    assert KEYS.insert_sql.endswith(f"VALUES ({', '.join('?' * 20)})")
    # A key is its id in its Region (migration 11): both identify the row an update replaces.
    assert KEYS.update_sql.startswith("UPDATE keys SET account_id = ?, description = ?, ")
    assert KEYS.update_sql.endswith("tags = ?, key_manager = ?, primary_region = ? WHERE key_id = ? AND region = ?")
    key = FULL[2]
    row = KEYS.to_row(key)
    assert KEYS.update_values(key) == (row[1], *row[3:], KEY_ID, "eu-west-1")
    assert GRANTS.update_sql.endswith("WHERE grant_id = ?")
    assert USERS.columns_of("u") == "u.user_id, u.account_id, u.user_name, u.path, u.created_at, " + (
        "u.permissions_boundary_arn, u.tags"
    )
    with pytest.raises(StoreError, match="SQL expressions"):
        INLINE_POLICIES.columns_of("p")
    assert INLINE_POLICIES.select_sql.startswith("SELECT account_id, CASE WHEN user_id IS NOT NULL THEN 'user' ")


def test_times_are_stored_as_fixed_width_utc_text() -> None:
    shifted = replace(FULL[0], created_at=T0.astimezone(timezone(timedelta(hours=-5))))
    assert _codec_for(shifted).to_row(shifted) == (ACCOUNT, "2026-01-02T03:04:05.123456+00:00")
    with pytest.raises(StoreError, match="naive datetime"):
        _codec_for(shifted).to_row(replace(shifted, created_at=T0.replace(tzinfo=None)))


def test_a_row_of_another_length_is_refused_rather_than_shifted() -> None:
    with pytest.raises(StoreError, match="a row of 19 columns is no KeyRecord"):
        KEYS.from_row(KEYS.to_row(FULL[2])[:-1])


def test_a_column_table_naming_no_field_is_refused() -> None:
    with pytest.raises(StoreError, match="has no field creation_time"):
        RowCodec(Account, "accounts", expressions={"creation_time": "created_at"})
