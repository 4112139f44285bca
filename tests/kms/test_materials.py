"""KeyMaterials: generations wrapped under the root key for their purpose, and the unwrapped cache."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import CiphertextBlob, CryptoError, FileRootKey, SeededRandomSource
from kmsd.kms.materials import KeyMaterials, material_purpose
from kmsd.store.models import KeyMaterialRecord, KeyRecord
from kmsd.store.sqlite import SqliteStore

KEY_A = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_B = "0b8e4ac9-5b5d-4c1e-9f0e-7c2d3a4b5c6d"
KEY_C = "9d0f1e2a-3b4c-4d5e-8f60-718293a4b5c6"


class CountingStore:
    """Delegates to a real store and counts ``get_key_material`` reads, to observe the cache."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = store
        self.material_reads = 0

    def get_key_material(self, key_id: str, version: int) -> KeyMaterialRecord | None:
        self.material_reads += 1
        return self._store.get_key_material(key_id, version)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def key_record(key_id: str, clock: ManualClock, version: int = 1) -> KeyRecord:
    return KeyRecord(
        key_id=key_id,
        account_id="111122223333",
        region="us-east-1",
        description="",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        key_state="Enabled",
        creation_date=clock.now(),
        policy="{}",
        current_material_version=version,
    )


@pytest.fixture
def sqlite(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "materials.db")
    yield opened
    opened.close()


@pytest.fixture
def store(sqlite: SqliteStore) -> CountingStore:
    return CountingStore(sqlite)


@pytest.fixture
def root(tmp_path: Path) -> FileRootKey:
    return FileRootKey.load_or_create(tmp_path / "root.key")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def materials(store: CountingStore, root: FileRootKey, clock: ManualClock) -> KeyMaterials:
    return KeyMaterials(store, root, SeededRandomSource(3), clock)


def add_key(store: CountingStore, materials: KeyMaterials, key_id: str, clock: ManualClock) -> KeyMaterialRecord:
    with store.transaction():
        store.insert_key(key_record(key_id, clock))
        return materials.create_first(key_id)


def test_create_first_stores_version_1_wrapped_for_its_purpose(
    store: CountingStore, materials: KeyMaterials, root: FileRootKey, clock: ManualClock
) -> None:
    record = add_key(store, materials, KEY_A, clock)
    assert (record.key_id, record.version, record.rotation_type, record.created_at) == (
        KEY_A,
        1,
        None,
        clock.now(),
    )
    assert len(record.material_id) == 64 and set(record.material_id) <= set("0123456789abcdef")
    assert store.get_key_material(KEY_A, 1) == record
    material = root.unwrap(record.wrapped_material, material_purpose(KEY_A, 1))
    assert len(material) == 32 and material not in record.wrapped_material
    assert materials.plaintext(KEY_A, 1) == material


def test_rotate_adds_the_next_version_with_new_material(
    store: CountingStore, materials: KeyMaterials, clock: ManualClock
) -> None:
    first = add_key(store, materials, KEY_A, clock)
    clock.set(clock.now().replace(year=2027))
    with store.transaction():
        second = materials.rotate(key_record(KEY_A, clock, version=1), "ON_DEMAND")
    assert (second.version, second.rotation_type, second.created_at) == (2, "ON_DEMAND", clock.now())
    assert second.material_id != first.material_id
    assert materials.plaintext(KEY_A, 2) != materials.plaintext(KEY_A, 1)


def test_unknown_generations_raise_crypto_error(
    store: CountingStore, materials: KeyMaterials, clock: ManualClock
) -> None:
    add_key(store, materials, KEY_A, clock)
    with pytest.raises(CryptoError):
        materials.plaintext(KEY_A, 2)
    with pytest.raises(CryptoError):
        materials.plaintext(KEY_B, 1)


def test_unwrapped_generations_are_cached(store: CountingStore, materials: KeyMaterials, clock: ManualClock) -> None:
    add_key(store, materials, KEY_A, clock)
    reads_before = store.material_reads
    first = materials.get(KEY_A, 1)
    second = materials.get(KEY_A, 1)
    assert first is second
    assert store.material_reads == reads_before + 1


def test_the_cached_cipher_seals_blobs_for_its_generation(
    store: CountingStore, materials: KeyMaterials, clock: ManualClock
) -> None:
    add_key(store, materials, KEY_A, clock)
    current = materials.get(KEY_A, 1)
    blob = CiphertextBlob.decode(current.cipher.encrypt(b"data", {"k": "v"}, SeededRandomSource(1)))
    assert (blob.key_id, blob.material_version) == (KEY_A, 1)
    assert current.cipher.decrypt(blob, {"k": "v"}) == b"data"


def test_forget_drops_a_keys_generations(store: CountingStore, materials: KeyMaterials, clock: ManualClock) -> None:
    add_key(store, materials, KEY_A, clock)
    add_key(store, materials, KEY_B, clock)
    materials.get(KEY_A, 1)
    materials.get(KEY_B, 1)
    reads = store.material_reads
    materials.forget(KEY_A)
    materials.get(KEY_B, 1)
    assert store.material_reads == reads
    materials.get(KEY_A, 1)
    assert store.material_reads == reads + 1


def test_a_deleted_key_is_unknown_once_forgotten(
    store: CountingStore, materials: KeyMaterials, clock: ManualClock
) -> None:
    add_key(store, materials, KEY_A, clock)
    materials.get(KEY_A, 1)
    with store.transaction():
        store.delete_key(KEY_A, "us-east-1")
    materials.forget(KEY_A)
    with pytest.raises(CryptoError):
        materials.get(KEY_A, 1)


def test_the_cache_is_bounded(store: CountingStore, root: FileRootKey, clock: ManualClock) -> None:
    materials = KeyMaterials(store, root, SeededRandomSource(3), clock, cache_entries=2)
    for key_id in (KEY_A, KEY_B, KEY_C):
        add_key(store, materials, key_id, clock)
        materials.get(key_id, 1)
    reads = store.material_reads
    materials.get(KEY_C, 1)
    materials.get(KEY_B, 1)
    assert store.material_reads == reads  # the two most recent are still cached
    materials.get(KEY_A, 1)
    assert store.material_reads == reads + 1  # the least recently used was evicted


def test_a_wrapped_generation_moved_to_another_key_does_not_unwrap(
    store: CountingStore, materials: KeyMaterials, clock: ManualClock
) -> None:
    # The wrap is bound to "key id + version": copying A's wrapped material under B must fail.
    record_a = add_key(store, materials, KEY_A, clock)
    with store.transaction():
        store.insert_key(key_record(KEY_B, clock))
        store.add_key_material(
            KeyMaterialRecord(KEY_B, 1, record_a.material_id, record_a.wrapped_material, clock.now())
        )
    with pytest.raises(CryptoError):
        materials.plaintext(KEY_B, 1)


def test_a_wrapped_generation_moved_to_another_version_does_not_unwrap(
    store: CountingStore, materials: KeyMaterials, clock: ManualClock
) -> None:
    record = add_key(store, materials, KEY_A, clock)
    with store.transaction():
        store.add_key_material(KeyMaterialRecord(KEY_A, 2, record.material_id, record.wrapped_material, clock.now()))
    with pytest.raises(CryptoError):
        materials.plaintext(KEY_A, 2)


def test_nothing_is_cached_when_the_creating_transaction_rolls_back(
    store: CountingStore, materials: KeyMaterials, clock: ManualClock
) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_key(key_record(KEY_A, clock))
        materials.create_first(KEY_A)
        raise RuntimeError("CreateKey failed after the material was added")
    with pytest.raises(CryptoError):
        materials.get(KEY_A, 1)


def test_another_root_key_cannot_read_the_store(
    store: CountingStore, materials: KeyMaterials, clock: ManualClock
) -> None:
    add_key(store, materials, KEY_A, clock)
    stranger = KeyMaterials(store, FileRootKey(bytes(32)), SeededRandomSource(3), clock)
    with pytest.raises(CryptoError):
        stranger.plaintext(KEY_A, 1)
