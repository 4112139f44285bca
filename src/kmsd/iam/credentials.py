"""Turning an access key id into the principal that owns it and the secret to check its signature.

Long-term keys live in the store with their secrets wrapped under the root
key; an unwrapped secret is cached in memory because every request needs it.
The cache is dropped whenever the store reports a commit from elsewhere (a
``kmsd accounts create`` in another process, another node), so a new account's
credentials work at once and a removed key stops working at once.

``--dev`` adds AWS's well-known development credentials: access key id
``test`` (any secret) is the root user of ``000000000000``, and a 12-digit
access key id (any secret) is the root user of that account, created on first
use.  Their signatures cannot be checked, because the secret is anything;
that is the point of the flag, and it is never on by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmsd.crypto import CryptoError, RootKey
from kmsd.iam.accounts import DEFAULT_ACCOUNT_ID, AccountDirectory, is_account_id, secret_purpose
from kmsd.iam.principal import Principal
from kmsd.store.base import Store

DEV_ACCESS_KEY_ID = "test"


@dataclass(frozen=True)
class ResolvedCredentials:
    principal: Principal
    secret_access_key: str | None  # None: a --dev credential whose signature is not checked


class CredentialResolver:
    def __init__(
        self, store: Store, root_key: RootKey, accounts: AccountDirectory, *, dev: bool = False
    ) -> None:
        self._store = store
        self._root_key = root_key
        self._accounts = accounts
        self._dev = dev
        self._cache: dict[str, ResolvedCredentials] = {}

    def invalidate(self) -> None:
        self._cache.clear()

    def resolve(self, access_key_id: str) -> ResolvedCredentials | None:
        """The owner of ``access_key_id``, or None when no active key has that id."""
        cached = self._cache.get(access_key_id)
        if cached is not None:
            return cached
        resolved = self._lookup(access_key_id)
        if resolved is not None:
            self._cache[access_key_id] = resolved
        return resolved

    def _lookup(self, access_key_id: str) -> ResolvedCredentials | None:
        if self._dev:
            if access_key_id == DEV_ACCESS_KEY_ID:
                self._accounts.ensure(DEFAULT_ACCOUNT_ID)
                return ResolvedCredentials(Principal.root(DEFAULT_ACCOUNT_ID, access_key_id), None)
            if is_account_id(access_key_id):
                self._accounts.ensure(access_key_id)
                return ResolvedCredentials(Principal.root(access_key_id, access_key_id), None)
        record = self._store.get_access_key(access_key_id)
        if record is None or record.status != "Active":
            return None
        try:
            secret = self._root_key.unwrap(record.wrapped_secret, secret_purpose(access_key_id)).decode(
                "ascii"
            )
        except CryptoError:
            # A secret wrapped under another root key: the credential cannot be used here.
            return None
        if record.principal_arn.endswith(":root"):
            principal = Principal.root(record.account_id, access_key_id)
        else:
            # IAM users arrive with the IAM issue; until then only root keys exist.
            return None
        return ResolvedCredentials(principal, secret)
