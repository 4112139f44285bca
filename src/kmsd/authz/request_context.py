"""The request context of one KMS permission check: the global ``aws:*`` keys plus the ``kms:*`` keys it supports.

AWS KMS Developer Guide, "AWS KMS condition keys" and "AWS global condition
context keys" (IAM User Guide).  The global keys come from
:func:`kmsd.iam.authorization.request_context_keys` (``aws:SourceIp`` is the
address the API layer trusted: the TCP peer, or the configured proxy
header).  On top of them, each check carries only the keys its operation
supports (the ``condition_keys`` of its row in
:mod:`kmsd.authz.permissions`):

- facts about the key used: ``kms:KeySpec``, ``kms:KeyUsage``,
  ``kms:KeyOrigin``, ``kms:MultiRegion``, ``kms:ResourceAliases``,
  ``aws:ResourceTag/*``; for CreateKey the same keys describe the key the
  request would create, defaults included ("This type of condition works even
  when the parameter doesn't appear in the request");
- facts about the call: ``kms:CallerAccount``, ``kms:ViaService`` (absent
  unless a trusted service header named the service), ``kms:RequestAlias``
  (the alias name when ``KeyId`` was an alias name or alias ARN);
- request members: the encryption context (``kms:EncryptionContext:<key>``
  and ``kms:EncryptionContextKeys``; ReEncrypt's source context for
  ``kms:ReEncryptFrom`` and destination context for ``kms:ReEncryptTo``), the
  algorithm in the request or the one the operation uses, the grant's
  operations, principals and constraint type, the tags of CreateKey and
  TagResource (``aws:RequestTag/*``, ``aws:TagKeys``), and so on.

``aws:ResourceTag/*`` and ``kms:ResourceAliases`` are IAM-only
(:data:`IAM_ONLY_KEYS`): KMS supplies them to identity-based policies,
permissions boundaries and session policies, never to the key policy, where a
condition on one sees no key.  ``kms:RequestAlias`` is not: it works in key
policies too.

Multivalued keys (``kms:EncryptionContextKeys``, ``kms:ResourceAliases``,
``kms:GrantOperations``, ``aws:TagKeys``) are tuples and are left out when
empty, so ``Null`` conditions see no encryption context as no key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

from kmsd.authz.permissions import OperationPermissions, Permission, Target
from kmsd.clock import Clock
from kmsd.crypto.attestation import Attestation
from kmsd.crypto.key_spec import default_encryption_algorithm, default_key_spec
from kmsd.iam.authorization import principal_info, request_context_keys
from kmsd.iam.principal import Caller, Principal
from kmsd.policy import PrincipalInfo, RequestContext
from kmsd.store.models import KeyRecord

ContextValue = str | tuple[str, ...]

# Keys KMS evaluates only in IAM policies, not in key policies.  KMS Developer Guide, "Use tags to control
# access to KMS keys": "the aws:ResourceTag/tag-key condition key is supported only in IAM policies. It isn't
# supported in key policies"; "Condition keys for AWS KMS", kms:ResourceAliases: "You can use this condition
# key only in IAM policies."
IAM_ONLY_KEYS = frozenset({"aws:ResourceTag/*", "kms:ResourceAliases"})

# "kms:CustomerMasterKeySpec" and "kms:CustomerMasterKeyUsage" are deprecated names that "work the same way.
# Only the names differ.": each is set wherever the key it stands for is.
DEPRECATED_KEYS = {"kms:CustomerMasterKeySpec": "kms:KeySpec", "kms:CustomerMasterKeyUsage": "kms:KeyUsage"}


# The request member under which the KMS service hands on the attestation document of ``Recipient`` once it has
# verified it (kmsd.kms.recipient); no AWS member has a colon in its name, so no request can set it.
VERIFIED_ATTESTATION = "kmsd:VerifiedAttestation"
# "Condition keys for Nitro Enclaves": kms:RecipientAttestation:ImageSha384 is PCR0 of the verified document, and
# kms:RecipientAttestation:PCR<n> is its PCR n, as lower-case hex; both exist only when the request has one.
IMAGE_SHA384 = "kms:RecipientAttestation:ImageSha384"
PCR_PREFIX = "kms:RecipientAttestation:PCR"

# Condition keys set straight from one request member, when the request has it.
_FROM_MEMBER: tuple[tuple[str, str], ...] = (
    ("kms:DataKeyPairSpec", "KeyPairSpec"),
    ("kms:SigningAlgorithm", "SigningAlgorithm"),
    ("kms:MacAlgorithm", "MacAlgorithm"),
    ("kms:KeyAgreementAlgorithm", "KeyAgreementAlgorithm"),
    ("kms:WrappingAlgorithm", "WrappingAlgorithm"),
    ("kms:WrappingKeySpec", "WrappingKeySpec"),
    ("kms:ReplicaRegion", "ReplicaRegion"),
    ("kms:PrimaryRegion", "PrimaryRegion"),
    ("kms:GranteePrincipal", "GranteePrincipal"),
    ("kms:RetiringPrincipal", "RetiringPrincipal"),
)

# Condition keys whose request member has a documented default, used when the member is absent.
_WITH_DEFAULT: tuple[tuple[str, str, str], ...] = (
    # ScheduleKeyDeletion: "If you do not include a value, it defaults to 30."
    ("kms:ScheduleKeyDeletionPendingWindowInDays", "PendingWindowInDays", "30"),
    # EnableKeyRotation: RotationPeriodInDays "The default value is 365 days."
    ("kms:RotationPeriodInDays", "RotationPeriodInDays", "365"),
    # Sign/Verify: MessageType "The default value is RAW."
    ("kms:MessageType", "MessageType", "RAW"),
    # GetKeyPolicy/PutKeyPolicy: "If the request doesn't include PolicyName, the value of kms:PolicyName is default."
    ("kms:PolicyName", "PolicyName", "default"),
    # ImportKeyMaterial: ExpirationModel "The default is KEY_MATERIAL_EXPIRES"; a condition on a request
    # parameter "works even when the parameter doesn't appear in the request" ("AWS KMS condition keys").
    ("kms:ExpirationModel", "ExpirationModel", "KEY_MATERIAL_EXPIRES"),
)


class CheckFacts(NamedTuple):
    """Everything one permission check reads, besides the permission itself.

    ``key`` is the key the permission targets (None for ``*``, alias and
    principal targets); ``aliases`` are the alias names that point at it;
    ``request_alias`` the alias name the request used to name it.
    """

    caller: Caller
    params: Mapping[str, Any]
    resource: str
    key: KeyRecord | None = None
    aliases: tuple[str, ...] = ()
    request_alias: str | None = None
    via_service: str | None = None
    same_key: bool | None = None  # ReEncrypt: whether the destination is the source key


def build_request_context(
    row: OperationPermissions,
    permission: Permission,
    facts: CheckFacts,
    clock: Clock,
    overrides: Mapping[str, str | Sequence[str]] | None = None,
) -> RequestContext:
    """The :class:`RequestContext` of ``permission`` (one check of the operation ``row``).

    ``overrides`` replace or add condition keys (``kmsd authz explain --context``); key names
    compare case-insensitively, as in policies.
    """
    caller = facts.caller
    if row.operation == "ReplicateKey" and permission.target is not Target.KEY:
        # ReplicateKey needs "kms:CreateKey in an IAM policy in the replica Region" (and kms:TagResource there):
        # that part of the call is made in the replica Region, which is its aws:RequestedRegion.
        caller = replace(caller, region=str(facts.params.get("ReplicaRegion") or caller.region))
    global_keys = _global_keys(caller, clock)
    supported = row.condition_keys
    params = facts.params
    principal = _principal_info(caller.principal)
    # The keys set from request members and call facts, after the caller's and the key's: they never share a
    # name with those, so adding them to a copy of the base equals setting them on it one by one.
    request_keys: dict[str, str | Sequence[str]] = {}
    _add_member_keys(request_keys, row, permission, params)
    if "kms:ReEncryptOnSameKey" in supported and facts.same_key is not None:
        request_keys["kms:ReEncryptOnSameKey"] = "true" if facts.same_key else "false"
    if "kms:GrantIsForAWSResource" in supported:
        # True only when an AWS service integrated with KMS makes the grant call on the user's behalf.
        request_keys["kms:GrantIsForAWSResource"] = "true" if facts.via_service is not None else "false"
    if (permission.target is Target.NEW_KEY or row.operation in _CREATING) and permission.target is not Target.KEY:
        # A key being created has no tags or aliases to condition on yet: its request describes it.  ReplicateKey's
        # kms:ReplicateKey is checked on the primary key, which exists: the key describes itself.
        keys = _call_keys(global_keys, supported, facts, _created_key_keys(params, supported))
    else:
        key = facts.key if permission.target is not Target.ALIAS else None
        base = _base_keys(global_keys, row, facts, key)
        if not overrides:
            return _context_over(base, request_keys, permission.action, facts.resource, principal)
        keys = dict(base)
    keys.update(request_keys)
    if overrides:
        replaced = {name.lower() for name in overrides}
        keys = {name: value for name, value in keys.items() if name.lower() not in replaced}
        keys.update(overrides)
    return RequestContext(permission.action, facts.resource, principal, keys, iam_only_keys=IAM_ONLY_KEYS)


_CONTEXT_LIMIT = 10_000
# (id of the base keys, id of the principal, action, resource, the request's own keys) -> (that base, that
# principal, the context).  A request context is immutable, so requests that would build equal ones (the
# same caller within a second, the same key, the same members) share one; the entry holds the objects it
# names by id, and a hit is checked by identity.
_contexts: dict[tuple[object, ...], tuple[Mapping[str, str | Sequence[str]], PrincipalInfo, RequestContext]] = {}


def _context_over(
    base: Mapping[str, str | Sequence[str]],
    request_keys: dict[str, str | Sequence[str]],
    action: str,
    resource: str,
    principal: PrincipalInfo,
) -> RequestContext:
    """The context of ``base`` plus ``request_keys``, shared by the checks that would build equal ones."""
    cache_key = (id(base), id(principal), action, resource, *request_keys.items())
    try:
        found = _contexts.get(cache_key)
        hashable = True
    except TypeError:
        # A member value that cannot be hashed (not one the model produces): build the context uncached.
        found, hashable = None, False
    if found is not None and found[0] is base and found[1] is principal:
        return found[2]
    keys = dict(base)
    keys.update(request_keys)
    context = RequestContext(action, resource, principal, keys, iam_only_keys=IAM_ONLY_KEYS)
    if hashable:
        if len(_contexts) >= _CONTEXT_LIMIT:
            _contexts.clear()
        _contexts[cache_key] = (base, principal, context)
    return context


_CREATING = frozenset({"CreateKey", "ReplicateKey"})


def _call_keys(
    global_keys: Mapping[str, str | list[str]],
    supported: frozenset[str],
    facts: CheckFacts,
    described: Mapping[str, ContextValue],
) -> dict[str, str | Sequence[str]]:
    """The keys that depend on the caller, the call's origin and the key (``described``), on no request member."""
    keys: dict[str, str | Sequence[str]] = dict(global_keys)
    if facts.via_service is not None:
        # A service that calls KMS on a principal's behalf makes the request "via an AWS service".
        keys["aws:ViaAWSService"] = "true"
    if "kms:CallerAccount" in supported:
        keys["kms:CallerAccount"] = facts.caller.principal.account_id
    if "kms:ViaService" in supported and facts.via_service is not None:
        keys["kms:ViaService"] = facts.via_service
    keys.update(described)
    if "kms:RequestAlias" in supported and facts.request_alias is not None:
        keys["kms:RequestAlias"] = facts.request_alias
    return keys


_BASE_LIMIT = 10_000
# (id of the global keys, id of the key, operation, account, aliases, request alias, via service) ->
# (those global keys, that key, the keys built from them).  The entry holds the two objects it names by
# id, so their ids cannot be reused while it lives, and a hit is checked by identity: the same (frozen)
# caller keys and key record give the same condition keys.
_bases: dict[
    tuple[object, ...],
    tuple[Mapping[str, str | list[str]], KeyRecord | None, dict[str, str | Sequence[str]]],
] = {}


def _base_keys(
    global_keys: Mapping[str, str | list[str]], row: OperationPermissions, facts: CheckFacts, key: KeyRecord | None
) -> dict[str, str | Sequence[str]]:
    """:func:`_call_keys`, built once per caller keys (per second), operation and key object, then reused."""
    cache_key = (
        id(global_keys),
        id(key),
        row.operation,
        facts.caller.principal.account_id,
        facts.aliases,
        facts.request_alias,
        facts.via_service,
    )
    found = _bases.get(cache_key)
    if found is not None and found[0] is global_keys and found[1] is key:
        return found[2]
    supported = row.condition_keys
    described = key_fact_keys(key, facts.aliases, supported) if key is not None else {}
    keys = _call_keys(global_keys, supported, facts, described)
    if len(_bases) >= _BASE_LIMIT:
        _bases.clear()
    _bases[cache_key] = (global_keys, key, keys)
    return keys


@dataclass(frozen=True)
class _FixedClock:
    moment: datetime

    def now(self) -> datetime:
        return self.moment


_GLOBAL_KEYS_LIMIT = 10_000
_global_keys_cache: dict[tuple[object, ...], Mapping[str, str | list[str]]] = {}


def _global_keys(caller: Caller, clock: Clock) -> Mapping[str, str | list[str]]:
    """The global ``aws:*`` keys, computed once per caller and second (the finest unit of aws:CurrentTime)."""
    now = clock.now()
    second = int(now.timestamp())
    principal = caller.principal
    session = principal.session
    cache_key = (
        second,
        principal.arn,
        principal.user_id,
        principal.name,
        principal.role_arn,
        tuple(principal.tags.items()),
        session.issued_at if session is not None else None,
        # aws:SourceIdentity comes from the session: two sessions may share a name and an issue second.
        session.source_identity if session is not None else None,
        caller.source_ip,
        caller.secure_transport,
        caller.region,
        caller.user_agent,
    )
    found = _global_keys_cache.get(cache_key)
    if found is None:
        found = request_context_keys(caller, _FixedClock(now.replace(microsecond=0)))
        if len(_global_keys_cache) >= _GLOBAL_KEYS_LIMIT:
            _global_keys_cache.clear()
        _global_keys_cache[cache_key] = found
    return found


_principals: dict[tuple[str, str, str, str | None], PrincipalInfo] = {}


def _principal_info(principal: Principal) -> PrincipalInfo:
    """The caller as the policy engine sees it, built once per distinct principal."""
    cache_key = (principal.arn, principal.account_id, principal.kind, principal.role_arn)
    found = _principals.get(cache_key)
    if found is None:
        if len(_principals) >= 10_000:
            _principals.clear()
        found = _principals[cache_key] = principal_info(principal)
    return found


def key_fact_keys(key: KeyRecord, aliases: Sequence[str], supported: frozenset[str]) -> dict[str, ContextValue]:
    """The keys that describe a key used by the operation ("Conditions for KMS keys used in API operations")."""
    keys: dict[str, ContextValue] = {}
    if "kms:KeySpec" not in supported:
        return keys
    keys["kms:KeySpec"] = key.key_spec
    keys["kms:KeyUsage"] = key.key_usage
    keys["kms:KeyOrigin"] = key.origin
    keys["kms:MultiRegion"] = "true" if key.multi_region else "false"
    if key.multi_region:
        # "kms:MultiRegionKeyType": PRIMARY or REPLICA, for multi-Region keys only.
        keys["kms:MultiRegionKeyType"] = "REPLICA" if key.is_replica else "PRIMARY"
    for old, new in DEPRECATED_KEYS.items():
        keys[old] = keys[new]
    if aliases:
        keys["kms:ResourceAliases"] = tuple(aliases)
    for tag_key, tag_value in key.tags.items():
        keys[f"aws:ResourceTag/{tag_key}"] = tag_value
    return keys


def _created_key_keys(params: Mapping[str, Any], supported: frozenset[str]) -> dict[str, ContextValue]:
    """CreateKey: the properties of the key the request would create, AWS's defaults included."""
    keys: dict[str, ContextValue] = {}
    default = default_key_spec()
    spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or default.name
    if "kms:KeySpec" in supported:
        keys["kms:KeySpec"] = str(spec)
        keys["kms:KeyUsage"] = str(params.get("KeyUsage") or default.key_usages[0])
        for old, new in DEPRECATED_KEYS.items():
            keys[old] = keys[new]
        keys["kms:KeyOrigin"] = str(params.get("Origin") or "AWS_KMS")
        keys["kms:MultiRegion"] = "true" if params.get("MultiRegion") else "false"
        if params.get("MultiRegion"):
            keys["kms:MultiRegionKeyType"] = "PRIMARY"
    return keys


@dataclass(frozen=True)
class _MemberPlan:
    """Which request-member keys one operation sets, worked out once per operation instead of per call."""

    encryption_context: bool
    encryption_algorithm: bool
    from_member: tuple[tuple[str, str], ...]
    with_default: tuple[tuple[str, str, str], ...]
    valid_to: bool
    bypass: bool
    grant_operations: bool
    grant_constraint_type: bool
    request_tags: bool
    tag_keys: bool
    recipient_attestation: bool
    # Whether any key after the encryption context and algorithm can be set (most operations: none); derived.
    others: bool = field(init=False)

    def __post_init__(self) -> None:
        others = self.from_member or self.with_default or self.valid_to or self.bypass or self.grant_operations
        others = others or self.grant_constraint_type or self.request_tags or self.tag_keys
        others = others or self.recipient_attestation
        object.__setattr__(self, "others", bool(others))


_plans: dict[str, _MemberPlan] = {}


def _plan_of(row: OperationPermissions) -> _MemberPlan:
    found = _plans.get(row.operation)
    if found is None:
        supported = row.condition_keys
        found = _MemberPlan(
            encryption_context="kms:EncryptionContextKeys" in supported,
            encryption_algorithm="kms:EncryptionAlgorithm" in supported,
            from_member=tuple(entry for entry in _FROM_MEMBER if entry[0] in supported),
            with_default=tuple(entry for entry in _WITH_DEFAULT if entry[0] in supported),
            valid_to="kms:ValidTo" in supported,
            bypass="kms:BypassPolicyLockoutSafetyCheck" in supported,
            grant_operations="kms:GrantOperations" in supported,
            grant_constraint_type="kms:GrantConstraintType" in supported,
            request_tags="aws:RequestTag/*" in supported,
            tag_keys="aws:TagKeys" in supported,
            recipient_attestation=IMAGE_SHA384 in supported,
        )
        _plans[row.operation] = found
    return found


def _add_member_keys(
    keys: dict[str, str | Sequence[str]], row: OperationPermissions, permission: Permission, params: Mapping[str, Any]
) -> None:
    """Add the keys the request's members set, straight into ``keys`` (this runs on every call)."""
    plan = _plan_of(row)
    if plan.encryption_context:
        keys.update(_encryption_context_keys(encryption_context_of(row, permission, params)))
    if plan.encryption_algorithm:
        keys["kms:EncryptionAlgorithm"] = _encryption_algorithm(permission, params)
    if not plan.others:
        return
    for condition_key, member in plan.from_member:
        if params.get(member) is not None:
            keys[condition_key] = str(params[member])
    for condition_key, member, default in plan.with_default:
        value = params.get(member)
        keys[condition_key] = default if value is None else str(value)
    if plan.valid_to and params.get("ValidTo") is not None:
        keys["kms:ValidTo"] = _epoch_seconds(params["ValidTo"])
    if plan.bypass and params.get("BypassPolicyLockoutSafetyCheck") is not None:
        keys["kms:BypassPolicyLockoutSafetyCheck"] = "true" if params["BypassPolicyLockoutSafetyCheck"] else "false"
    if plan.grant_operations and params.get("Operations"):
        keys["kms:GrantOperations"] = tuple(str(name) for name in params["Operations"])
    if plan.grant_constraint_type:
        constraints = params.get("Constraints") or {}
        for constraint_type in ("EncryptionContextEquals", "EncryptionContextSubset"):
            if constraints.get(constraint_type):
                keys["kms:GrantConstraintType"] = constraint_type
    if plan.request_tags and params.get("Tags"):
        tags = [(str(tag["TagKey"]), str(tag.get("TagValue", ""))) for tag in params["Tags"]]
        keys.update({f"aws:RequestTag/{name}": value for name, value in tags})
        keys["aws:TagKeys"] = tuple(name for name, _ in tags)
    elif plan.tag_keys and params.get("TagKeys"):
        keys["aws:TagKeys"] = tuple(str(name) for name in params["TagKeys"])
    attestation = params.get(VERIFIED_ATTESTATION) if plan.recipient_attestation else None
    if isinstance(attestation, Attestation):
        keys.update(attestation_keys(attestation))


def attestation_keys(attestation: Attestation) -> dict[str, str]:
    """The kms:RecipientAttestation:* keys of a verified attestation document."""
    keys = {f"{PCR_PREFIX}{index}": value.hex() for index, value in attestation.pcrs.items()}
    if 0 in attestation.pcrs:
        keys[IMAGE_SHA384] = attestation.pcrs[0].hex()
    return keys


def encryption_context_of(
    row: OperationPermissions, permission: Permission, params: Mapping[str, Any]
) -> Mapping[str, str] | None:
    """The encryption context a permission is about (grant constraints are checked against it too)."""
    if permission.target is Target.SOURCE_KEY:
        found: Mapping[str, str] | None = params.get("SourceEncryptionContext")
        return found
    if permission.target is Target.DESTINATION_KEY:
        found = params.get("DestinationEncryptionContext")
        return found
    if row.operation in ("CreateGrant", "RetireGrant"):
        # CreateGrant: the encryption context of the grant constraint the request asks for.
        constraints = params.get("Constraints") or {}
        found = constraints.get("EncryptionContextEquals") or constraints.get("EncryptionContextSubset")
        return found
    found = params.get("EncryptionContext")
    return found


def _encryption_context_keys(context: Mapping[str, str] | None) -> dict[str, ContextValue]:
    if not context:
        return {}
    keys: dict[str, ContextValue] = {f"kms:EncryptionContext:{name}": str(value) for name, value in context.items()}
    keys["kms:EncryptionContextKeys"] = tuple(context)
    return keys


def _encryption_algorithm(permission: Permission, params: Mapping[str, Any]) -> str:
    # "kms:EncryptionAlgorithm": the algorithm in the request, or the one the operation uses (the data key
    # operations always use the symmetric algorithm).
    if permission.target is Target.SOURCE_KEY:
        member = "SourceEncryptionAlgorithm"
    elif permission.target is Target.DESTINATION_KEY:
        member = "DestinationEncryptionAlgorithm"
    else:
        member = "EncryptionAlgorithm"
    return str(params.get(member) or default_encryption_algorithm())


def _epoch_seconds(value: Any) -> str:
    timestamp = getattr(value, "timestamp", None)
    if callable(timestamp):
        return str(int(timestamp()))
    return str(value)
