"""IAM's policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy, on the engine that decides live calls.

Each action of ``ActionNames`` is decided for each resource of
``ResourceArns`` (``*`` when none is given) against the policies the request
brings (``PolicyInputList``, ``PermissionsBoundaryPolicyInputList``,
``ResourcePolicy``) and, for SimulatePrincipalPolicy, those of the user,
group or role ``PolicySourceArn`` names (a user's include its groups'; its
permissions boundary counts unless the request gives one).  The decision is
:func:`kmsd.policy.service_rules.evaluate_with_service_rules`: the general
evaluation logic plus the rules of the service that owns the action, the
same code the live server and ``kmsd policy explain`` run.

Beyond AWS, a KMS-aware mode: for a ``kms:`` action on the ARN of an
existing KMS key (or on ``*`` or an alias ARN, for the permissions identity
policies alone decide), when the request gives no ``ResourcePolicy``, the
simulator injected by the composition root (:class:`KeySimulator`,
implemented by :mod:`kmsd.authz.simulation`) decides with the key's real key
policy and grants and the request context the live server would build, so
the answer equals the live one.  Giving ``ResourcePolicy`` turns it off.
``CallerArn`` may also name a session of the simulated role or, for
SimulateCustomPolicy, an account's root user.

The answer is AWS's: ``EvalDecision`` (``allowed``, ``explicitDeny``,
``implicitDeny``), ``MatchedStatements`` with their source policy
(``PolicyInputList.1``, a managed policy's name, ``user_NAME_POLICY`` for an
inline policy, ``ResourcePolicy``) and positions in the policy text
(:mod:`kmsd.policy.positions`), ``MissingContextValues``,
``EvalDecisionDetails`` (for cross-account resources),
``PermissionsBoundaryDecisionDetail`` and ``ResourceSpecificResults``; the
results are paged with ``MaxItems`` / ``Marker``.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kmsd.errors import AwsError
from kmsd.iam.context import IamContext
from kmsd.iam.entity_kinds import GROUPS, ROLES, USERS
from kmsd.iam.identity_policies import IdentityPolicySet
from kmsd.iam.paging import IAM_PAGING
from kmsd.iam.principal import Caller, Principal, hypothetical_session, user_principal
from kmsd.policy import (
    Decision,
    Outcome,
    Policy,
    PolicyKind,
    PolicyValidationError,
    PrincipalInfo,
    RequestContext,
    SizeLimit,
)
from kmsd.policy.parser import parse_policy
from kmsd.policy.positions import statement_spans
from kmsd.policy.service_rules import decided_without_policies, evaluate_with_service_rules, resource_owner
from kmsd.store.models import OwnerKind

_SOURCE_ARN = re.compile(r"arn:aws:iam::(\d{12}):(user|group|role)(/(?:.*/)?)([^/]+)")
_USER_ARN = re.compile(r"arn:aws:iam::(\d{12}):user(/(?:.*/)?)([^/]+)")
_SESSION_ARN = re.compile(r"arn:aws:sts::(\d{12}):assumed-role/([^/]+)/([^/]+)")
_OWNER_ARN = re.compile(r"arn:aws:iam::(\d{12}):root")
_ACTION = re.compile(r"[A-Za-z0-9-]+:[A-Za-z0-9*?]+")
# "ResourceHandlingOption": the EC2 scenarios AWS documents; each groups the resources of one action.
RESOURCE_HANDLING_OPTIONS = frozenset(
    {"EC2-VPC-InstanceStore", "EC2-VPC-InstanceStore-Subnet", "EC2-VPC-EBS", "EC2-VPC-EBS-Subnet"}
)
SIMULATION_SESSION_NAME = "kmsd-simulation"
IAM_POLICY = "IAM Policy"
RESOURCE_POLICY = "Resource Policy"
_DECISION = {Outcome.ALLOW: "allowed", Outcome.EXPLICIT_DENY: "explicitDeny", Outcome.IMPLICIT_DENY: "implicitDeny"}
# The model bounds each document (131,072 characters); the kinds' own quotas are for storing, not simulating.
_NO_LIMIT = SizeLimit("policy", sys.maxsize, True, "bytes", "")
_LIST_TYPES = {"stringList", "numericList", "booleanList", "ipList", "binaryList", "dateList"}


@dataclass(frozen=True)
class SimulatedPolicy:
    """One policy of a simulation: the parsed policy, its text, and how the answer names it."""

    policy: Policy
    text: str
    source_id: str
    source_type: str  # "IAM Policy" or "Resource Policy", as AWS's answers spell them


def invalid_input(message: str) -> AwsError:
    return AwsError("InvalidInput", message, 400)


# --- the two operations ------------------------------------------------------------------------------


def policy_source(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    """What iam:SimulatePrincipalPolicy is authorized on: the user, group or role simulated."""
    return str(params["PolicySourceArn"])


def any_resource(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> str:
    """What iam:SimulateCustomPolicy is authorized on: no resource ("*")."""
    return "*"


def simulate_principal_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    source_arn = str(params["PolicySourceArn"])
    match = _SOURCE_ARN.fullmatch(source_arn)
    if match is None:
        raise invalid_input(f"Invalid ARN: {source_arn} is not the ARN of a user, group or role.")
    account_id, kind, _, name = match.groups()
    identity: list[SimulatedPolicy] = []
    boundary_arn: str | None
    principal: Principal | None
    if kind == "user":
        user = USERS.named(ctx, account_id, name)
        identity.extend(_owned(ctx, "user", user.user_id, user.user_name))
        for group in ctx.store.list_groups_for_user(user.user_id):
            identity.extend(_owned(ctx, "group", group.group_id, group.group_name))
        boundary_arn, principal = user.permissions_boundary_arn, _user_principal(ctx, user.arn)
    elif kind == "group":
        group = GROUPS.named(ctx, account_id, name)
        identity.extend(_owned(ctx, "group", group.group_id, group.group_name))
        boundary_arn, principal = None, None
    else:
        role = ROLES.named(ctx, account_id, name)
        identity.extend(_owned(ctx, "role", role.role_id, role.role_name))
        boundary_arn, principal = role.permissions_boundary_arn, _role_principal(ctx, role.arn, None)
    identity.extend(_inputs(params.get("PolicyInputList"), "PolicyInputList", PolicyKind.IDENTITY))
    boundaries = _inputs(
        params.get("PermissionsBoundaryPolicyInputList"),
        "PermissionsBoundaryPolicyInputList",
        PolicyKind.PERMISSIONS_BOUNDARY,
    )
    if not boundaries and boundary_arn is not None:
        boundaries = _managed(ctx, boundary_arn, PolicyKind.PERMISSIONS_BOUNDARY)
    caller_arn = params.get("CallerArn")
    if caller_arn is not None:
        principal = _caller_principal(ctx, str(caller_arn), account_id)
    elif params.get("ResourcePolicy") is not None and kind != "user":
        raise invalid_input(
            "CallerArn must be specified when PolicySourceArn is not a user and a ResourcePolicy is given."
        )
    fallback = PrincipalInfo(source_arn, account_id, "user")
    return _simulate(ctx, params, identity, boundaries, principal, fallback)


def simulate_custom_policy(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    identity = _inputs(params.get("PolicyInputList"), "PolicyInputList", PolicyKind.IDENTITY)
    boundaries = _inputs(
        params.get("PermissionsBoundaryPolicyInputList"),
        "PermissionsBoundaryPolicyInputList",
        PolicyKind.PERMISSIONS_BOUNDARY,
    )
    account_id = caller.principal.account_id
    caller_arn = params.get("CallerArn")
    principal = _caller_principal(ctx, str(caller_arn), account_id) if caller_arn is not None else None
    if params.get("ResourcePolicy") is not None and caller_arn is None:
        raise invalid_input("CallerArn must be specified when a ResourcePolicy is given.")
    # Without a caller the simulation is of the policies alone, in the calling account.
    fallback = PrincipalInfo(f"arn:aws:iam::{account_id}:user/{SIMULATION_SESSION_NAME}", account_id, "user")
    return _simulate(ctx, params, identity, boundaries, principal, fallback)


# --- evaluation --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    keys: dict[str, str | tuple[str, ...]]
    resource_policy: SimulatedPolicy | None
    owner: str | None


def _simulate(
    ctx: IamContext,
    params: Mapping[str, Any],
    identity: list[SimulatedPolicy],
    boundaries: list[SimulatedPolicy],
    principal: Principal | None,
    fallback: PrincipalInfo,
) -> dict[str, Any]:
    actions = [str(action) for action in params["ActionNames"]]
    for action in actions:
        if _ACTION.fullmatch(action) is None:
            raise invalid_input(f"Action {action} is not valid: actions are written service:action.")
    resources = [str(resource) for resource in params.get("ResourceArns") or ["*"]]
    handling = params.get("ResourceHandlingOption")
    if handling is not None and handling not in RESOURCE_HANDLING_OPTIONS:
        raise invalid_input(f"Invalid ResourceHandlingOption: {handling}")
    text = params.get("ResourcePolicy")
    resource_policy = _input(str(text), "ResourcePolicy", PolicyKind.RESOURCE, RESOURCE_POLICY) if text else None
    request = _Request(_context_keys(params.get("ContextEntries") or ()), resource_policy, _owner(params))
    given_resources = params.get("ResourceArns") is not None
    results: list[dict[str, Any]] = []
    for action in actions:
        per_resource = [
            _result(ctx, request, identity, boundaries, principal, fallback, action, resource) for resource in resources
        ]
        if handling is not None:
            results.append(_grouped(action, per_resource))
            continue
        for answer in per_resource:
            if given_resources:
                answer["ResourceSpecificResults"] = [_resource_specific(answer)]
            results.append(answer)
    numbered = [(f"{index:08d}", result) for index, result in enumerate(results)]
    page = IAM_PAGING.paginate(numbered, lambda item: item[0], "simulation", params)
    return {"EvaluationResults": [result for _, result in page.items], **page.response_members()}


def _result(
    ctx: IamContext,
    request: _Request,
    identity: list[SimulatedPolicy],
    boundaries: list[SimulatedPolicy],
    principal: Principal | None,
    fallback: PrincipalInfo,
    action: str,
    resource: str,
) -> dict[str, Any]:
    settled = decided_without_policies(action, resource)
    if settled is not None:
        # A rule that needs no policy (a reserved alias, a protected role) answers before any engine.
        return _answer(action, resource, settled.outcome, None, (), ())
    simulator = ctx.key_simulator
    kms_action = action.lower().startswith("kms:")
    if simulator is not None and principal is not None and request.resource_policy is None and kms_action:
        policy_set = IdentityPolicySet(
            identity=tuple(entry.policy for entry in identity),
            boundary=boundaries[0].policy if boundaries else None,
            is_root=principal.kind == "root",
        )
        found = simulator.simulate_key(principal, policy_set, action, resource, request.keys)
        if found is not None:
            key_policy: list[SimulatedPolicy] = []
            if found.key_policy is not None:
                key_policy = [
                    SimulatedPolicy(found.key_policy, found.key_policy_text, "ResourcePolicy", RESOURCE_POLICY)
                ]
            # The live authorizer evaluates (key policy, *identity, boundary): the trace follows that order.
            ordered = key_policy + identity + boundaries[:1]
            answer = _answer(action, resource, found.outcome, found.decision, ordered, boundaries[:1])
            if found.grants and found.outcome is Outcome.ALLOW:
                answer["MatchedStatements"] = answer["MatchedStatements"] + [
                    {"SourcePolicyId": f"grant/{grant_id}", "SourcePolicyType": "none"} for grant_id in found.grants
                ]
            return answer
    info = _principal_info(principal) if principal is not None else fallback
    policies = identity + ([request.resource_policy] if request.resource_policy is not None else []) + boundaries
    owner = resource_owner(resource, info.account_id, request.owner)
    context = RequestContext(action, resource, info, request.keys, resource_account=owner)
    verdict = evaluate_with_service_rules(context, [entry.policy for entry in policies], root=info.kind == "root")
    return _answer(action, resource, verdict.outcome, verdict.decision, policies, boundaries)


def _answer(
    action: str,
    resource: str,
    outcome: Outcome,
    decision: Decision | None,
    policies: Sequence[SimulatedPolicy],
    boundaries: Sequence[SimulatedPolicy],
) -> dict[str, Any]:
    matched: list[dict[str, Any]] = []
    missing: set[str] = set()
    if decision is not None:
        places = [(entry, index) for entry in policies for index in range(len(entry.policy.statements))]
        spans = {id(entry): statement_spans(entry.text) for entry in policies}
        wanted = {Outcome.ALLOW: "Allow", Outcome.EXPLICIT_DENY: "Deny"}.get(outcome)
        for (entry, index), trace in zip(places, decision.trace, strict=False):
            statement = entry.policy.statements[index]
            if trace.mismatch is None or trace.mismatch.value == "condition":
                missing.update(_missing_keys(decision, statement.conditions))
            if trace.matched and trace.effect == wanted and entry.policy.kind is not PolicyKind.PERMISSIONS_BOUNDARY:
                matched.append(_statement(entry, spans[id(entry)], index))
    answer: dict[str, Any] = {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": _DECISION[outcome],
        "MatchedStatements": matched,
        "MissingContextValues": sorted(missing),
    }
    details = _decision_details(decision, resource)
    if details is not None:
        answer["EvalDecisionDetails"] = details
    if boundaries and decision is not None:
        verdict = decision.kinds[PolicyKind.PERMISSIONS_BOUNDARY]
        answer["PermissionsBoundaryDecisionDetail"] = {
            "AllowedByPermissionsBoundary": verdict.allowed and not verdict.denied
        }
    return answer


def _statement(entry: SimulatedPolicy, spans: Sequence[Any], index: int) -> dict[str, Any]:
    found: dict[str, Any] = {"SourcePolicyId": entry.source_id, "SourcePolicyType": entry.source_type}
    if index < len(spans):
        start, end = spans[index]
        found["StartPosition"] = {"Line": start.line, "Column": start.column}
        found["EndPosition"] = {"Line": end.line, "Column": end.column}
    return found


def _missing_keys(decision: Decision, conditions: Sequence[Any]) -> set[str]:
    context = decision.context
    return {condition.key for condition in conditions if context.value(condition.key.lower()) is None}


def _decision_details(decision: Decision | None, resource: str) -> dict[str, str] | None:
    """AWS: present only with a resource ARN; empty within one account, per policy type across accounts."""
    if resource == "*":
        return None
    if decision is None or decision.same_account:
        return {}
    kinds = decision.kinds
    return {
        IAM_POLICY: _kind_decision(kinds[PolicyKind.IDENTITY]),
        RESOURCE_POLICY: _kind_decision(kinds[PolicyKind.RESOURCE]),
    }


def _kind_decision(verdict: Any) -> str:
    if verdict.denied:
        return "explicitDeny"
    return "allowed" if verdict.allowed else "implicitDeny"


def _resource_specific(answer: Mapping[str, Any]) -> dict[str, Any]:
    specific: dict[str, Any] = {
        "EvalResourceName": answer["EvalResourceName"],
        "EvalResourceDecision": answer["EvalDecision"],
        "MatchedStatements": answer["MatchedStatements"],
        "MissingContextValues": answer["MissingContextValues"],
    }
    for member in ("EvalDecisionDetails", "PermissionsBoundaryDecisionDetail"):
        if member in answer:
            specific[member] = answer[member]
    return specific


def _grouped(action: str, answers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One result for all resources of a ResourceHandlingOption scenario: allowed only if every one is."""
    decisions = {answer["EvalDecision"] for answer in answers}
    if "explicitDeny" in decisions:
        decision = "explicitDeny"
    else:
        decision = "allowed" if decisions == {"allowed"} else "implicitDeny"
    return {
        "EvalActionName": action,
        "EvalResourceName": "*",
        "EvalDecision": decision,
        "MatchedStatements": [statement for answer in answers for statement in answer["MatchedStatements"]],
        "MissingContextValues": sorted({key for answer in answers for key in answer["MissingContextValues"]}),
        "ResourceSpecificResults": [_resource_specific(answer) for answer in answers],
    }


# --- inputs ------------------------------------------------------------------------------------------


def _inputs(texts: Sequence[str] | None, member: str, kind: PolicyKind) -> list[SimulatedPolicy]:
    return [_input(str(text), f"{member}.{number}", kind, IAM_POLICY) for number, text in enumerate(texts or (), 1)]


def _input(text: str, source_id: str, kind: PolicyKind, source_type: str) -> SimulatedPolicy:
    try:
        # The simulator checks meaning, not quotas: no size limit beyond the model's.
        policy = parse_policy(text, kind, source_id, max_size=_NO_LIMIT)
    except PolicyValidationError as error:
        detail = f" ({error.detail})" if error.detail else ""
        raise invalid_input(f"{source_id}: {error.message}{detail}") from None
    return SimulatedPolicy(policy, text, source_id, source_type)


def _owned(ctx: IamContext, owner_kind: OwnerKind, owner_id: str, owner_name: str) -> list[SimulatedPolicy]:
    """The inline and attached policies of one user, group or role, named as AWS's simulator names them."""
    found = [
        _stored(inline.document, f"{owner_kind}_{owner_name}_{inline.policy_name}", PolicyKind.IDENTITY)
        for inline in ctx.store.list_inline_policies(owner_kind, owner_id)
    ]
    for arn in ctx.store.list_attached_policies(owner_kind, owner_id):
        found.extend(_managed(ctx, arn, PolicyKind.IDENTITY))
    return found


def _managed(ctx: IamContext, arn: str, kind: PolicyKind) -> list[SimulatedPolicy]:
    policy = ctx.store.get_policy(arn)
    version = ctx.store.get_policy_version(arn, policy.default_version_id) if policy is not None else None
    if policy is None or version is None:
        return []
    return [_stored(version.document, policy.policy_name, kind)]


def _stored(text: str, source_id: str, kind: PolicyKind) -> SimulatedPolicy:
    try:
        policy = parse_policy(text, kind, source_id, max_size=_NO_LIMIT)
    except PolicyValidationError:
        # A stored document that no longer parses: fail, never simulate without it (it may hold a Deny).
        raise AwsError("PolicyEvaluation", f"The policy {source_id} could not be evaluated.", 500) from None
    return SimulatedPolicy(policy, text, source_id, IAM_POLICY)


def _owner(params: Mapping[str, Any]) -> str | None:
    owner = params.get("ResourceOwner")
    if owner is None:
        return None
    match = _OWNER_ARN.fullmatch(str(owner))
    if match is None:
        raise invalid_input(f"Invalid ResourceOwner: {owner} is not an account ARN (arn:aws:iam::ACCOUNT-ID:root).")
    return match.group(1)


def _context_keys(entries: Sequence[Mapping[str, Any]]) -> dict[str, str | tuple[str, ...]]:
    """``ContextEntries`` as condition keys: list types are multivalued, the others take exactly one value."""
    keys: dict[str, str | tuple[str, ...]] = {}
    for entry in entries:
        name = entry.get("ContextKeyName")
        kind = entry.get("ContextKeyType")
        values = [str(value) for value in entry.get("ContextKeyValues") or ()]
        if not name or kind is None:
            raise invalid_input("Every context entry needs a ContextKeyName and a ContextKeyType.")
        for value in values:
            if not _valid_value(kind.removesuffix("List"), value):
                raise invalid_input(f"Context key {name}: `{value}` is not a valid {kind.removesuffix('List')} value.")
        if kind in _LIST_TYPES:
            keys[name] = tuple(values)
        elif len(values) != 1:
            raise invalid_input(f"Context key {name} of type {kind} takes exactly one value.")
        else:
            keys[name] = values[0]
    return keys


def _valid_value(kind: str, value: str) -> bool:
    try:
        if kind == "numeric":
            float(value)
        elif kind == "boolean":
            return value.lower() in ("true", "false")
        elif kind == "ip":
            ipaddress.ip_network(value, strict=False)
        elif kind == "binary":
            base64.b64decode(value, validate=True)
        elif kind == "date" and not value.lstrip("-").isdigit():
            # A date is ISO 8601 or seconds since the epoch, as the Date operators read it.
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, binascii.Error):
        return False
    return True


# --- who is simulated ---------------------------------------------------------------------------------


def _caller_principal(ctx: IamContext, arn: str, account_id: str) -> Principal:
    """``CallerArn``: an IAM user (AWS); beyond AWS, a session of a role (``arn:aws:sts::A:assumed-role/R/S``) or
    an account's root user (``arn:aws:iam::A:root``)."""
    root = _OWNER_ARN.fullmatch(arn)
    if root is not None:
        if ctx.store.get_account(root.group(1)) is None:
            raise invalid_input(f"CallerArn {arn} is not the root user of an existing account.")
        return Principal.root(root.group(1))
    if _USER_ARN.fullmatch(arn) is not None:
        principal = _user_principal(ctx, arn)
        if principal is None:
            raise invalid_input(f"CallerArn {arn} is not an existing IAM user.")
        return principal
    session = _SESSION_ARN.fullmatch(arn)
    if session is not None:
        role = ctx.store.get_role(session.group(1), session.group(2))
        if role is None:
            raise invalid_input(f"CallerArn {arn} is not a session of an existing role.")
        found = _role_principal(ctx, role.arn, session.group(3))
        if found is not None:
            return found
    raise invalid_input(f"CallerArn {arn} must be the ARN of an IAM user.")


def _user_principal(ctx: IamContext, arn: str) -> Principal | None:
    match = _USER_ARN.fullmatch(arn)
    user = ctx.store.get_user(match.group(1), match.group(3)) if match is not None else None
    if user is None or user.arn != arn:
        return None
    return user_principal(user)


def _role_principal(ctx: IamContext, role_arn: str, session_name: str | None) -> Principal | None:
    """The role as one of its sessions would call (a role itself never signs a request)."""
    match = _SOURCE_ARN.fullmatch(role_arn)
    role = ctx.store.get_role(match.group(1), match.group(4)) if match is not None else None
    if role is None:
        return None
    return hypothetical_session(role, session_name or SIMULATION_SESSION_NAME, "simulation", ctx.clock.now())


def _principal_info(principal: Principal) -> PrincipalInfo:
    return PrincipalInfo(principal.arn, principal.account_id, principal.kind, principal.role_arn)
