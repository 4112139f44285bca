"""The STS service: GetCallerIdentity, AssumeRole and GetSessionToken, with AWS's rules and error wording.

The API layer decodes a query-protocol request into ``(operation, params,
caller)`` and calls :meth:`StsService.call`; params are already checked
against botocore's model (types, lengths, patterns, ranges).  What is left
here is what the model cannot say (STS API Reference, "IAM and AWS STS
quotas", "Pass session tags in AWS STS"):

- GetCallerIdentity needs no permission ("No permissions are required to
  perform this operation", even under an explicit deny);
- AssumeRole is refused to root ("Roles may not be assumed by root
  accounts."), needs the role's trust policy and, unless the trust policy
  names the caller itself in the role's account, the caller's identity
  policies (:func:`kmsd.iam.authorization.authorize_assume_role`); passing
  session tags also needs ``sts:TagSession``; a role that does not exist is
  refused exactly like one the caller may not assume, so existence is not
  disclosed; DurationSeconds may not exceed the role's MaxSessionDuration,
  nor one hour when a session assumes a role (role chaining);
- a source identity ("Monitor and control actions taken with assumed
  roles") needs ``sts:SetSourceIdentity`` in the trust policy as well; once a
  session has one, every session chained from it keeps it, a different value
  is refused, and the next role's trust policy must allow
  ``sts:SetSourceIdentity`` too;
- managed session policies (``PolicyArns``) must exist in the role's account
  or be AWS managed ("The policies must exist in the same account as the
  role"), so one account's private policy never shapes, nor reveals itself
  through, another account's session;
- GetSessionToken needs no permission, is refused to session credentials,
  and gives the root user at most one hour.

kmsd has no MFA devices, so a request that names one (``SerialNumber``,
``TokenCode``) fails MFA authentication as AWS fails an unknown device.
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from kmsd.clock import Clock
from kmsd.crypto import RandomSource, RootKey
from kmsd.errors import AwsError
from kmsd.iam.authorization import access_denied, authorize_assume_role, note_refusal
from kmsd.iam.context import IamContext
from kmsd.iam.principal import Caller, Principal
from kmsd.iam.session_policy_arns import check_session_policy_arns
from kmsd.iam.sessions import IssuedCredentials, SessionSpec, forget_expired_sessions, issue_session
from kmsd.policy import Policy, PolicyKind, PolicyValidationError, parse_policy
from kmsd.store.base import Store
from kmsd.store.models import IamRole

Handler = Callable[[IamContext, Caller, Mapping[str, Any]], dict[str, Any]]

# STS API Reference, AssumeRole DurationSeconds: "By default, the value is set to 3600 seconds";
# GetSessionToken: 43,200 seconds by default, and the root user's sessions last at most 3,600 seconds.
DEFAULT_ROLE_SESSION_SECONDS = 3600
ROLE_CHAINING_MAX_SECONDS = 3600
DEFAULT_SESSION_TOKEN_SECONDS = 43_200
ROOT_SESSION_TOKEN_MAX_SECONDS = 3600
# "IAM and AWS STS quotas": session policy plain text up to 2,048 characters, up to 10 managed session policies.
MAX_SESSION_POLICY_CHARACTERS = 2048
MAX_SESSION_POLICY_ARNS = 10
# AWS packs session policies and tags into a binary format whose algorithm it does not publish
# (AssumeRole, PackedPolicySize).  kmsd's stand-in: policies (the compact inline document plus
# the managed policy ARNs) are measured compressed, tags by their plain size, each against its
# own allotment; PackedPolicySize reports the fuller of the two.
PACKED_POLICY_ALLOTMENT = 1024
PACKED_TAGS_ALLOTMENT = 1024

_ROLE_ARN = re.compile(r"arn:aws:iam::(\d{12}):role(/(?:[\x21-\x7e]*/)?)([\w+=,.@-]+)")
_MFA_FAILED = (
    "MultiFactorAuthentication failed, unable to validate MFA code.  "
    "Please verify your MFA serial number is valid and associated with this user."
)


def get_caller_identity(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    principal = caller.principal
    return {"UserId": principal.user_id, "Account": principal.account_id, "Arn": principal.arn}


def assume_role(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    principal = caller.principal
    if principal.kind == "root":
        # STS API Reference, AssumeRole: "You cannot use AWS account root user credentials to call AssumeRole."
        raise AwsError("AccessDenied", "Roles may not be assumed by root accounts.", 403)
    _refuse_mfa(params)
    role_arn = str(params["RoleArn"])
    session_name = str(params["RoleSessionName"])
    tags, transitive_keys = _session_tags(principal, params)
    inline_policy = _session_policy(params.get("Policy"))
    policy_arns = _policy_arns(params.get("PolicyArns"))
    packed_size = _packed_size(inline_policy, policy_arns, tags)

    role = _role_named_by(ctx.store, role_arn)
    trust = _trust_policy(role)
    if role is None or trust is None:
        note_refusal("sts:AssumeRole", "no-trust-policy-allow")
        raise access_denied(principal.arn, "sts:AssumeRole", role_arn)
    source_identity = _source_identity(principal, params.get("SourceIdentity"), role.arn)
    keys = _trust_keys(params, session_name, tags, role, source_identity)
    authorize_assume_role(ctx, caller, "sts:AssumeRole", role.arn, trust, keys)
    if params.get("Tags"):
        # "Permissions required to add session tags": the trust policy must also allow sts:TagSession.
        authorize_assume_role(ctx, caller, "sts:TagSession", role.arn, trust, keys)
    if source_identity is not None:
        # "Permissions required to set source identity": the trust policy must allow
        # sts:SetSourceIdentity, also when the value is inherited from the calling session.
        authorize_assume_role(ctx, caller, "sts:SetSourceIdentity", role.arn, trust, keys)
    # Only once the caller may assume the role: the answer must not tell strangers which policies exist.
    check_session_policy_arns(ctx.store, role.account_id, policy_arns)
    duration = _role_session_duration(principal, role, params.get("DurationSeconds"))

    assumed_role_id = f"{role.role_id}:{session_name}"
    assumed_role_arn = f"arn:aws:sts::{role.account_id}:assumed-role/{role.role_name}/{session_name}"
    spec = SessionSpec(
        kind="assumed-role",
        account_id=role.account_id,
        principal_arn=assumed_role_arn,
        user_id=assumed_role_id,
        duration_seconds=duration,
        role_id=role.role_id,
        session_name=session_name,
        session_policy=str(params["Policy"]) if inline_policy is not None else None,
        session_policy_arns=policy_arns,
        tags=tags,
        transitive_tag_keys=transitive_keys,
        source_identity=source_identity,
    )
    with ctx.store.transaction():
        issued = issue_session(ctx, spec)
    result: dict[str, Any] = {
        "Credentials": issued.to_shape(),
        "AssumedRoleUser": {"AssumedRoleId": assumed_role_id, "Arn": assumed_role_arn},
    }
    if packed_size is not None:
        result["PackedPolicySize"] = packed_size
    if source_identity is not None:
        result["SourceIdentity"] = source_identity
    return result


def get_session_token(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    principal = caller.principal
    if principal.session is not None:
        raise AwsError("AccessDenied", "Cannot call GetSessionToken with session credentials", 403)
    _refuse_mfa(params)
    requested = params.get("DurationSeconds")
    duration = int(requested) if requested is not None else DEFAULT_SESSION_TOKEN_SECONDS
    if principal.kind == "root":
        # STS API Reference, GetSessionToken: "If the duration is longer than one hour, the session
        # for AWS account owners defaults to one hour."
        duration = min(duration, ROOT_SESSION_TOKEN_MAX_SECONDS)
    spec = SessionSpec(
        kind="session-token",
        account_id=principal.account_id,
        principal_arn=principal.arn,
        user_id=principal.user_id,
        duration_seconds=duration,
        source_user_id=principal.user_id if principal.kind == "user" else None,
    )
    with ctx.store.transaction():
        issued: IssuedCredentials = issue_session(ctx, spec)
    return {"Credentials": issued.to_shape()}


OPERATIONS: dict[str, Handler] = {
    "GetCallerIdentity": get_caller_identity,
    "AssumeRole": assume_role,
    "GetSessionToken": get_session_token,
}


class StsService:
    operations: frozenset[str] = frozenset(OPERATIONS)

    def __init__(self, store: Store, root_key: RootKey, clock: Clock, rng: RandomSource) -> None:
        self.context = IamContext(store=store, root_key=root_key, clock=clock, rng=rng)

    def call(self, operation: str, params: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
        """Run one STS operation; every refusal is an ``AwsError`` with AWS's code and message."""
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise AwsError("InvalidAction", f"Could not find operation {operation} for version 2011-06-15", 400)
        return handler(self.context, caller, params)

    @staticmethod
    def writes(operation: str) -> bool:
        """Whether ``operation`` stores something (a session): every STS operation but GetCallerIdentity."""
        return operation in OPERATIONS and operation != "GetCallerIdentity"

    def sweep(self) -> None:
        """The sessions' part of the periodic sweep: forget those expired long enough ago."""
        forget_expired_sessions(self.context)


def _refuse_mfa(params: Mapping[str, Any]) -> None:
    if params.get("SerialNumber") is not None or params.get("TokenCode") is not None:
        raise AwsError("AccessDenied", _MFA_FAILED, 403)


def _invalid_parameter(message: str) -> AwsError:
    return AwsError("InvalidParameterValue", message, 400)


def _session_tags(principal: Principal, params: Mapping[str, Any]) -> tuple[dict[str, str], tuple[str, ...]]:
    """The new session's tags and transitive keys: the requested ones plus those inherited in a role chain.

    "Pass session tags in AWS STS": tag keys are not case sensitive; a chained
    session inherits the calling session's transitive tags, and passing a tag
    with the key of an inherited one fails; transitive keys must be among the
    tags passed.
    """
    requested: dict[str, str] = {}
    for tag in params.get("Tags") or ():
        key, value = str(tag["Key"]), str(tag["Value"])
        if any(existing.lower() == key.lower() for existing in requested):
            raise _invalid_parameter("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
        requested[key] = value
    requested_folded = {key.lower() for key in requested}
    transitive = tuple(str(key) for key in params.get("TransitiveTagKeys") or ())
    if any(key.lower() not in requested_folded for key in transitive):
        raise _invalid_parameter("The specified transitive tag key must be included in the requested tags.")

    session = principal.session
    if session is None or not session.transitive_tag_keys:
        return requested, transitive
    inherited_folded = {key.lower() for key in session.transitive_tag_keys}
    if requested_folded & inherited_folded:
        raise _invalid_parameter(
            "One of the specified transitive tag keys can't be set because it conflicts with a transitive "
            "tag key from the calling session."
        )
    inherited = {key: value for key, value in session.tags.items() if key.lower() in inherited_folded}
    return {**inherited, **requested}, tuple(session.transitive_tag_keys) + transitive


def _session_policy(document: object) -> Policy | None:
    if document is None:
        return None
    text = str(document)
    if len(text) > MAX_SESSION_POLICY_CHARACTERS:
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value '{text}' at 'policy' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_SESSION_POLICY_CHARACTERS}",
            400,
        )
    try:
        return parse_policy(text, PolicyKind.SESSION, "session-policy")
    except PolicyValidationError as error:
        raise AwsError("MalformedPolicyDocument", error.message, 400) from None


def _policy_arns(descriptors: Iterable[Mapping[str, Any]] | None) -> tuple[str, ...]:
    arns = tuple(str(descriptor["arn"]) for descriptor in descriptors or ())
    if len(arns) > MAX_SESSION_POLICY_ARNS:
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value '{list(arns)}' at 'policyArns' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_SESSION_POLICY_ARNS}",
            400,
        )
    return arns


def _packed_size(policy: Policy | None, policy_arns: tuple[str, ...], tags: dict[str, str]) -> int | None:
    """AssumeRole's PackedPolicySize (percent), or None when no session policy or tag was passed."""
    if policy is None and not policy_arns and not tags:
        return None
    packed_policy = (policy.serialize() if policy is not None else "") + "".join(policy_arns)
    policy_bytes = len(zlib.compress(packed_policy.encode("utf-8"), 9)) if packed_policy else 0
    policy_percent = math.ceil(100 * policy_bytes / PACKED_POLICY_ALLOTMENT)
    tag_bytes = sum(len(key.encode("utf-8")) + len(value.encode("utf-8")) for key, value in tags.items())
    tags_percent = math.ceil(100 * tag_bytes / PACKED_TAGS_ALLOTMENT)
    if policy_percent > 100:
        raise AwsError("PackedPolicyTooLarge", f"Packed policy consumes {policy_percent}% of allotted space", 400)
    if tags_percent > 100:
        raise AwsError(
            "PackedPolicyTooLarge", f"Packed size of session tags consumes {tags_percent}% of allotted space.", 400
        )
    return max(policy_percent, tags_percent)


def _role_named_by(store: Store, role_arn: str) -> IamRole | None:
    """The role whose ARN (path included) is exactly ``role_arn``, in any account."""
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        return None
    role = store.get_role(match.group(1), match.group(3))
    return role if role is not None and role.arn == role_arn else None


def _trust_policy(role: IamRole | None) -> Policy | None:
    if role is None:
        return None
    try:
        return parse_policy(role.assume_role_policy, PolicyKind.RESOURCE, f"{role.arn}#trust")
    except PolicyValidationError:
        # A trust policy that cannot be evaluated grants nothing.
        return None


def _source_identity(principal: Principal, requested: object, role_arn: str) -> str | None:
    """The new session's source identity: the calling session's, which cannot change, or the requested one.

    "Monitor and control actions taken with assumed roles": "The value that is
    set cannot be changed during the role session" and it persists through
    role chaining; asking for another value is refused.
    """
    inherited = principal.session.source_identity if principal.session is not None else None
    if inherited is None:
        return None if requested is None else str(requested)
    if requested is not None and str(requested) != inherited:
        raise access_denied(principal.arn, "sts:SetSourceIdentity", role_arn)
    return inherited


def _trust_keys(
    params: Mapping[str, Any],
    session_name: str,
    tags: dict[str, str],
    role: IamRole,
    source_identity: str | None,
) -> dict[str, str | list[str]]:
    """The condition keys of sts:AssumeRole, sts:TagSession and sts:SetSourceIdentity on ``role``.

    Service Authorization Reference, "Actions, resources, and condition keys
    for AWS Security Token Service": AssumeRole carries ``aws:RequestTag/*``,
    ``aws:TagKeys``, ``sts:ExternalId``, ``sts:RoleSessionName``,
    ``sts:SourceIdentity`` and ``sts:TransitiveTagKeys``; its resource, the
    role, carries ``aws:ResourceTag/*`` (the role's own tags).
    """
    keys: dict[str, str | list[str]] = {"sts:RoleSessionName": session_name}
    for tag_key, tag_value in role.tags.items():
        keys[f"aws:ResourceTag/{tag_key}"] = tag_value
    external_id = params.get("ExternalId")
    if external_id is not None:
        keys["sts:ExternalId"] = str(external_id)
    if source_identity is not None:
        keys["sts:SourceIdentity"] = source_identity
    requested = [str(tag["Key"]) for tag in params.get("Tags") or ()]
    if requested:
        for key in requested:
            keys[f"aws:RequestTag/{key}"] = tags[key]
        keys["aws:TagKeys"] = requested
    transitive = [str(key) for key in params.get("TransitiveTagKeys") or ()]
    if transitive:
        keys["sts:TransitiveTagKeys"] = transitive
    return keys


def _role_session_duration(principal: Principal, role: IamRole, requested: int | None) -> int:
    duration = int(requested) if requested is not None else DEFAULT_ROLE_SESSION_SECONDS
    # STS API Reference, AssumeRole: role chaining limits a session to one hour.  AWS applies
    # the same limit when the caller signs with GetSessionToken credentials.
    if principal.session is not None and duration > ROLE_CHAINING_MAX_SECONDS:
        raise AwsError(
            "ValidationError",
            "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            400,
        )
    if duration > role.max_session_duration:
        raise AwsError(
            "ValidationError", "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.", 400
        )
    return duration
