"""The per-key facts every authorization reads besides the key record: its grants, aliases and compiled policy.

Reading them from the store on every Encrypt would cost two queries per
call, so :class:`KeyFacts` keeps them per key id.  Any KMS write (a grant
created, retired or revoked, an alias created, moved or deleted, a key
deleted) drops everything it holds: the KMS service calls
:meth:`KeyFacts.invalidate` after each write operation, and when the store
reports a commit from another process or node.  Writes are rare next to
cryptographic calls, so the coarse invalidation costs little and can never
leave a stale grant in place.  The key record itself is not cached here: the
operation reads it anyway, so a changed key policy is effective for the next
request.  Compiled key policies are kept by document text (a changed
policy is a new text), so they need no invalidation.
"""

from __future__ import annotations

import threading
from typing import TypeVar

from kmsd.errors import AwsError
from kmsd.policy import Policy, PolicyKind, PolicyValidationError, parse_policy
from kmsd.store.base import Store
from kmsd.store.models import GrantRecord

_CACHE_LIMIT = 10_000
_KEY_POLICY_CACHE_LIMIT = 4096
KEY_POLICY_ID = "key-policy"
K = TypeVar("K")
V = TypeVar("V")


class KeyFacts:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._grants: dict[tuple[str, str], tuple[GrantRecord, ...]] = {}
        self._aliases: dict[tuple[str, str, str], tuple[str, ...]] = {}
        self._generation = 0
        self._policies: dict[str, Policy] = {}
        self._lock = threading.Lock()
        # Plain counters for the metrics (kmsd.api.metrics reads them when scraped), [hits, misses] per cache.
        self.counts: dict[str, list[int]] = {"grants": [0, 0], "aliases": [0, 0], "key_policies": [0, 0]}

    def grants(self, key_id: str, region: str) -> tuple[GrantRecord, ...]:
        """The grants on the key ``key_id`` in ``region``, oldest first."""
        identity = (key_id, region)
        found = self._grants.get(identity)
        counts = self.counts["grants"]
        if found is None:
            counts[1] += 1
            generation = self._generation
            found = tuple(self._store.list_grants(key_id, region))
            self._keep(self._grants, identity, found, generation)
        else:
            counts[0] += 1
        return found

    def aliases(self, account_id: str, region: str, key_id: str) -> tuple[str, ...]:
        """The names of the aliases that point at ``key_id`` (the key's ``kms:ResourceAliases``)."""
        cache_key = (account_id, region, key_id)
        found = self._aliases.get(cache_key)
        counts = self.counts["aliases"]
        if found is None:
            counts[1] += 1
            generation = self._generation
            found = tuple(alias.alias_name for alias in self._store.list_aliases(account_id, region, key_id))
            self._keep(self._aliases, cache_key, found, generation)
        else:
            counts[0] += 1
        return found

    def refresh(self, account_id: str, region: str, key_id: str) -> bool:
        """Read the key's grants and aliases from the store again and keep them; whether they differ from what
        was cached (a grant or alias made by another node whose notification has not arrived yet)."""
        generation = self._generation
        grants = tuple(self._store.list_grants(key_id, region))
        aliases = tuple(alias.alias_name for alias in self._store.list_aliases(account_id, region, key_id))
        changed = self._grants.get((key_id, region)) != grants or self._aliases.get((account_id, region, key_id)) != (
            aliases
        )
        self._keep(self._grants, (key_id, region), grants, generation)
        self._keep(self._aliases, (account_id, region, key_id), aliases, generation)
        return changed

    def key_policy(self, text: str) -> Policy:
        """The key policy ``text``, compiled; a stored policy that no longer parses fails closed."""
        # A dictionary hit costs less than the parser's own hash of the text.
        found = self._policies.get(text)
        counts = self.counts["key_policies"]
        if found is not None:
            counts[0] += 1
            return found
        counts[1] += 1
        try:
            policy = parse_policy(text, PolicyKind.RESOURCE, KEY_POLICY_ID)
        except PolicyValidationError:
            raise AwsError("KMSInternalException", "", 500) from None
        if len(self._policies) >= _KEY_POLICY_CACHE_LIMIT:
            self._policies.clear()
        self._policies[text] = policy
        return policy

    def invalidate(self) -> None:
        """Forget everything: a KMS write happened here, or another process committed."""
        with self._lock:
            self._grants.clear()
            self._aliases.clear()
            self._generation += 1

    def _keep(self, cache: dict[K, V], key: K, value: V, generation: int) -> None:
        with self._lock:
            # A value read while an invalidation ran may predate the write: use it once, don't keep it.
            if generation != self._generation:
                return
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            cache[key] = value
