"""A purged key's material leaves the memory of every process, and the cache holds one copy of each material.

Two :class:`KmsService` objects on two :class:`SqliteStore` objects of one file stand for two processes:
one purges the key, the other must drop its cached material when it next checks for others' commits
(``invalidate_caches``, as the API does) or sweeps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.kms.materials import UnwrappedMaterial
from kmsd.kms.service import KmsService
from kmsd.store.sqlite import SqliteStore
from tests.kms.conftest import Kms, caller_for


@pytest.fixture
def other_store(store: SqliteStore) -> Iterator[SqliteStore]:
    opened = SqliteStore(store.path)
    yield opened
    opened.close()


def _cached_key_ids(service: KmsService) -> set[str]:
    return {key_id for key_id, _ in service.context.materials._cache}


def _doomed_key(kms: Kms, clock: ManualClock) -> str:
    key_id: str = kms.create_key()["KeyId"]
    kms("Encrypt", KeyId=key_id, Plaintext=b"cached")
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    clock.advance(timedelta(days=8))
    return key_id


@pytest.mark.parametrize("notice", ["invalidate_caches", "sweep"])
def test_another_process_drops_a_purged_keys_material(
    notice: str, store: SqliteStore, other_store: SqliteStore, root_key: FileRootKey, clock: ManualClock
) -> None:
    purger = KmsService(store, root_key, clock, SeededRandomSource(1))
    bystander = KmsService(other_store, root_key, clock, SeededRandomSource(2))
    kms, watcher = Kms(purger, caller_for()), Kms(bystander, caller_for())
    kept: str = kms.create_key()["KeyId"]
    watcher("Encrypt", KeyId=kept, Plaintext=b"cached")
    doomed_id = kms.create_key()["KeyId"]
    watcher("Encrypt", KeyId=doomed_id, Plaintext=b"cached")
    kms("ScheduleKeyDeletion", KeyId=doomed_id, PendingWindowInDays=7)
    clock.advance(timedelta(days=8))
    bystander.invalidate_caches()  # what it knew before the purge
    assert doomed_id in _cached_key_ids(bystander)

    purger.sweep()
    assert doomed_id not in _cached_key_ids(purger)
    assert other_store.changed_since_last_check()
    getattr(bystander, notice)()
    assert doomed_id not in _cached_key_ids(bystander)
    # Keys that live on are unwrapped again on their next use.
    watcher("Encrypt", KeyId=kept, Plaintext=b"again")
    assert _cached_key_ids(bystander) == {kept}
    # Without a further purge, the next check keeps the cache.
    bystander.invalidate_caches()
    assert _cached_key_ids(bystander) == {kept}


def test_the_purging_process_drops_the_material_at_once(service: KmsService, clock: ManualClock) -> None:
    kms = Kms(service, caller_for())
    key_id = _doomed_key(kms, clock)
    assert key_id in _cached_key_ids(service)
    service.sweep()
    assert key_id not in _cached_key_ids(service)


def test_the_cache_keeps_one_copy_of_the_material(service: KmsService) -> None:
    kms = Kms(service, caller_for())
    key_id: str = kms.create_key()["KeyId"]
    kms("Encrypt", KeyId=key_id, Plaintext=b"x")
    (entry,) = service.context.materials._cache.values()
    # The material lives in the prepared cipher only; no field keeps its bytes beside it.
    names = [field.name for field in dataclasses.fields(UnwrappedMaterial)]
    assert names == ["key_id", "version", "material_id", "cipher"]
    assert not any(isinstance(getattr(entry, name), bytes) for name in names)
