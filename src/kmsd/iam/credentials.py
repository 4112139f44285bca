"""Turning an access key id (and session token) into the principal that owns it and the secret to check its signature.

Three kinds of credentials resolve:

- long-term keys of the root user (``arn:aws:iam::ACCOUNT:root``) and of IAM
  users (``AKIA...``; an ``Inactive`` key resolves to nothing, so the API
  answers ``InvalidClientTokenId`` / ``UnrecognizedClientException``);
- session credentials from STS (``ASIA...``): the request's
  ``X-Amz-Security-Token`` must match the stored token hash, else the key does
  not resolve (AWS: "The security token included in the request is
  invalid."); past its expiry the session raises :class:`SessionExpired`,
  which the API answers with ``ExpiredToken`` / ``ExpiredTokenException``;
- with ``--dev``, AWS's well-known development credentials: access key id
  ``test`` (any secret) is the root user of ``000000000000``, and a 12-digit
  access key id (any secret) is the root user of that account, created on
  first use.  Their signatures cannot be checked, because the secret is
  anything; that is the point of the flag, and it is never on by default.

Long-term secrets live in the store wrapped under the root key; an unwrapped
secret is cached in memory because every request needs it.  The cache is
dropped by :meth:`CredentialResolver.invalidate`, which the API calls when the
store reports a commit from elsewhere (another process, another node) and the
IAM service calls after each of its writes, so a deactivated or deleted key,
a deleted user or a changed tag is seen by the very next request.
Invalidating also drops the identity-policy cache of the same store.  Expiry
and the token are checked on every request, cached or not.

The SigV4 signing keys derived from a secret are kept with that secret, in
:attr:`ResolvedCredentials.signing_keys`, and nowhere else: when the resolver
forgets a credential (invalidation after DeleteAccessKey or UpdateAccessKey
Inactive, a session found expired, the cache limit) its derived keys become
unreachable with it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The expired-token refusal belongs to SigV4 authentication; its error module depends on nothing above it.
from kmsd.clock import Clock, SystemClock
from kmsd.crypto import CryptoError, RootKey
from kmsd.iam.accounts import DEFAULT_ACCOUNT_ID, AccountDirectory, is_account_id, secret_purpose
from kmsd.iam.identity_policies import invalidate_identity_policies
from kmsd.iam.ids import SESSION_KEY_ID_PREFIX
from kmsd.iam.principal import Principal, Session, user_principal
from kmsd.iam.sessions import merged_tags, session_of, token_matches
from kmsd.store.base import Store
from kmsd.store.models import AccessKeyRecord, SessionRecord

DEV_ACCESS_KEY_ID = "test"
_CACHE_LIMIT = 10_000


class SessionExpired(Exception):
    """Temporary credentials used after their expiry (the API layer words it as AWS does)."""


@dataclass(frozen=True)
class ResolvedCredentials:
    principal: Principal
    secret_access_key: str | None  # None: a --dev credential whose signature is not checked
    # The SigV4 layer's derived signing keys of this secret (kmsd.api.sigv4.SigningKeyCache), kept here so
    # that they live exactly as long as the resolver remembers the secret.
    signing_keys: dict[tuple[str, str, str], Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class _Entry:
    resolved: ResolvedCredentials
    token_hash: bytes | None = None  # set for session credentials
    expires_at: datetime | None = None


class CredentialResolver:
    def __init__(
        self,
        store: Store,
        root_key: RootKey,
        accounts: AccountDirectory,
        *,
        dev: bool = False,
        clock: Clock | None = None,
    ) -> None:
        self._store = store
        self._root_key = root_key
        self._accounts = accounts
        self._dev = dev
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._cache: dict[str, _Entry] = {}
        self._generation = 0
        self._lock = threading.Lock()
        # Plain counters for the metrics (kmsd.api.metrics reads them when scraped): resolves answered from the
        # cache, and those that read the store.
        self.cache_hits = 0
        self.cache_misses = 0

    def invalidate(self) -> None:
        """Forget every cached credential and identity-policy set: IAM data changed."""
        with self._lock:
            self._cache.clear()
            self._generation += 1
        invalidate_identity_policies(self._store)

    def cached(self, access_key_id: str) -> ResolvedCredentials | None:
        """What the resolver holds in memory for ``access_key_id`` (its secret and signing keys), if anything."""
        entry = self._cache.get(access_key_id)
        return entry.resolved if entry is not None else None

    def resolve(self, access_key_id: str, security_token: str | None = None) -> ResolvedCredentials | None:
        """The owner of ``access_key_id``, or None when no usable key has that id.

        Raises :class:`SessionExpired` for session credentials past their expiry.
        """
        entry = self._cache.get(access_key_id)
        if entry is None:
            self.cache_misses += 1
            generation = self._generation
            entry = self._lookup(access_key_id)
            if entry is None:
                return None
            with self._lock:
                # A lookup that raced with an invalidation may have read the old state: don't keep it.
                if generation == self._generation:
                    if len(self._cache) >= _CACHE_LIMIT:
                        self._cache.clear()
                    self._cache[access_key_id] = entry
        else:
            self.cache_hits += 1
        return self._check(access_key_id, entry, security_token)

    def _check(self, access_key_id: str, entry: _Entry, security_token: str | None) -> ResolvedCredentials | None:
        if entry.token_hash is None:
            # A long-term key signs without a token: AWS refuses one that comes with a (stale) token.
            # The --dev credentials accept anything, a token included.
            if security_token and entry.resolved.secret_access_key is not None:
                return None
            return entry.resolved
        if not token_matches(entry.token_hash, security_token):
            return None
        if entry.expires_at is not None and self._clock.now() >= entry.expires_at:
            # An expired session can never sign again: forget its secret and signing keys now.
            with self._lock:
                if self._cache.get(access_key_id) is entry:
                    del self._cache[access_key_id]
            raise SessionExpired()
        return entry.resolved

    def _lookup(self, access_key_id: str) -> _Entry | None:
        if self._dev:
            if access_key_id == DEV_ACCESS_KEY_ID:
                self._accounts.ensure(DEFAULT_ACCOUNT_ID)
                return _Entry(ResolvedCredentials(Principal.root(DEFAULT_ACCOUNT_ID, access_key_id), None))
            if is_account_id(access_key_id):
                self._accounts.ensure(access_key_id)
                return _Entry(ResolvedCredentials(Principal.root(access_key_id, access_key_id), None))
        if access_key_id.startswith(SESSION_KEY_ID_PREFIX):
            return self._lookup_session(access_key_id)
        return self._lookup_long_term(access_key_id)

    def _unwrap(self, access_key_id: str, wrapped: bytes) -> str | None:
        try:
            return self._root_key.unwrap(wrapped, secret_purpose(access_key_id)).decode("ascii")
        except CryptoError:
            # A secret wrapped under another root key: the credential cannot be used here.
            return None

    def _lookup_long_term(self, access_key_id: str) -> _Entry | None:
        record = self._store.get_access_key(access_key_id)
        # IAM User Guide, "Manage access keys": an inactive key cannot be used to sign requests.
        if record is None or record.status != "Active":
            return None
        secret = self._unwrap(access_key_id, record.wrapped_secret)
        if secret is None:
            return None
        principal = self._owner_of(record)
        if principal is None:
            return None
        return _Entry(ResolvedCredentials(principal, secret))

    def _owner_of(self, record: AccessKeyRecord) -> Principal | None:
        if record.user_id is None:
            if record.principal_arn.endswith(":root"):
                return Principal.root(record.account_id, record.access_key_id)
            return None
        return self._user_principal(record.user_id, record.access_key_id)

    def _user_principal(self, user_id: str, access_key_id: str, session: Session | None = None) -> Principal | None:
        """The IAM user ``user_id`` as a caller; None when the user no longer exists."""
        user = self._store.get_user_by_id(user_id)
        if user is None:
            return None
        return user_principal(user, access_key_id, session)

    def _lookup_session(self, access_key_id: str) -> _Entry | None:
        record = self._store.get_session(access_key_id)
        if record is None:
            return None
        secret = self._unwrap(access_key_id, record.wrapped_secret)
        if secret is None:
            return None
        principal = self._session_principal(record)
        if principal is None:
            return None
        return _Entry(ResolvedCredentials(principal, secret), record.token_hash, record.expires_at)

    def _session_principal(self, record: SessionRecord) -> Principal | None:
        session = session_of(record)
        if record.kind == "assumed-role":
            # Roles are identified by their unique id: a session of a deleted role (even one
            # re-created under the same name) no longer names an existing role and cannot be used.
            role = self._store.get_role_by_id(record.role_id) if record.role_id is not None else None
            if role is None:
                return None
            return Principal(
                arn=record.principal_arn,
                account_id=record.account_id,
                kind="assumed-role",
                user_id=record.user_id,
                role_arn=role.arn,
                tags=merged_tags(role.tags, session.tags),
                access_key_id=record.access_key_id,
                session=session,
            )
        # GetSessionToken: the session acts as the user (or root user) that requested it.
        if record.source_user_id is None:
            root = Principal.root(record.account_id, record.access_key_id)
            return Principal(
                arn=root.arn,
                account_id=root.account_id,
                kind="root",
                user_id=root.user_id,
                access_key_id=record.access_key_id,
                session=session,
            )
        return self._user_principal(record.source_user_id, record.access_key_id, session)
