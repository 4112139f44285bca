"""Authorizing IAM and STS calls with the caller's identity policies, and the request context every authorizer shares.

IAM and STS actions are decided by the caller's identity-based policies
(``iam:ListUsers`` on ``arn:aws:iam::ACCOUNT:user/``), except AssumeRole,
which also needs the role's trust policy (:func:`authorize_assume_role`).
The account's root user may do anything in its own account.  A refusal is
``AccessDenied`` (HTTP 403) worded as AWS words it ("Troubleshoot access
denied error messages", IAM User Guide)::

    User: arn:aws:iam::111122223333:user/bob is not authorized to perform: iam:ListUsers
    on resource: arn:aws:iam::111122223333:user/ because no identity-based policy allows
    the iam:ListUsers action

with the other reasons ``with an explicit deny in an identity-based policy``,
``because no permissions boundary allows the X action`` and ``because no
session policy allows the X action``.

:func:`request_context_keys` builds the global condition keys ("AWS global
condition context keys") of one call; the KMS authorizer reuses it and adds
its ``kms:*`` keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any, Protocol

from kmsd.call_notes import DecisionOutcome, note_decision
from kmsd.clock import Clock
from kmsd.errors import INVALID_SECURITY_TOKEN, AwsError, ExplainedError
from kmsd.iam.identity_policies import HasStore, StoredPolicyError, identity_policies_for
from kmsd.iam.principal import Caller, Principal
from kmsd.policy import Decision, Outcome, Policy, PolicyKind, PrincipalInfo, RequestContext, evaluate
from kmsd.policy.service_rules import resource_owner, trust_policy_gate

ContextKeys = dict[str, str | list[str]]

# "AWS global condition context keys", aws:PrincipalType.
_PRINCIPAL_TYPE = {"root": "Account", "user": "User", "assumed-role": "AssumedRole"}


class ServiceContext(HasStore, Protocol):
    """What authorizing needs from a service context (IamContext, the KMS context): the store and the clock."""

    @property
    def clock(self) -> Clock: ...


def principal_info(principal: Principal) -> PrincipalInfo:
    """The caller as the policy engine sees it."""
    return PrincipalInfo(principal.arn, principal.account_id, principal.kind, principal.role_arn)


def request_context_keys(caller: Caller, clock: Clock) -> ContextKeys:
    """The global ``aws:*`` condition keys of one call ("AWS global condition context keys", IAM User Guide).

    ``aws:PrincipalArn`` is the role's ARN for a role session; ``aws:userid``
    is the account id for root, ``AIDA...`` for a user and ``AROA...:session``
    for a role session; ``aws:username`` exists for IAM users only.
    ``aws:MultiFactorAuthPresent`` and ``aws:TokenIssueTime`` are present only
    for temporary credentials ("the key is not present when ... access keys"
    sign the request); kmsd has no MFA devices, so the first is ``false``.
    """
    principal = caller.principal
    now = clock.now().astimezone(UTC)
    keys: ContextKeys = {
        "aws:PrincipalArn": principal.role_arn if principal.role_arn is not None else principal.arn,
        "aws:PrincipalAccount": principal.account_id,
        "aws:PrincipalType": _PRINCIPAL_TYPE[principal.kind],
        "aws:userid": principal.user_id,
        "aws:PrincipalIsAWSService": "false",
        "aws:ViaAWSService": "false",
        "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "aws:EpochTime": str(int(now.timestamp())),
        "aws:SecureTransport": "true" if caller.secure_transport else "false",
        "aws:RequestedRegion": caller.region,
    }
    if principal.kind == "user" and principal.name is not None:
        keys["aws:username"] = principal.name
    for tag_key, tag_value in principal.tags.items():
        keys[f"aws:PrincipalTag/{tag_key}"] = tag_value
    if caller.source_ip:
        keys["aws:SourceIp"] = caller.source_ip
    if caller.user_agent:
        keys["aws:UserAgent"] = caller.user_agent
    if principal.session is not None:
        keys["aws:MultiFactorAuthPresent"] = "false"
        keys["aws:TokenIssueTime"] = principal.session.issued_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if principal.session.source_identity is not None:
            # "Monitor and control actions taken with assumed roles": once set, the source identity is
            # present in every request of the session (and of the sessions chained from it).
            keys["aws:SourceIdentity"] = principal.session.source_identity
    return keys


def access_denied(
    principal_arn: str, action: str, resource: str, reason: str = "", decision: Decision | None = None
) -> AwsError:
    """IAM's ``AccessDenied``; with the ``decision`` that refused, it can also explain itself (the console's
    "Why?" panel), in the shape of a KMS refusal's explanation."""
    message = f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource}"

    def explain() -> dict[str, Any]:
        check = {
            "action": action,
            "resource": resource,
            "policy_source": "IAM policy",
            "allowed": False,
            "allowed_by": None,
            "reason": reason,
            "policies": decision.to_json() if decision is not None else None,
            "grants": [],
        }
        return {
            "operation": action.partition(":")[2],
            "principal": principal_arn,
            "decision": "Deny",
            "checks": [check],
        }

    return ExplainedError("AccessDenied", f"{message} {reason}" if reason else message, 403, explain)


def authorize_call(
    ctx: ServiceContext,
    caller: Caller,
    action: str,
    resource: str,
    *,
    extra_keys: Mapping[str, str | Sequence[str]] | None = None,
) -> None:
    """Allow ``action`` on ``resource`` for ``caller`` by its identity policies, or raise ``AccessDenied``.

    ``extra_keys`` are the action's own condition keys (``aws:RequestTag/*``,
    ``aws:TagKeys``, ``iam:PermissionsBoundary``, ...).
    """
    principal = caller.principal
    session = principal.session
    if session is not None and session.kind == "session-token" and action.lower().startswith("iam:"):
        # "Permissions for GetSessionToken": its credentials cannot call IAM API operations
        # unless MFA information was included (kmsd has no MFA), and IAM says the token is invalid.
        raise AwsError("InvalidClientTokenId", INVALID_SECURITY_TOKEN, 403)
    if principal.kind == "root" and _in_account(resource, principal.account_id):
        note_decision(_service_of(action), action, "allow", "root")
        return
    keys: dict[str, str | Sequence[str]] = dict(request_context_keys(caller, ctx.clock))
    if extra_keys:
        keys.update(extra_keys)
    # An AWS managed policy belongs to every account (kmsd.policy.service_rules): reading one is not cross-account.
    owner = resource_owner(resource, principal.account_id)
    context = RequestContext(action, resource, principal_info(principal), keys, resource_account=owner)
    decision = evaluate(context, _policies_of(ctx, principal))
    note_decision(_service_of(action), action, *_outcome_and_reason(decision, "identity-policy"))
    if not decision.allowed:
        raise access_denied(principal.arn, action, resource, decision.denial_reason(action), decision)


def authorize_assume_role(
    ctx: ServiceContext,
    caller: Caller,
    action: str,
    role_arn: str,
    trust_policy: Policy,
    extra_keys: Mapping[str, str | Sequence[str]],
) -> None:
    """Allow ``action`` (``sts:AssumeRole``, ``sts:TagSession``) on a role, or raise AWS's ``AccessDenied``.

    The trust policy is the role's resource-based policy.  IAM User Guide,
    "Policy evaluation logic": role trust policies are an exception to the
    rule that an identity policy alone suffices within an account — the trust
    policy must allow.  When it names the caller itself, that is enough in
    the same account; when it names only the caller's account (or the caller
    is in another account), the caller's identity policies must allow too.
    STS's refusal names no reason.
    """
    principal = caller.principal
    keys: dict[str, str | Sequence[str]] = dict(request_context_keys(caller, ctx.clock))
    keys.update(extra_keys)
    context = RequestContext(action, role_arn, principal_info(principal), keys)
    policies = (trust_policy, *_policies_of(ctx, principal))
    decision: Decision = evaluate(context, policies)
    allowed = trust_policy_gate(decision)
    if decision.allowed and not allowed:
        # The identity policies allowed, but the trust policy did not: it must (see above).
        note_decision(_service_of(action), action, "implicit-deny", "no-trust-policy-allow")
    else:
        note_decision(_service_of(action), action, *_outcome_and_reason(decision, "trust-policy"))
    if not allowed:
        raise access_denied(principal.arn, action, role_arn)


# The reason labels of IAM and STS decisions (kmsd.call_notes; a small fixed vocabulary for the metrics), by the
# kind of policy that denied: explicitly, or by allowing nothing.
_EXPLICIT_DENY = {
    PolicyKind.IDENTITY: "explicit-deny-identity",
    PolicyKind.RESOURCE: "explicit-deny-trust-policy",
    PolicyKind.PERMISSIONS_BOUNDARY: "explicit-deny-boundary",
    PolicyKind.SESSION: "explicit-deny-session-policy",
}
_NO_ALLOW = {
    PolicyKind.IDENTITY: "no-identity-policy-allow",
    PolicyKind.RESOURCE: "no-trust-policy-allow",
    PolicyKind.PERMISSIONS_BOUNDARY: "boundary",
    PolicyKind.SESSION: "session-policy",
}


def _outcome_and_reason(decision: Decision, allowed_by: str) -> tuple[DecisionOutcome, str]:
    """The outcome and reason label of an evaluated decision; ``allowed_by`` names what an allow rests on."""
    if decision.allowed:
        return "allow", allowed_by
    kind = decision.denial_kind
    if decision.outcome is Outcome.EXPLICIT_DENY:
        return "explicit-deny", _EXPLICIT_DENY[kind] if kind is not None else "explicit-deny-identity"
    return "implicit-deny", _NO_ALLOW[kind] if kind is not None else "no-identity-policy-allow"


def _service_of(action: str) -> str:
    """The service that decides ``action`` (``iam``, ``sts``), from its prefix: always one of kmsd's own actions."""
    return action.partition(":")[0].lower()


def note_refusal(action: str, reason: str) -> None:
    """Note a refusal decided before any policy was evaluated (a role that does not exist: nothing can allow)."""
    note_decision(_service_of(action), action, "implicit-deny", reason)


def _policies_of(ctx: HasStore, principal: Principal) -> tuple[Policy, ...]:
    try:
        return identity_policies_for(ctx, principal).policies
    except StoredPolicyError:
        # Fail closed, and say nothing about the stored document to the caller.
        raise AwsError("ServiceFailure", "Request processing has failed due to an internal error.", 500) from None


def _in_account(resource: str, account_id: str) -> bool:
    """Whether ``resource`` belongs to ``account_id`` (or to no account, or is AWS managed)."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6:
        return False
    return parts[4] in ("", "aws", account_id)
