"""The IAM policies that apply to a principal, compiled once and cached: identity, permissions boundary, session.

IAM User Guide, "Policy evaluation logic" and "Session policies":

- an IAM user is governed by its inline policies, the managed policies
  attached to it, the inline and attached policies of every group it belongs
  to, and its permissions boundary;
- a role session by the role's inline and attached policies, the role's
  permissions boundary, and the session policies passed to AssumeRole
  (``Policy`` and ``PolicyArns``), which can only narrow what the role allows;
- a GetSessionToken session "has the same permissions as the IAM user" (or
  the root user) that requested it: no session policies;
- the root user has no identity policies at all (``is_root``).

The KMS authorizer asks for a principal's set on every request, so sets are
cached per store and a hit is one dictionary lookup.  Every IAM write drops
the cache (:func:`invalidate_identity_policies`: the IAM service calls it
after each write, and the credential resolver's ``invalidate`` calls it when
the API learns that another process committed).  A stored document that no
longer parses raises :class:`StoredPolicyError` rather than being skipped:
skipping it could drop a ``Deny``.  A managed session policy or boundary that no longer exists is
replaced by one that allows nothing, so its absence can only narrow access.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Protocol

from kmsd.iam.principal import Principal
from kmsd.policy import Policy, PolicyKind, PolicyValidationError, SizeLimit, parse_policy
from kmsd.policy.limits import GROUP_INLINE_POLICY, ROLE_INLINE_POLICY, USER_INLINE_POLICY
from kmsd.store.base import Store
from kmsd.store.models import OwnerKind

_CACHE_LIMIT = 10_000
# Matches no action at all: it stands in for a boundary or session policy that has disappeared.
_ALLOWS_NOTHING = '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"*","Resource":"*"}]}'
_INLINE_LIMITS: dict[OwnerKind, SizeLimit] = {
    "user": USER_INLINE_POLICY,
    "group": GROUP_INLINE_POLICY,
    "role": ROLE_INLINE_POLICY,
}


class HasStore(Protocol):
    """Any service context: the IAM service's, the STS service's, the KMS authorizer's."""

    @property
    def store(self) -> Store: ...


class StoredPolicyError(Exception):
    """A policy document in the store does not parse; the request it would decide must fail closed."""


@dataclass(frozen=True)
class IdentityPolicySet:
    """The policies of one principal, each tagged with its kind; ``policies`` is what ``evaluate`` takes."""

    identity: tuple[Policy, ...] = ()
    boundary: Policy | None = None
    session: tuple[Policy, ...] = ()
    is_root: bool = False
    policies: tuple[Policy, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        combined = self.identity + ((self.boundary,) if self.boundary is not None else ()) + self.session
        # Derived once, so evaluating on every request doesn't rebuild the tuple.
        object.__setattr__(self, "policies", combined)


ROOT_POLICIES = IdentityPolicySet(is_root=True)
NO_POLICIES = IdentityPolicySet()


class _Cache:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], IdentityPolicySet] = {}
        self.generation = 0
        self.lock = threading.Lock()


_caches: weakref.WeakKeyDictionary[Store, _Cache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_for(store: Store) -> _Cache:
    cache = _caches.get(store)
    if cache is None:
        with _caches_lock:
            cache = _caches.setdefault(store, _Cache())
    return cache


def invalidate_identity_policies(store: Store) -> None:
    """Drop every cached set of ``store``: an IAM write happened here or in another process."""
    cache = _cache_for(store)
    with cache.lock:
        cache.entries.clear()
        cache.generation += 1


def identity_policies_for(ctx: HasStore, principal: Principal) -> IdentityPolicySet:
    """The compiled policies that govern ``principal``'s requests (see the module docstring)."""
    store = ctx.store
    if principal.kind == "root":
        return ROOT_POLICIES
    if principal.kind == "assumed-role":
        key = ("session", principal.session.access_key_id if principal.session is not None else principal.user_id)
    else:
        key = ("user", principal.user_id)
    cache = _cache_for(store)
    found = cache.entries.get(key)
    if found is not None:
        return found
    generation = cache.generation
    built = _build(store, principal)
    with cache.lock:
        # A set built while an invalidation ran may mix old and new state: use it once, don't keep it.
        if generation == cache.generation:
            if len(cache.entries) >= _CACHE_LIMIT:
                cache.entries.clear()
            cache.entries[key] = built
    return built


def _build(store: Store, principal: Principal) -> IdentityPolicySet:
    if principal.kind == "assumed-role":
        return _role_session_set(store, principal)
    return _user_set(store, principal.user_id)


def _user_set(store: Store, user_id: str) -> IdentityPolicySet:
    user = store.get_user_by_id(user_id)
    if user is None:
        return NO_POLICIES
    policies = owned_policies(store, "user", user.user_id, user.arn)
    for group in store.list_groups_for_user(user.user_id):
        policies.extend(owned_policies(store, "group", group.group_id, group.arn))
    boundary = _boundary(store, user.permissions_boundary_arn)
    return IdentityPolicySet(identity=_unique(policies), boundary=boundary)


def _role_session_set(store: Store, principal: Principal) -> IdentityPolicySet:
    session = principal.session
    role = store.get_role_by_id(session.role_id) if session is not None and session.role_id is not None else None
    if session is None or role is None:
        return NO_POLICIES
    identity = _unique(owned_policies(store, "role", role.role_id, role.arn))
    boundary = _boundary(store, role.permissions_boundary_arn)
    session_policies: list[Policy] = []
    if session.policy is not None:
        session_policies.append(_parse(session.policy, PolicyKind.SESSION, f"{principal.arn}#session-policy"))
    for arn in session.policy_arns:
        # AssumeRole refuses another account's policy; a session stored before that rule gets nothing from one.
        owner = arn.split(":", 5)[4] if arn.count(":") >= 5 else ""
        document = _managed_document(store, arn) if owner in (role.account_id, "aws") else None
        session_policies.append(_parse(document or _ALLOWS_NOTHING, PolicyKind.SESSION, arn))
    return IdentityPolicySet(identity=identity, boundary=boundary, session=tuple(session_policies))


def owned_policies(store: Store, owner_kind: OwnerKind, owner_id: str, owner_arn: str) -> list[Policy]:
    """The inline and attached managed policies of one user, group or role, as identity policies."""
    policies = [
        _parse(
            inline.document,
            PolicyKind.IDENTITY,
            f"{owner_arn}#{inline.policy_name}",
            _INLINE_LIMITS[owner_kind],
        )
        for inline in store.list_inline_policies(owner_kind, owner_id)
    ]
    for arn in store.list_attached_policies(owner_kind, owner_id):
        document = _managed_document(store, arn)
        if document is not None:
            policies.append(_parse(document, PolicyKind.IDENTITY, arn))
    return policies


def _boundary(store: Store, arn: str | None) -> Policy | None:
    if arn is None:
        return None
    document = _managed_document(store, arn)
    return _parse(document or _ALLOWS_NOTHING, PolicyKind.PERMISSIONS_BOUNDARY, arn)


def _managed_document(store: Store, arn: str) -> str | None:
    """The default version's document of a managed policy, or None when the policy is gone."""
    policy = store.get_policy(arn)
    if policy is None:
        return None
    version = store.get_policy_version(arn, policy.default_version_id)
    return version.document if version is not None else None


def _parse(document: str, kind: PolicyKind, policy_id: str, limit: SizeLimit | None = None) -> Policy:
    try:
        return parse_policy(document, kind, policy_id, max_size=limit)
    except PolicyValidationError as error:
        raise StoredPolicyError(f"stored policy `{policy_id}` does not parse: {error.message}") from None


def _unique(policies: list[Policy]) -> tuple[Policy, ...]:
    """Each policy once, even when attached both to a user and to one of its groups."""
    seen: set[str] = set()
    unique: list[Policy] = []
    for policy in policies:
        if policy.policy_id not in seen:
            seen.add(policy.policy_id)
            unique.append(policy)
    return tuple(unique)
