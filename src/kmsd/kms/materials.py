"""Key material: creating and rotating a key's generations, and holding them unwrapped in memory.

Every generation of a key's material is stored wrapped under the root key,
with the wrap bound to its purpose ``kmsd/key-material/<key id>/<version>``
so that a wrapped value copied to another key or version will not unwrap.
Ciphertext blobs name the generation that sealed them, so old generations
stay readable after rotation.

Unwrapping costs a root-key decryption and a store read, which is too much
for every Encrypt, so :class:`KeyMaterials` keeps unwrapped generations,
ready as :class:`~kmsd.crypto.SymmetricKey` objects, in a bounded LRU cache
keyed by (key id, version).  The cache holds one copy of each material: the
prepared cipher, not the bytes beside it (:meth:`KeyMaterials.plaintext`
unwraps afresh and keeps nothing).  Nothing is cached at creation time: the
caller's transaction may still roll back, and the first read will load it anyway.

A generation never changes once written, but a key's deletion must take its
material out of every process's memory, not only the one that purged it
(AWS: deletion is irreversible).  The purge drops the key's entries at once
(:meth:`KeyMaterials.forget`) and counts itself in the store
(:meth:`KeyMaterials.count_purge`, in the purge's transaction); every process
compares that count on each sweep and whenever it sees another process's
commit (:meth:`KeyMaterials.drop_if_purged_elsewhere`) and empties its cache
when it moved.  Dropping everything rather than the purged keys alone keeps
the check to one read; the price is one unwrap per generation in use after a
purge, which is rare.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from kmsd.clock import Clock
from kmsd.crypto import (
    BlobCipher,
    CryptoError,
    RandomSource,
    RootKey,
    SymmetricKey,
    new_material_id,
    new_symmetric_material,
)
from kmsd.store.base import Store
from kmsd.store.models import KeyMaterialRecord, KeyRecord

DEFAULT_CACHE_ENTRIES = 65_536
# The store setting that counts purges, so that every process learns that material was deleted.
PURGE_COUNT_SETTING = "kms_key_purges"


def material_purpose(key_id: str, version: int) -> bytes:
    """What a generation's wrap is bound to: its key and its version."""
    return f"kmsd/key-material/{key_id}/{version}".encode()


@dataclass(frozen=True)
class UnwrappedMaterial:
    """One generation of a key's material, ready to use, with the identifiers responses report.

    The material itself lives only inside ``cipher``: keeping the bytes too would be a second copy in memory.
    """

    key_id: str
    version: int
    material_id: str  # AWS's KeyMaterialId
    cipher: BlobCipher  # a SymmetricKey, or a key inside an HSM token


class KeyMaterials:
    def __init__(
        self,
        store: Store,
        root_key: RootKey,
        rng: RandomSource,
        clock: Clock,
        cache_entries: int = DEFAULT_CACHE_ENTRIES,
    ) -> None:
        self._store = store
        self._root_key = root_key
        self._rng = rng
        self._clock = clock
        self._cache_entries = cache_entries
        self._cache: OrderedDict[tuple[str, int], UnwrappedMaterial] = OrderedDict()
        self._lock = threading.Lock()
        self._purges_seen: str | None = None  # the store's purge count when the cache was last checked
        # Plain counters for the metrics (kmsd.api.metrics reads them when scraped).
        self.cache_hits = 0
        self.cache_misses = 0

    def create_first(self, key_id: str, material: bytes | None = None) -> KeyMaterialRecord:
        """Store version 1 of a new key's material, wrapped; the caller holds the transaction.

        ``material`` is an asymmetric or HMAC key's (its spec decides its form); without it, fresh
        symmetric material is generated.
        """
        return self._add(key_id, 1, rotation_type=None, material=material)

    def add_imported(self, key_id: str, version: int, material_id: str, material: bytes) -> KeyMaterialRecord:
        """Store imported material as generation ``version``, wrapped like generated material."""
        record = KeyMaterialRecord(
            key_id=key_id,
            version=version,
            material_id=material_id,
            wrapped_material=self._root_key.wrap(material, material_purpose(key_id, version)),
            created_at=self._clock.now(),
        )
        self._store.add_key_material(record)
        return record

    def rotate(self, key: KeyRecord, rotation_type: str) -> KeyMaterialRecord:
        """Add version ``key.current_material_version + 1``; the caller then stores the key pointing at it."""
        return self._add(key.key_id, key.current_material_version + 1, rotation_type=rotation_type)

    def plaintext(self, key_id: str, version: int) -> bytes:
        """The unwrapped material of one generation, read afresh and not cached; CryptoError when unknown."""
        return self._unwrap(key_id, version)[1]

    def get(self, key_id: str, version: int) -> UnwrappedMaterial:
        """One generation, unwrapped and ready to use (cached); CryptoError when unknown or unreadable."""
        cache_key = (key_id, version)
        with self._lock:
            cached = self._cache.get(cache_key)
            if cached is not None:
                self._cache.move_to_end(cache_key)
                self.cache_hits += 1
                return cached
            self.cache_misses += 1
        loaded = self._load(key_id, version)
        with self._lock:
            self._cache[cache_key] = loaded
            self._cache.move_to_end(cache_key)
            while len(self._cache) > self._cache_entries:
                self._cache.popitem(last=False)
        return loaded

    def forget(self, key_id: str) -> None:
        """Drop every cached generation of ``key_id`` (the key was deleted)."""
        with self._lock:
            for cache_key in [entry for entry in self._cache if entry[0] == key_id]:
                del self._cache[cache_key]

    def forget_all(self) -> None:
        """Drop every cached generation of every key."""
        with self._lock:
            self._cache.clear()

    def count_purge(self) -> None:
        """Count a key's purge in the store; the caller holds the purge's transaction."""
        count = self._store.get_setting(PURGE_COUNT_SETTING)
        self._store.set_setting(PURGE_COUNT_SETTING, str(int(count or "0") + 1))

    def drop_if_purged_elsewhere(self) -> bool:
        """Empty the cache if a key was purged (by any process) since the last check; whether it did."""
        count = self._store.get_setting(PURGE_COUNT_SETTING)
        if count == self._purges_seen:
            return False
        # Forget first, then note the count: a purge committed in between is caught by the next check.
        self.forget_all()
        self._purges_seen = count
        return True

    def _add(
        self, key_id: str, version: int, rotation_type: str | None, material: bytes | None = None
    ) -> KeyMaterialRecord:
        if material is None:
            material = new_symmetric_material(self._rng)
        record = KeyMaterialRecord(
            key_id=key_id,
            version=version,
            material_id=new_material_id(self._rng),
            wrapped_material=self._root_key.wrap(material, material_purpose(key_id, version)),
            created_at=self._clock.now(),
            rotation_type=rotation_type,
        )
        self._store.add_key_material(record)
        return record

    def _load(self, key_id: str, version: int) -> UnwrappedMaterial:
        record, material = self._unwrap(key_id, version)
        try:
            cipher = SymmetricKey(material, key_id, version)
        except ValueError:
            # Material of the wrong size can only come from a damaged store; treat it as unreadable.
            raise CryptoError() from None
        return UnwrappedMaterial(key_id, version, record.material_id, cipher)

    def _unwrap(self, key_id: str, version: int) -> tuple[KeyMaterialRecord, bytes]:
        record = self._store.get_key_material(key_id, version)
        if record is None:
            raise CryptoError()
        return record, self._root_key.unwrap(record.wrapped_material, material_purpose(key_id, version))
