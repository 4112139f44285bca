"""The store's records of imported key materials: one per material, keyed by (key, Region, version), the
migration that turned migration 6's one row per key into them, and their deletion with their key."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from tests.store.records import REGION, T0, insert_key_at_version, key_id, make_key, make_material

import kmsd.store.sqlite.store as sqlite_module
from kmsd.store.migrations import LATEST_VERSION, MIGRATIONS
from kmsd.store.models import ImportedMaterialRecord
from kmsd.store.sqlite import SqliteStore

# The migration that made imported_key_materials, wherever later migrations put it.
IMPORTED_MIGRATION = next(
    number for number, migration in enumerate(MIGRATIONS, 1) if any("imported_key_materials (" in s for s in migration)
)


def record(n: int, version: int, **changes: object) -> ImportedMaterialRecord:
    base = ImportedMaterialRecord(key_id(n), REGION, version, bytes([version]) * 40, imported=True)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_records_are_kept_per_version_and_replaced_in_place(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kmsd.db")
    try:
        store.insert_key(make_key(1, origin="EXTERNAL"))
        store.put_imported_material(record(1, 2, description="new"))
        store.put_imported_material(record(1, 1, expiration_model="KEY_MATERIAL_EXPIRES", valid_to=T0))
        assert [r.version for r in store.list_imported_materials(key_id(1), REGION)] == [1, 2]
        assert store.list_imported_materials(key_id(1), "eu-west-1") == []
        store.put_imported_material(record(1, 1, imported=False))
        assert store.list_imported_materials(key_id(1), REGION)[0] == record(1, 1, imported=False)
        assert store.imported_materials_expired_by(T0) == []
        store.delete_imported_material(key_id(1), REGION, 2)
        assert [r.version for r in store.list_imported_materials(key_id(1), REGION)] == [1]
        store.delete_imported_materials(key_id(1), REGION)
        assert store.list_imported_materials(key_id(1), REGION) == []
    finally:
        store.close()


def test_one_generation_of_material_can_be_deleted(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "kmsd.db")
    try:
        store.insert_key(make_key(1))
        store.add_key_material(make_material(1, 1))
        store.add_key_material(make_material(1, 2, "ON_DEMAND"))
        store.delete_key_material(key_id(1), 1)
        assert [m.version for m in store.list_key_materials(key_id(1))] == [2]
    finally:
        store.close()


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
