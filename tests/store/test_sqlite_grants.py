"""SqliteStore's KMS grants: every grant method, the cascade from keys, and migration 2 → 3."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.store.records import ALICE, REGION, grant_id, insert_key_at_version, make_grant

import kmsd.store.sqlite.store as sqlite_module
from kmsd.store.base import Conflict, Store, StoreError
from kmsd.store.migrations import LATEST_VERSION
from kmsd.store.models import KeyRecord
from kmsd.store.sqlite import SqliteStore

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
ACCOUNT = "111122223333"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/admin"


def key_id(n: int) -> str:
    return f"{n:08x}-0000-4000-8000-000000000000"


def make_key(n: int) -> KeyRecord:
    return KeyRecord(
        key_id=key_id(n),
        account_id=ACCOUNT,
        region="us-east-1",
        description=f"key {n}",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        key_state="Enabled",
        creation_date=T0,
        policy="{}",
        current_material_version=1,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "kmsd.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(db_path)
    opened.insert_key(make_key(1))
    opened.insert_key(make_key(2))
    yield opened
    opened.close()


def test_the_grant_methods_are_the_store_protocols(store: SqliteStore) -> None:
    protocol: Store = store
    assert protocol.list_grants(key_id(1), REGION) == []


def test_a_grant_with_every_field_set_round_trips(store: SqliteStore) -> None:
    grant = make_grant(
        1,
        name="retry-safe:name/1",
        retiring_principal=ADMIN,
        operations=("GenerateDataKey", "Decrypt", "CreateGrant", "RetireGrant"),
        encryption_context_subset={"Department": "IT", "ünïcode": "välue"},
    )
    store.insert_grant(grant)
    assert store.get_grant(grant.grant_id) == grant


def test_a_grant_with_defaults_and_an_equals_constraint_round_trips(store: SqliteStore) -> None:
    bare = make_grant(1)
    equals = make_grant(2, encryption_context_equals={})
    store.insert_grant(bare)
    store.insert_grant(equals)
    assert store.get_grant(bare.grant_id) == bare
    stored = store.get_grant(equals.grant_id)
    # An empty constraint is a constraint (it allows only requests without an encryption context).
    assert stored is not None and stored.encryption_context_equals == {} and stored.encryption_context_subset is None


def test_an_unknown_grant_is_none(store: SqliteStore) -> None:
    assert store.get_grant(grant_id(404)) is None


def test_inserting_an_existing_grant_id_is_a_conflict(store: SqliteStore) -> None:
    store.insert_grant(make_grant(1))
    with pytest.raises(Conflict):
        store.insert_grant(make_grant(1, key=2))
    assert store.list_grants(key_id(2), REGION) == []


def test_a_grant_on_an_unknown_key_is_refused_without_conflict(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="refers to a record that does not exist") as raised:
        store.insert_grant(make_grant(1, key=99))
    assert not isinstance(raised.value, Conflict)


def test_list_grants_is_one_keys_grants_oldest_first(store: SqliteStore) -> None:
    later = make_grant(1, created_at=T0 + timedelta(seconds=1))
    tie_b = make_grant(3)
    tie_a = make_grant(2)
    other_key = make_grant(4, key=2)
    for grant in (later, tie_b, other_key, tie_a):
        store.insert_grant(grant)
    # Grants created at one instant come back in grant id order, so paging is deterministic.
    assert store.list_grants(key_id(1), REGION) == [tie_a, tie_b, later]
    assert store.list_grants(key_id(2), REGION) == [other_key]
    assert store.list_grants(key_id(3), REGION) == []


def test_list_grants_retirable_by_matches_the_retiring_principal_exactly(store: SqliteStore) -> None:
    first = make_grant(1, retiring_principal=ADMIN, created_at=T0 + timedelta(seconds=2))
    second = make_grant(2, key=2, retiring_principal=ADMIN)
    other_case = make_grant(3, retiring_principal=ADMIN.upper())
    none = make_grant(4)
    grantee_only = make_grant(5, grantee_principal=ADMIN)
    for grant in (first, second, other_case, none, grantee_only):
        store.insert_grant(grant)
    assert store.list_grants_retirable_by(ADMIN) == [second, first]
    assert store.list_grants_retirable_by(ALICE) == []


def test_delete_grant_removes_only_that_grant_and_ignores_unknown_ids(store: SqliteStore) -> None:
    store.insert_grant(make_grant(1))
    store.insert_grant(make_grant(2))
    store.delete_grant(grant_id(1))
    store.delete_grant(grant_id(1))
    store.delete_grant(grant_id(404))
    assert store.get_grant(grant_id(1)) is None
    assert [grant.grant_id for grant in store.list_grants(key_id(1), REGION)] == [grant_id(2)]


def test_deleting_a_key_deletes_its_grants(store: SqliteStore) -> None:
    # ScheduleKeyDeletion: KMS deletes the key "and all KMS data associated with it".
    store.insert_grant(make_grant(1, retiring_principal=ADMIN))
    store.insert_grant(make_grant(2, key=2, retiring_principal=ADMIN))
    store.delete_key(key_id(1), REGION)
    assert store.get_grant(grant_id(1)) is None
    assert [grant.grant_id for grant in store.list_grants_retirable_by(ADMIN)] == [grant_id(2)]


def test_grant_writes_join_the_callers_transaction(store: SqliteStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_grant(make_grant(1))
        store.delete_grant(grant_id(1))
        store.insert_grant(make_grant(2))
        raise RuntimeError("the operation failed after writing")
    assert store.list_grants(key_id(1), REGION) == []


def test_a_fresh_file_has_the_grants_table_and_its_indexes(db_path: Path, store: SqliteStore) -> None:
    assert store.schema_version() == LATEST_VERSION >= 3
    raw = sqlite3.connect(db_path)
    try:
        indexes = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'grants'")}
        assert {"grants", "grants_by_key", "grants_by_retiring_principal"} <= indexes
        plan = " ".join(
            str(row[3]) for row in raw.execute("EXPLAIN QUERY PLAN SELECT * FROM grants WHERE retiring_principal = 'x'")
        )
        assert "grants_by_retiring_principal" in plan
    finally:
        raw.close()


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


def test_stored_grant_columns_refuse_what_is_not_json(store: SqliteStore, db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute(
                "INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, NULL)",
                (grant_id(9), key_id(1), REGION, ALICE, '["Encrypt"]', ACCOUNT, "t", "{not json"),
            )
    finally:
        raw.close()
    assert store.get_grant(grant_id(9)) is None
