"""SQLite files written by older kmsd versions: each migration keeps their data, and a failing one leaves the file
as it was.

The old files are made with the store's own code, stopped at an older schema version (``LATEST_VERSION`` and
``MIGRATIONS`` patched).  PostgreSQL has no such files yet: its stores are created at the latest version.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.store.records import (
    ACCOUNT,
    REGION,
    T0,
    insert_grant_before_regions,
    insert_key_at_version,
    key_id,
    key_policy,
    make_grant,
    make_key,
    make_material,
    role,
    user,
)

import kmsd.store.sqlite.store as sqlite_module
from kmsd.store.base import StoreError
from kmsd.store.migrations import LATEST_VERSION, MIGRATIONS
from kmsd.store.models import AccessKeyRecord, Account, GrantRecord, IamRole, IamUser, KeyRecord
from kmsd.store.principal_references_schema import PRINCIPAL_REFERENCES_MIGRATION
from kmsd.store.sqlite import SqliteStore

# The migration that made imported_key_materials, wherever later migrations put it.
IMPORTED_MIGRATION = next(
    number for number, migration in enumerate(MIGRATIONS, 1) if any("imported_key_materials (" in s for s in migration)
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "kmsd.db"


def user_access_key(suffix: str, owner: IamUser) -> AccessKeyRecord:
    return AccessKeyRecord(
        access_key_id=f"AKIA{suffix:0>16}",
        account_id=owner.account_id,
        principal_arn=owner.arn,
        wrapped_secret=b"\x00wrapped\xff" + suffix.encode(),
        status="Active",
        created_at=T0,
        user_id=owner.user_id,
    )


# --- migration 1 → 2: IAM and STS ---------------------------------------------------------------------------


def _version_1_file(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file as the version-1 kmsd left it: the store's own migration code, stopped after migration 1."""
    with monkeypatch.context() as patched:
        patched.setattr(sqlite_module, "LATEST_VERSION", 1)
        old = SqliteStore(db_path)
        try:
            assert old.schema_version() == 1
            old.create_account(Account(ACCOUNT, T0))
            insert_key_at_version(
                old,
                1,
                make_key(1, description="from version 1"),
            )
        finally:
            old.close()
    # Version 1's access_keys table has six columns; today's put_access_key writes ten.
    raw = sqlite3.connect(db_path)
    try:
        raw.execute(
            "INSERT INTO access_keys VALUES (?, ?, ?, ?, ?, ?)",
            (
                "AKIAROOTROOTROOTROOT",
                ACCOUNT,
                f"arn:aws:iam::{ACCOUNT}:root",
                b"wrapped",
                "Active",
                sqlite_module.encode_time(T0),
            ),
        )
        raw.commit()
        assert "iam_users" not in {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
    finally:
        raw.close()


def test_a_version_1_file_is_migrated_to_version_2_keeping_its_data(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _version_1_file(db_path, monkeypatch)
    store = SqliteStore(db_path)
    try:
        assert store.schema_version() == LATEST_VERSION
        assert store.get_account(ACCOUNT) == Account(ACCOUNT, T0)
        key = store.get_key(key_id(1), REGION)
        assert key is not None and key.description == "from version 1"
        assert store.get_access_key("AKIAROOTROOTROOTROOT") == AccessKeyRecord(
            access_key_id="AKIAROOTROOTROOTROOT",
            account_id=ACCOUNT,
            principal_arn=f"arn:aws:iam::{ACCOUNT}:root",
            wrapped_secret=b"wrapped",
            status="Active",
            created_at=T0,
        )
        # The new tables and columns work on the migrated file.
        store.insert_user(user("alice"))
        store.put_access_key(user_access_key("1", user("alice")))
        store.record_access_key_use(user_access_key("1", user("alice")).access_key_id, T0, "kms", "us-east-1")
        assert store.list_user_access_keys(user("alice").user_id)[0].last_used_service == "kms"
        store.delete_user(user("alice").user_id)
        assert store.get_access_key(user_access_key("1", user("alice")).access_key_id) is None
        assert store.get_access_key("AKIAROOTROOTROOTROOT") is not None
    finally:
        store.close()
    raw = sqlite3.connect(db_path)
    try:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {
            "iam_users",
            "iam_groups",
            "iam_group_members",
            "iam_roles",
            "iam_policies",
            "iam_policy_versions",
            "iam_inline_policies",
            "iam_policy_attachments",
            "sts_sessions",
        } <= tables
        columns = [row[1] for row in raw.execute("PRAGMA table_info(access_keys)")]
        assert columns[-4:] == ["user_id", "last_used_at", "last_used_service", "last_used_region"]
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        raw.close()


def test_a_failing_migration_2_leaves_a_version_1_file_untouched(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _version_1_file(db_path, monkeypatch)
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE sts_sessions (unrelated TEXT)")  # makes migration 2's last CREATE TABLE fail
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="to schema version 2 failed"):
        SqliteStore(db_path)
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
        assert "iam_users" not in {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        assert len(list(raw.execute("PRAGMA table_info(access_keys)"))) == 6
    finally:
        raw.close()


# --- migration 2 → 3: grants ---------------------------------------------------------------------------------


def test_a_version_2_file_is_migrated_to_version_3_keeping_its_data(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        patched.setattr(sqlite_module, "LATEST_VERSION", 2)
        old = SqliteStore(db_path)
        try:
            assert old.schema_version() == 2
            insert_key_at_version(old, 2, make_key(1))
        finally:
            old.close()
    store = SqliteStore(db_path)
    try:
        assert store.schema_version() == LATEST_VERSION >= 3
        assert store.get_key(key_id(1), REGION) == make_key(1)
        store.insert_grant(make_grant(1))
        assert store.list_grants(key_id(1), REGION) == [make_grant(1)]
    finally:
        store.close()
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        raw.close()


# --- the principal-reference index -----------------------------------------------------------------------


def test_the_migration_indexes_documents_stored_before_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    alice: IamUser = user("Alice")
    trusting: IamRole = role("Trusting", assume_role_policy=key_policy(alice.arn))
    key: KeyRecord = make_key(1, policy=key_policy(alice.arn))
    grant: GrantRecord = make_grant(1, grantee_principal=alice.arn)
    # A store written by a kmsd whose schema stopped before the index.
    before = next(n for n, migration in enumerate(MIGRATIONS) if migration is PRINCIPAL_REFERENCES_MIGRATION)
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", MIGRATIONS[:before])
    monkeypatch.setattr(sqlite_module, "LATEST_VERSION", before)
    old = SqliteStore(path)
    old.create_account(Account(ACCOUNT, T0))
    old.insert_user(alice)
    old.insert_role(trusting)
    insert_key_at_version(old, before, key)
    insert_grant_before_regions(old, grant)
    assert old.schema_version() == before
    old.close()
    monkeypatch.undo()

    reopened = SqliteStore(path)
    try:
        assert reopened.schema_version() == len(MIGRATIONS)
        reopened.delete_user(alice.user_id)
        stored_key, stored_role = reopened.get_key(key.key_id, REGION), reopened.get_role_by_id(trusting.role_id)
        stored_grant = reopened.get_grant(grant.grant_id)
        assert stored_key is not None and stored_role is not None and stored_grant is not None
        assert alice.arn not in stored_key.policy and alice.user_id in stored_key.policy
        assert alice.arn not in stored_role.assume_role_policy and alice.user_id in stored_role.assume_role_policy
        assert stored_grant.grantee_principal == alice.user_id
    finally:
        reopened.close()


# --- the last use of keys ----------------------------------------------------------------------------------


def test_keys_older_than_tracking_get_its_start_and_newer_ones_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kmsd.db"
    with monkeypatch.context() as patched:
        patched.setattr(sqlite_module, "LATEST_VERSION", 6)
        old = SqliteStore(path)
        try:
            insert_key_at_version(old, 6, make_key(1))
        finally:
            old.close()
    before = datetime.now(UTC) - timedelta(seconds=1)
    store = SqliteStore(path)
    try:
        assert store.schema_version() == LATEST_VERSION >= 7
        record = store.get_key_last_usage(key_id(1), REGION)
        assert record is not None and record.operation is None and record.used_at is None
        assert record.tracking_started_at is not None
        assert before <= record.tracking_started_at <= datetime.now(UTC) + timedelta(seconds=1)
        store.insert_key(make_key(2))
        assert store.get_key_last_usage(key_id(2), REGION) is None
    finally:
        store.close()


# --- one row per imported material -------------------------------------------------------------------------


def test_migration_6_rows_become_version_1_of_their_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kmsd.db"
    with monkeypatch.context() as patched:
        patched.setattr(sqlite_module, "LATEST_VERSION", IMPORTED_MIGRATION - 1)
        old = SqliteStore(path)
        try:
            insert_key_at_version(old, IMPORTED_MIGRATION - 1, make_key(1, origin="EXTERNAL"))
            insert_key_at_version(
                old,
                IMPORTED_MIGRATION - 1,
                make_key(2, origin="EXTERNAL", region="eu-west-1", key_state="PendingImport"),
            )
            old.add_key_material(make_material(1, 1))
        finally:
            old.close()
    raw = sqlite3.connect(path)
    try:
        raw.execute(
            "INSERT INTO imported_materials VALUES (?, ?, 'KEY_MATERIAL_EXPIRES', '2026-01-02T00:00:00.000000+00:00')",
            (key_id(1), b"digest-1"),
        )
        raw.execute("INSERT INTO imported_materials VALUES (?, ?, NULL, NULL)", (key_id(2), b"digest-2"))
        raw.commit()
    finally:
        raw.close()
    store = SqliteStore(path)
    try:
        assert store.schema_version() == LATEST_VERSION >= IMPORTED_MIGRATION
        (first,) = store.list_imported_materials(key_id(1), REGION)
        assert (first.version, first.wrapped_digest, first.imported) == (1, b"digest-1", True)
        assert first.expiration_model == "KEY_MATERIAL_EXPIRES" and first.valid_to is not None
        (second,) = store.list_imported_materials(key_id(2), "eu-west-1")
        assert (second.version, second.wrapped_digest, second.imported) == (1, b"digest-2", False)
        assert store.imported_materials_expired_by(first.valid_to) == [first]
    finally:
        store.close()
