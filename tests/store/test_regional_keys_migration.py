"""Migration 11: a key is identified by (key_id, region), and the tables that refer to keys follow (issue 11).

A database written at the previous schema version, with keys, material versions, aliases,
grants, imported material, last-use records and indexed key policies, is opened by the
current store: every row is still there, now with its key's Region, the foreign keys hold
and cascade, and the index of principals still finds the key policies.  The runner follows
SQLite's table-rebuild procedure: foreign keys off outside the transaction, and a migration
that would leave a row without its key is rolled back whole.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.store.records import (
    ACCOUNT,
    REGION,
    T0,
    insert_grant_before_regions,
    insert_key_at_version,
    key_id,
    make_alias,
    make_grant,
    make_key,
    make_material,
    user,
)

import kmsd.store.sqlite.store as sqlite_module
from kmsd.store.base import StoreError
from kmsd.store.migrations import MIGRATIONS
from kmsd.store.models import Account, ImportedMaterialRecord, KeyLastUsageRecord
from kmsd.store.regional_keys_schema import REGIONAL_KEYS_MIGRATION
from kmsd.store.sql.codec import encode_time
from kmsd.store.sqlite import SqliteStore

BEFORE = MIGRATIONS.index(REGIONAL_KEYS_MIGRATION)
OTHER_REGION = "eu-west-1"
IMPORTED = ImportedMaterialRecord(key_id(2), OTHER_REGION, 1, b"\x01digest", True, "KEY_MATERIAL_EXPIRES", T0)


def _old_store(path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteStore:
    """A store whose schema stops just before migration 11."""
    monkeypatch.setattr(sqlite_module, "MIGRATIONS", MIGRATIONS[:BEFORE])
    monkeypatch.setattr(sqlite_module, "LATEST_VERSION", BEFORE)
    return SqliteStore(path)


def _policy_naming(arn: str) -> str:
    statement = {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": "kms:*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _fill(old: SqliteStore) -> None:
    alice = user("Alice")
    old.create_account(Account(ACCOUNT, T0))
    old.insert_user(alice)
    insert_key_at_version(old, BEFORE, make_key(1, policy=_policy_naming(alice.arn), key_manager="AWS"))
    insert_key_at_version(old, BEFORE, make_key(2, region=OTHER_REGION, multi_region=True))
    old.add_key_material(make_material(1))
    old.add_key_material(make_material(1, version=2, rotation_type="ON_DEMAND"))
    old.add_key_material(make_material(2))
    old.insert_alias(make_alias("alias/one", 1))
    old.insert_alias(make_alias("alias/two", 2, region=OTHER_REGION))
    insert_grant_before_regions(old, make_grant(1, key=1))
    insert_grant_before_regions(old, make_grant(2, key=2, grantee_principal=alice.arn))
    old.put_imported_material(IMPORTED)
    old._write(
        "INSERT INTO key_last_usage (key_id, tracking_started_at, operation, used_at, request_id) "
        "VALUES (?, ?, ?, ?, ?)",
        (key_id(1), encode_time(T0), "Encrypt", encode_time(T0), "request-1"),
        "last use",
    )


def test_every_row_survives_the_migration_with_its_keys_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kmsd.db"
    old = _old_store(path, monkeypatch)
    _fill(old)
    assert old.schema_version() == BEFORE
    old.close()
    monkeypatch.undo()

    store = SqliteStore(path)
    try:
        assert store.schema_version() == len(MIGRATIONS)
        assert store.get_key(key_id(1), REGION) == make_key(
            1, policy=_policy_naming(user("Alice").arn), key_manager="AWS"
        )
        # A multi-Region key stored before replicas existed is its set's primary key.
        assert store.get_key(key_id(2), OTHER_REGION) == make_key(
            2, region=OTHER_REGION, multi_region=True, primary_region=OTHER_REGION
        )
        assert store.get_key(key_id(1), OTHER_REGION) is None
        assert store.list_key_materials(key_id(1)) == [
            make_material(1),
            make_material(1, version=2, rotation_type="ON_DEMAND"),
        ]
        assert store.list_key_materials(key_id(2)) == [make_material(2)]
        assert store.list_aliases(ACCOUNT, REGION) == [make_alias("alias/one", 1)]
        assert store.list_aliases(ACCOUNT, OTHER_REGION) == [make_alias("alias/two", 2, region=OTHER_REGION)]
        assert store.list_grants(key_id(1), REGION) == [make_grant(1, key=1)]
        assert store.list_grants(key_id(2), OTHER_REGION) == [
            make_grant(2, key=2, region=OTHER_REGION, grantee_principal=user("Alice").arn)
        ]
        assert store.list_imported_materials(key_id(2), OTHER_REGION) == [IMPORTED]
        assert store.get_key_last_usage(key_id(1), REGION) == KeyLastUsageRecord(
            key_id(1), REGION, T0, "Encrypt", T0, "request-1"
        )
        # The writer enforces foreign keys again, and the migrated rows hold every reference.
        assert store._writer.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store._writer.execute("PRAGMA foreign_key_check").fetchall() == []
        # The principal index still finds the key policy: deleting Alice rewrites it and her grant.
        store.delete_user(user("Alice").user_id)
        rewritten = store.get_key(key_id(1), REGION)
        assert rewritten is not None and user("Alice").user_id in rewritten.policy
        grant = store.get_grant(make_grant(2).grant_id)
        assert grant is not None and grant.grantee_principal == user("Alice").user_id
        # Deleting a key still takes what belongs to it, by cascade, and its material with it.
        store.delete_key(key_id(2), OTHER_REGION)
        assert store.list_aliases(ACCOUNT, OTHER_REGION) == []
        assert store.list_grants(key_id(2), OTHER_REGION) == []
        assert store.list_key_materials(key_id(2)) == []
        assert store.list_key_materials(key_id(1)) != []
    finally:
        store.close()


def test_replicas_share_material_that_goes_with_the_last_of_them(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kmsd.db")
    try:
        primary = make_key(1, multi_region=True, primary_region=REGION)
        replica = make_key(1, region=OTHER_REGION, multi_region=True, primary_region=REGION)
        assert replica.is_replica and not primary.is_replica
        store.insert_key(primary)
        store.insert_key(replica)
        store.add_key_material(make_material(1))
        store.insert_alias(make_alias("alias/same-name", 1))
        store.insert_alias(make_alias("alias/same-name", 1, region=OTHER_REGION))
        store.insert_grant(make_grant(1, key=1))
        store.insert_grant(make_grant(2, key=1, region=OTHER_REGION))
        assert store.keys_with_id(key_id(1)) == [replica, primary]  # ordered by Region
        store.delete_key(key_id(1), REGION)
        assert store.get_key(key_id(1), REGION) is None
        assert store.get_key(key_id(1), OTHER_REGION) == replica
        assert store.list_key_materials(key_id(1)) == [make_material(1)]
        assert store.list_aliases(ACCOUNT, REGION) == []
        assert store.list_aliases(ACCOUNT, OTHER_REGION) == [make_alias("alias/same-name", 1, region=OTHER_REGION)]
        assert [grant.grant_id for grant in store.list_grants(key_id(1), OTHER_REGION)] == [make_grant(2).grant_id]
        store.delete_key(key_id(1), OTHER_REGION)
        assert store.list_key_materials(key_id(1)) == []
        with pytest.raises(StoreError, match="does not exist"):
            store.add_key_material(make_material(1))
    finally:
        store.close()


def test_a_migration_that_would_orphan_rows_is_rolled_back_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kmsd.db"
    _old_store(path, monkeypatch).close()
    monkeypatch.undo()
    # An alias whose key is missing, written behind the store's back with foreign keys off.
    raw = sqlite3.connect(path)
    raw.execute(
        "INSERT INTO aliases VALUES (?, ?, ?, ?, ?, ?)",
        (ACCOUNT, REGION, "alias/orphan", key_id(9), encode_time(T0), encode_time(T0)),
    )
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="aliases"):
        SqliteStore(path)
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == BEFORE
        assert raw.execute("SELECT count(*) FROM aliases").fetchone()[0] == 1
        columns = {row[1] for row in raw.execute("PRAGMA table_info(grants)")}
        assert "region" not in columns
    finally:
        raw.close()


def test_deleting_a_principal_rewrites_each_replica_s_own_policy(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kmsd.db")
    try:
        alice = user("Alice")
        store.insert_user(alice)
        # Two keys of one set, each with a policy of its own that names Alice.
        primary_policy = _policy_naming(alice.arn)
        replica_policy = json.dumps(json.loads(primary_policy) | {"Id": "replica"})
        store.insert_key(make_key(1, multi_region=True, primary_region=REGION, policy=primary_policy))
        store.insert_key(
            make_key(1, region=OTHER_REGION, multi_region=True, primary_region=REGION, policy=replica_policy)
        )
        store.delete_user(alice.user_id)
        primary, replica = store.get_key(key_id(1), REGION), store.get_key(key_id(1), OTHER_REGION)
        assert primary is not None and replica is not None
        assert json.loads(primary.policy) == json.loads(_policy_naming(alice.user_id))
        assert json.loads(replica.policy) == json.loads(_policy_naming(alice.user_id)) | {"Id": "replica"}
    finally:
        store.close()
