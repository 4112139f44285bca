"""The store's records of imported key materials, on SQLite and PostgreSQL: one per material, keyed by (key,
Region, version), and their deletion.  The migration that turned migration 6's one row per key into them is
tested on SQLite files in ``test_sqlite_migrations.py``."""

from __future__ import annotations

from dataclasses import replace

from tests.store.records import REGION, T0, key_id, make_key, make_material
from tests.store.store_kinds import AnyStore

from kmsd.store.models import ImportedMaterialRecord


def record(n: int, version: int, **changes: object) -> ImportedMaterialRecord:
    base = ImportedMaterialRecord(key_id(n), REGION, version, bytes([version]) * 40, imported=True)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_records_are_kept_per_version_and_replaced_in_place(store: AnyStore) -> None:
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


def test_one_generation_of_material_can_be_deleted(store: AnyStore) -> None:
    store.insert_key(make_key(1))
    store.add_key_material(make_material(1, 1))
    store.add_key_material(make_material(1, 2, "ON_DEMAND"))
    store.delete_key_material(key_id(1), 1)
    assert [m.version for m in store.list_key_materials(key_id(1))] == [2]
