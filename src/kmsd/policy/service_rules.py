"""The service-specific rules that sit on top of AWS's general policy evaluation, in one place.

The general logic (:mod:`kmsd.policy.evaluate`) knows nothing of any one
service.  AWS's services add rules of their own, and kmsd applies them
wherever a decision is made: the live server (IAM, STS, KMS), the IAM policy
simulator (SimulatePrincipalPolicy, SimulateCustomPolicy) and the offline
``kmsd policy explain``.  Each rule is written once here; the live server
calls the predicates and gates below at the point where it decides, and
:func:`evaluate_with_service_rules` applies them all to one request for the
simulator and the offline explain.

- **KMS key actions** ("Key policies in AWS KMS"): the key policy is the
  gate.  An identity policy alone never reaches a key; it counts only when
  the key policy delegates to the caller's account
  (:func:`key_policy_gate`).
- **sts:AssumeRole** ("Policy evaluation logic", role trust policies): the
  role's trust policy must allow the caller (:func:`trust_policy_gate`).
- **sts:GetCallerIdentity** ("GetCallerIdentity": "No permissions are
  required to perform this operation"): always allowed, even under an
  explicit deny (:func:`needs_no_permission`).
- **alias/aws/** ("Aliases in AWS KMS": names reserved for AWS managed
  keys): customers cannot create, update or delete them
  (:func:`reserved_alias`).
- **AWS managed policies** (``arn:aws:iam::aws:policy/...``) exist in every
  account: a caller reads them as its own account's, not as another
  account's (:func:`resource_owner`).
- **Roles under ``/aws-service-role/`` and ``/aws-reserved/``** are
  modifiable by AWS only (IAM's ``UnmodifiableEntity``: "Cannot perform the
  operation on the protected role 'NAME' - this role is only modifiable by
  AWS"; :func:`protected_role`).
- **A resource owner** can be named where the ARN names none
  (``ResourceOwner``, ``--resource-account``): it decides same- or
  cross-account evaluation (:func:`resource_owner`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from kmsd.policy.context import RequestContext
from kmsd.policy.decision import Decision, Outcome
from kmsd.policy.evaluate import evaluate
from kmsd.policy.model import AllowVia, Policy, PolicyKind

AWS_MANAGED_ACCOUNT = "aws"
RESERVED_ALIAS_PREFIX = "alias/aws/"
PROTECTED_ROLE_PATHS = ("/aws-service-role/", "/aws-reserved/")

_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]*:[^:]*:key/.+")
_ALIAS_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]*:[^:]*:(alias/.*)")
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[^:]*:role(/.*/|/)([^/]+)")
_AWS_MANAGED_POLICY = re.compile(r"arn:aws[a-z-]*:iam::aws:policy/.+")

# The actions that change an alias ("Controlling access to aliases"); reading one is not refused.
_ALIAS_CHANGES = frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias"})
# The IAM operations whose model lists UnmodifiableEntityException, by the action each needs.
PROTECTED_ROLE_ACTIONS = frozenset(
    {
        "iam:updaterole",
        "iam:updateroledescription",
        "iam:updateassumerolepolicy",
        "iam:deleterole",
        "iam:putrolepolicy",
        "iam:deleterolepolicy",
        "iam:attachrolepolicy",
        "iam:detachrolepolicy",
        "iam:putrolepermissionsboundary",
        "iam:deleterolepermissionsboundary",
        "iam:addroletoinstanceprofile",
        "iam:removerolefrominstanceprofile",
    }
)
_NO_PERMISSION = frozenset({"sts:getcalleridentity"})


def needs_no_permission(action: str) -> bool:
    """Whether ``action`` is allowed to every caller without a policy, and no Deny can refuse it."""
    return action.lower() in _NO_PERMISSION


def is_key_arn(resource: str) -> bool:
    """Whether ``resource`` is the ARN of a KMS key (not an alias)."""
    return _KEY_ARN.fullmatch(resource) is not None


def is_key_action(action: str, resource: str) -> bool:
    """Whether the key policy decides ``action`` on ``resource``: a ``kms:`` action on a key ARN."""
    return action.lower().startswith("kms:") and is_key_arn(resource)


def is_reserved_alias(name: str) -> bool:
    """Whether an alias name (``alias/aws/ebs``) is one of the names reserved for AWS managed keys."""
    return name.startswith(RESERVED_ALIAS_PREFIX)


def reserved_alias(action: str, resource: str) -> str | None:
    """The reserved alias name ``action`` would change on ``resource`` (an alias ARN), or None."""
    if action.lower() not in _ALIAS_CHANGES:
        return None
    match = _ALIAS_ARN.fullmatch(resource)
    if match is None or not is_reserved_alias(match.group(1)):
        return None
    return match.group(1)


def is_protected_role_path(path: str) -> bool:
    """Whether a role path (``/aws-service-role/ec2.amazonaws.com/``) is one only AWS may modify."""
    return path.startswith(PROTECTED_ROLE_PATHS)


def protected_role(action: str, resource: str) -> str | None:
    """The name of the protected role ``action`` would modify on ``resource`` (a role ARN), or None."""
    if action.lower() not in PROTECTED_ROLE_ACTIONS:
        return None
    match = _ROLE_ARN.fullmatch(resource)
    if match is None or not is_protected_role_path(match.group(1)):
        return None
    return match.group(2)


def unmodifiable_message(role_name: str) -> str:
    """IAM's UnmodifiableEntity message for a protected role."""
    return f"Cannot perform the operation on the protected role '{role_name}' - this role is only modifiable by AWS"


def resource_owner(resource: str, caller_account: str, given: str | None = None) -> str | None:
    """The account that owns ``resource`` for evaluation (None: the account its ARN names, else the caller's).

    An AWS managed policy belongs to every account, so to the caller's.  A
    ``given`` owner (``ResourceOwner``, ``--resource-account``) counts where
    the ARN names no account (``*``, ``arn:aws:s3:::bucket``).
    """
    if _AWS_MANAGED_POLICY.fullmatch(resource) is not None:
        return caller_account
    if given and not _account_field(resource):
        return given
    return None


def _account_field(resource: str) -> str:
    parts = resource.split(":", 5)
    return parts[4] if len(parts) == 6 and parts[0] == "arn" else ""


class Gate(NamedTuple):
    """A service's verdict on a policy decision: allowed, and for a refusal AWS's reason."""

    allowed: bool
    reason: str
    via: AllowVia | None = None  # how the resource policy named the caller, when it allowed


def no_resource_policy(action: str) -> str:
    return f"because no resource-based policy allows the {action} action"


def key_policy_gate(decision: Decision, action: str, root: bool) -> Gate:
    """KMS: whether the key policy lets ``decision`` (of key policy + identity policies) allow the call.

    "Key policies in AWS KMS": "Unless the key policy explicitly allows it,
    you cannot use IAM policies to allow access to a KMS key."  Allowed when
    nothing denies and the key policy allows the caller directly, or allows
    its account and an identity policy allows too.  The account's root user
    has no identity policies, but IAM lets it do anything in its own account:
    the key policy naming its account is enough.  Grants are the KMS
    authorizer's to add.
    """
    if decision.outcome is Outcome.EXPLICIT_DENY:
        return Gate(False, decision.denial_reason(action))
    via = decision.resource_via
    if via is not None and (root or decision.allowed):
        return Gate(True, "", via)
    return Gate(False, decision.denial_reason(action) if via is not None else no_resource_policy(action))


def trust_policy_gate(decision: Decision) -> bool:
    """STS AssumeRole: allowed only when the decision allows and the role's trust policy itself allowed."""
    return decision.allowed and decision.kinds[PolicyKind.RESOURCE].allowed


@dataclass(frozen=True)
class ServiceDecision:
    """The decision on one request under the general logic and the service's rules.

    ``decision`` is the policy evaluation (None when a rule decided without
    one); ``rule`` says, in words, which service rule decided or changed the
    outcome; ``reason`` is the ending of AWS's AccessDenied message for a
    refusal, ``error`` the error the service answers instead of AccessDenied
    (``UnmodifiableEntity``, ``NotAuthorizedException``), if any.
    """

    outcome: Outcome
    decision: Decision | None
    reason: str = ""
    rule: str | None = None
    error: str | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    def to_json(self) -> dict[str, Any]:
        report: dict[str, Any] = self.decision.to_json() if self.decision is not None else {"statements": []}
        report["decision"] = self.outcome.value
        report["service_rule"] = self.rule
        if self.error is not None:
            report["error"] = self.error
        return report


def decided_without_policies(action: str, resource: str) -> ServiceDecision | None:
    """The answer of a rule that needs no policy (GetCallerIdentity, a reserved alias, a protected role), or None."""
    if needs_no_permission(action):
        return ServiceDecision(Outcome.ALLOW, None, rule=f"{action} needs no permission and cannot be denied")
    alias = reserved_alias(action, resource)
    if alias is not None:
        rule = f"`{alias}` is reserved for AWS managed keys: customers cannot create, update or delete it"
        # The errors the live server answers: CreateAlias and UpdateAlias refuse, DeleteAlias says the state is wrong.
        error = "KMSInvalidStateException" if action.lower() == "kms:deletealias" else "NotAuthorizedException"
        return ServiceDecision(Outcome.EXPLICIT_DENY, None, rule=rule, error=error)
    role = protected_role(action, resource)
    if role is not None:
        return ServiceDecision(Outcome.EXPLICIT_DENY, None, rule=unmodifiable_message(role), error="UnmodifiableEntity")
    return None


def evaluate_with_service_rules(
    context: RequestContext, policies: Sequence[Policy], *, root: bool = False
) -> ServiceDecision:
    """Decide ``context`` against ``policies`` as the service that owns the action would.

    ``root``: the caller is its account's root user, which IAM lets do
    anything in its own account (a key policy still gates it).
    """
    action, resource = context.action, context.resource
    settled = decided_without_policies(action, resource)
    if settled is not None:
        return settled
    decision = evaluate(context, policies)
    if is_key_action(action, resource):
        gate = key_policy_gate(decision, action, root)
        outcome = decision.outcome if decision.outcome is Outcome.EXPLICIT_DENY else _allowed(gate.allowed)
        return ServiceDecision(outcome, decision, gate.reason, _changed(decision, outcome, _KEY_GATE))
    if action.lower() == "sts:assumerole":
        if trust_policy_gate(decision):
            return ServiceDecision(Outcome.ALLOW, decision)
        # STS's refusal names no reason.
        outcome = decision.outcome if decision.outcome is Outcome.EXPLICIT_DENY else Outcome.IMPLICIT_DENY
        return ServiceDecision(outcome, decision, "", _changed(decision, outcome, _TRUST_GATE))
    if root and context.same_account and decision.outcome is not Outcome.EXPLICIT_DENY:
        return ServiceDecision(Outcome.ALLOW, decision, rule="the root user may do anything in its own account")
    reason = decision.denial_reason(action) if not decision.allowed else ""
    return ServiceDecision(decision.outcome, decision, reason)


_KEY_GATE = "the key policy is the gate: an identity policy counts only where the key policy delegates to the account"
_TRUST_GATE = "the role's trust policy must allow the caller"


def _changed(decision: Decision, outcome: Outcome, rule: str) -> str | None:
    """``rule`` when it changed the general logic's outcome (or its reason), else None."""
    return rule if outcome is not decision.outcome or not decision.allowed else None


def _allowed(allowed: bool) -> Outcome:
    return Outcome.ALLOW if allowed else Outcome.IMPLICIT_DENY


__all__ = [
    "Gate",
    "ServiceDecision",
    "decided_without_policies",
    "evaluate_with_service_rules",
    "is_key_action",
    "is_key_arn",
    "is_protected_role_path",
    "is_reserved_alias",
    "key_policy_gate",
    "needs_no_permission",
    "protected_role",
    "reserved_alias",
    "resource_owner",
    "trust_policy_gate",
    "unmodifiable_message",
]
