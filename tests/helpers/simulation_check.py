"""Every live KMS decision of the authorization tests, asked again of IAM's policy simulator: the answers must agree.

:func:`watch` registers two botocore event handlers on a KMS client of the
shared world (:mod:`tests.integration.authz_world`): one keeps the request's
parameters, the other runs after the answer arrives, while the store still
holds exactly what decided the call.  For a call refused with
``AccessDeniedException`` it simulates the action and resource the message
names and expects ``implicitDeny`` or ``explicitDeny`` as the message says;
for a call that succeeded it simulates each permission the operation needs
(``kmsd.authz.permissions``) on the key, alias or ``*`` it was checked
against and expects ``allowed``.  Calls that failed for another reason (no
such key, a validation error) decided nothing about authorization and are not
compared.  The simulation is SimulatePrincipalPolicy with the caller's user or
role as ``PolicySourceArn`` (and a role session's ARN as ``CallerArn``), or,
for an account's root user, SimulateCustomPolicy with the root as
``CallerArn``, called with the root credentials of the caller's account.  The
request's condition keys are passed as ``ContextEntries``: those its members
set (the KMS Developer Guide's condition keys of each operation) and
``aws:SourceIp``; the simulator's KMS-aware mode adds the rest as the live
server does.  A disagreement fails the test that made the call, naming both
answers.  :data:`COMPARED` counts the comparisons, so a test can check that
the handlers ran at all.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from kmsd.authz.authorizer import required_permissions
from kmsd.authz.permissions import PolicySource, Target, permissions_for
from kmsd.crypto.blob import CiphertextBlob

COMPARED: Counter[str] = Counter()  # comparisons made, by live outcome ("allowed", "implicitDeny", "explicitDeny")
_DENIED = re.compile(r"User: (\S+) is not authorized to perform: (\S+) on resource: (\S+)(?: (.*))?", re.DOTALL)
_KEY_ARN = re.compile(r"arn:aws:kms:([a-z0-9-]+):(\d{12}):key/([0-9a-f-]{36}|mrk-[0-9a-f]{32})")
_ALIAS_ARN = re.compile(r"arn:aws:kms:([a-z0-9-]+):(\d{12}):(alias/.+)")
_IAM_ENTITY = re.compile(r"arn:aws:iam::(\d{12}):(user|role)/(?:.*/)?([^/]+)")
_PARAMS = "kmsd_simulation_params"
_SIMULATED = "kmsd_simulated"
# The request member that names the key of each key target.
_NAMING_MEMBER = {
    Target.KEY: "KeyId",
    Target.SOURCE_KEY: "SourceKeyId",
    Target.DESTINATION_KEY: "DestinationKeyId",
    Target.TARGET_KEY: "TargetKeyId",
}
# Request members and the condition key each sets (KMS Developer Guide, "Condition keys for AWS KMS").
_MEMBER_KEYS = {
    "EncryptionAlgorithm": "kms:EncryptionAlgorithm",
    "SigningAlgorithm": "kms:SigningAlgorithm",
    "MessageType": "kms:MessageType",
    "MacAlgorithm": "kms:MacAlgorithm",
    "KeyPairSpec": "kms:DataKeyPairSpec",
    "GranteePrincipal": "kms:GranteePrincipal",
    "RetiringPrincipal": "kms:RetiringPrincipal",
    "KeySpec": "kms:KeySpec",
    "KeyUsage": "kms:KeyUsage",
    "Origin": "kms:KeyOrigin",
    "PendingWindowInDays": "kms:ScheduleKeyDeletionPendingWindowInDays",
    "RotationPeriodInDays": "kms:RotationPeriodInDays",
    "WrappingAlgorithm": "kms:WrappingAlgorithm",
    "WrappingKeySpec": "kms:WrappingKeySpec",
    "ExpirationModel": "kms:ExpirationModel",
    "MultiRegion": "kms:MultiRegion",
    "KeyAgreementAlgorithm": "kms:KeyAgreementAlgorithm",
    "ReplicaRegion": "kms:ReplicaRegion",
    "PrimaryRegion": "kms:PrimaryRegion",
    "PolicyName": "kms:PolicyName",
}


@dataclass(frozen=True)
class Subject:
    """Who a client calls as, in the simulator's terms."""

    account_id: str
    policy_source: str | None  # the user or role; None for the account's root user
    caller_arn: str | None  # a role session's ARN, or the root's; None for a user (its own ARN)
    user_id: str | None = None  # an IAM user's unique id: a renamed user is found by it


class Disagreement(AssertionError):
    """The simulator's answer differs from the live decision."""


def watch(client: Any, subject: Subject, simulator: Callable[[], Any], resolver: Callable[[], Any]) -> None:
    """Compare every decision ``client`` (a KMS client) gets with the simulator's.

    ``simulator`` returns an IAM client of the caller's account root; ``resolver`` a KMS client of that root in
    the client's Region, for looking up what an alias named.
    """
    region = client.meta.region_name

    def before(params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        # Allowed calls are simulated before they act: a call may change what decided it (PutKeyPolicy).
        request = copy.deepcopy(dict(params))
        context[_PARAMS] = request
        if "Recipient" in request:
            # Its kms:RecipientAttestation:* keys come from a signed attestation document, which this check does
            # not read: such calls are not compared.
            context[_PARAMS] = None
            return
        _store_spellings(request, simulator(), subject)
        context[_SIMULATED] = [
            _simulated(simulator(), subject, model.name, request, action, resource, region, resolver)
            for action, resource in _allowed_cases(model.name, request, None, subject, region, resolver)
        ]

    def after(parsed: Mapping[str, Any], model: Any, context: Mapping[str, Any], **_: Any) -> None:
        params = context.get(_PARAMS, {})
        if params is None:
            return
        error = parsed.get("Error")
        if error is None:
            answers = list(context.get(_SIMULATED, []))
            # What only the answer names (the key of a ciphertext) is simulated now: reading changes nothing.
            for action, resource in _allowed_cases(model.name, params, parsed, subject, region, resolver):
                answers.append(_simulated(simulator(), subject, model.name, params, action, resource, region, resolver))
            for action, resource, simulated, used in answers:
                _check(model.name, subject, action, resource, "allowed", simulated, used)
        elif error.get("Code") == "AccessDeniedException":
            # A refused call wrote nothing: the store still holds what refused it.
            action, resource, expected = _refusal(model.name, error)
            _, _, simulated, entries = _simulated(
                simulator(), subject, model.name, params, action, resource, region, resolver
            )
            _check(model.name, subject, action, resource, expected, simulated, entries)
        # Any other error decided nothing about authorization (or came before it): nothing to compare.

    client.meta.events.register("before-parameter-build.kms", before)
    client.meta.events.register("after-call.kms", after)


def _check(
    operation: str, subject: Subject, action: str, resource: str, expected: str, simulated: str, entries: Any
) -> None:
    if simulated != expected:
        raise Disagreement(
            f"{operation} by {subject}: live {expected} for {action} on {resource}, simulated {simulated} "
            f"(context {entries})"
        )
    COMPARED[expected] += 1


def _simulated(
    iam: Any,
    subject: Subject,
    operation: str,
    params: Mapping[str, Any],
    action: str,
    resource: str,
    region: str,
    resolver: Callable[[], Any],
) -> tuple[str, str, str, list[dict[str, Any]]]:
    entries = _context_entries(operation, action, params, region, resolver, subject)
    return action, resource, _simulate(iam, subject, action, resource, entries), entries


def _simulate(iam: Any, subject: Subject, action: str, resource: str, entries: list[dict[str, Any]]) -> str:
    request: dict[str, Any] = {"ActionNames": [action], "ResourceArns": [resource], "ContextEntries": entries}
    if subject.caller_arn is not None:
        request["CallerArn"] = subject.caller_arn
    if subject.policy_source is None:
        response = iam.simulate_custom_policy(PolicyInputList=[], **request)
    else:
        try:
            response = iam.simulate_principal_policy(PolicySourceArn=subject.policy_source, **request)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NoSuchEntity" or subject.user_id is None:
                raise
            # The user was renamed (its credentials still work): simulate it under its name now.
            users = iam.list_users(MaxItems=1000)["Users"]
            current = next(user["Arn"] for user in users if user["UserId"] == subject.user_id)
            response = iam.simulate_principal_policy(PolicySourceArn=current, **request)
    decision: str = response["EvaluationResults"][0]["EvalDecision"]
    return decision


def _store_spellings(params: dict[str, Any], iam: Any, subject: Subject) -> None:
    """Grantee and retiring principals as IAM stores them (names ignore case): the decision sees that spelling."""
    for member in ("GranteePrincipal", "RetiringPrincipal"):
        found = _IAM_ENTITY.fullmatch(str(params.get(member, "")))
        if found is None or found.group(1) != subject.account_id:
            continue
        try:
            if found.group(2) == "user":
                params[member] = iam.get_user(UserName=found.group(3))["User"]["Arn"]
            else:
                params[member] = iam.get_role(RoleName=found.group(3))["Role"]["Arn"]
        except ClientError:
            continue  # no such entity: the request's spelling stands


def _refusal(operation: str, error: Mapping[str, Any]) -> tuple[str, str, str]:
    """The action and resource an AccessDeniedException names, and the decision its reason stands for."""
    found = _DENIED.fullmatch(str(error.get("Message", "")))
    if found is None:
        raise Disagreement(f"{operation}: AccessDeniedException without AWS's message: {error}")
    reason = found.group(4) or ""
    return found.group(2), found.group(3), "explicitDeny" if "explicit deny" in reason else "implicitDeny"


def _allowed_cases(
    operation: str,
    params: Mapping[str, Any],
    parsed: Mapping[str, Any] | None,
    subject: Subject,
    region: str,
    resolver: Callable[[], Any],
) -> Iterator[tuple[str, str]]:
    """The (action, resource) of each permission the call needs: from the request before the call
    (``parsed`` None), and afterwards those only the answer names."""
    row = permissions_for(operation)
    for permission in required_permissions(row, params):
        if permission.source is PolicySource.GRANT:
            continue  # RetireGrant is decided by the grant, not by policies
        before = _resource(permission.target, params, None, subject, region, resolver)
        if parsed is None:
            if before is not None:
                yield permission.action, before
        elif before is None:
            after = _resource(permission.target, params, parsed, subject, region, resolver)
            if after is not None:
                yield permission.action, after


def _resource(
    target: Target,
    params: Mapping[str, Any],
    parsed: Mapping[str, Any],
    subject: Subject,
    region: str,
    resolver: Callable[[], Any],
) -> str | None:
    """The resource a permission of a successful call was checked against, where the call tells it."""
    if target is Target.ANY:
        return "*"
    if target is Target.ALIAS:
        return f"arn:aws:kms:{region}:{subject.account_id}:{params['AliasName']}"
    named = params.get(_NAMING_MEMBER.get(target, ""))
    if named is not None:
        return _key_arn(str(named), subject, region, resolver)
    if parsed is None:
        return None
    if target is Target.SOURCE_KEY:
        return _str_or_none(parsed.get("SourceKeyId"))
    if target in (Target.KEY, Target.DESTINATION_KEY):
        answered = parsed.get("KeyId") or (parsed.get("KeyMetadata") or {}).get("Arn")
        return answered if isinstance(answered, str) and _KEY_ARN.fullmatch(answered) else None
    return None  # the key an alias pointed at before, a key being made, a grant, a principal: not in the answer


def _key_arn(named: str, subject: Subject, region: str, resolver: Callable[[], Any]) -> str | None:
    if _KEY_ARN.fullmatch(named):
        return named
    alias = _ALIAS_ARN.fullmatch(named)
    if alias is not None or named.startswith("alias/"):
        name = alias.group(3) if alias is not None else named
        if alias is not None and alias.group(2) != subject.account_id:
            return None  # another account's alias: its aliases are not ours to list
        for entry in resolver().list_aliases()["Aliases"]:
            if entry["AliasName"] == name and "TargetKeyId" in entry:
                return f"arn:aws:kms:{region}:{subject.account_id}:key/{entry['TargetKeyId']}"
        return None
    return f"arn:aws:kms:{region}:{subject.account_id}:key/{named}"


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _context_entries(
    operation: str,
    action: str,
    params: Mapping[str, Any],
    region: str,
    resolver: Callable[[], Any],
    subject: Subject,
) -> list[dict[str, Any]]:
    """The condition keys the request's members and connection set for ``action``, as ContextEntries."""
    supported = permissions_for(operation).condition_keys
    if operation == "ReplicateKey" and action != "kms:ReplicateKey":
        region = str(params["ReplicaRegion"])  # the replica's half of the call is made in its Region
    entries = [_entry("aws:SourceIp", "127.0.0.1", "ip"), _entry("aws:RequestedRegion", region)]
    # ReEncrypt: each half has its own encryption context and algorithm.
    side = {"kms:ReEncryptFrom": "Source", "kms:ReEncryptTo": "Destination"}.get(action, "")
    contexts = [params.get(f"{side}EncryptionContext") or {}]
    if params.get(f"{side}EncryptionAlgorithm") is not None and side:
        entries.append(_entry("kms:EncryptionAlgorithm", str(params[f"{side}EncryptionAlgorithm"])))
    constraints = params.get("Constraints") or {}
    contexts += [constraints.get("EncryptionContextEquals") or {}, constraints.get("EncryptionContextSubset") or {}]
    for context in contexts:
        entries += [_entry(f"kms:EncryptionContext:{name}", value) for name, value in context.items()]
    for member, key in _MEMBER_KEYS.items():
        value = params.get(member)
        if value is not None and key in supported:
            entries.append(
                _entry(key, str(value).lower(), "boolean") if isinstance(value, bool) else _entry(key, str(value))
            )
    if params.get("Operations") and "kms:GrantOperations" in supported:
        entries.append(_entry("kms:GrantOperations", [str(name) for name in params["Operations"]], "stringList"))
    for constraint_type in ("EncryptionContextEquals", "EncryptionContextSubset"):
        if constraints.get(constraint_type) and "kms:GrantConstraintType" in supported:
            entries.append(_entry("kms:GrantConstraintType", constraint_type))
    if params.get("BypassPolicyLockoutSafetyCheck") is not None and "kms:BypassPolicyLockoutSafetyCheck" in supported:
        entries.append(
            _entry(
                "kms:BypassPolicyLockoutSafetyCheck", str(params["BypassPolicyLockoutSafetyCheck"]).lower(), "boolean"
            )
        )
    tags = params.get("Tags")
    if tags and "aws:RequestTag/*" in supported:
        entries += [_entry(f"aws:RequestTag/{tag['TagKey']}", str(tag.get("TagValue", ""))) for tag in tags]
        entries.append(_entry("aws:TagKeys", [str(tag["TagKey"]) for tag in tags], "stringList"))
    elif params.get("TagKeys") and "aws:TagKeys" in supported:
        entries.append(_entry("aws:TagKeys", [str(name) for name in params["TagKeys"]], "stringList"))
    if operation == "ReEncrypt":
        entries.append(_entry("kms:ReEncryptOnSameKey", _same_key(params, subject, region, resolver), "boolean"))
    named = params.get("KeyId")
    if isinstance(named, str) and "kms:RequestAlias" in supported:
        alias = _ALIAS_ARN.fullmatch(named)
        if alias is not None or named.startswith("alias/"):
            entries.append(_entry("kms:RequestAlias", alias.group(3) if alias is not None else named))
    return entries


def _same_key(params: Mapping[str, Any], subject: Subject, region: str, resolver: Callable[[], Any]) -> str:
    """ReEncrypt: whether the destination is the key the ciphertext names (kmsd's blob names its key)."""
    destination = _key_arn(str(params["DestinationKeyId"]), subject, region, resolver) or ""
    named = params.get("SourceKeyId")
    if named is not None:
        # An asymmetric ciphertext names no key: the request does (SourceKeyId is required then).
        return "true" if _key_arn(str(named), subject, region, resolver) == destination else "false"
    source = CiphertextBlob.decode(params["CiphertextBlob"]).key_id
    return "true" if destination.endswith(f"key/{source}") else "false"


def _entry(name: str, value: str | list[str], kind: str = "string") -> dict[str, Any]:
    values = value if isinstance(value, list) else [value]
    return {"ContextKeyName": name, "ContextKeyValues": values, "ContextKeyType": kind}
