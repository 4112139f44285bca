"""Per-statement traces: for every statement, whether it applied to the request and, if not, why.

The evaluator's fast path stops as soon as the outcome is settled and keeps
no record; a trace re-runs each statement element by element (action,
resource, principal, every condition) without the evaluator's indexes and
shortcuts, and says which one failed and how, in terms of the policy text.
:func:`render_text` turns a decision and its trace into the report
``kmsd policy explain`` prints.
"""

from __future__ import annotations

from collections.abc import Sequence

from kmsd.policy.compiled import compiled_of
from kmsd.policy.context import RequestContext
from kmsd.policy.decision import ConditionTrace, Decision, Mismatch, Outcome, StatementTrace
from kmsd.policy.model import Effect, Policy, PolicyKind, Statement
from kmsd.policy.statements import CompiledStatement


def trace_statements(
    context: RequestContext, policies: Sequence[Policy], boundary_present: bool
) -> tuple[StatementTrace, ...]:
    traces: list[StatementTrace] = []
    # Resource-based policies do not see the request's IAM-only keys, in a trace as in the evaluation.
    seen = context.for_resource_policies()
    for policy in policies:
        policy_context = seen if policy.kind is PolicyKind.RESOURCE else context
        for statement in compiled_of(policy).statements:
            traces.append(_trace_one(policy, statement, policy_context, boundary_present))
    return tuple(traces)


def _trace_one(
    policy: Policy, compiled: CompiledStatement, context: RequestContext, boundary_present: bool
) -> StatementTrace:
    statement = compiled.statement
    identifier = f"{policy.policy_id}:{statement.label}"
    effect = statement.effect.value

    def miss(mismatch: Mismatch, detail: str, conditions: tuple[ConditionTrace, ...] = ()) -> StatementTrace:
        return StatementTrace(identifier, policy.kind, effect, False, mismatch, detail, conditions)

    if not compiled.applies_to_action(context.folded_action):
        if statement.action is not None:
            return miss(Mismatch.ACTION, f"`{context.action}` is not in Action {_listing(statement.action)}")
        return miss(Mismatch.ACTION, f"`{context.action}` is excluded by NotAction {_listing(statement.not_action)}")
    if not compiled.applies_to_resource(context):
        if statement.resource is not None:
            detail = f"`{context.resource}` is not in Resource {_listing(statement.resource)}"
        else:
            detail = f"`{context.resource}` is excluded by NotResource {_listing(statement.not_resource)}"
        if compiled.resources_dynamic:
            detail += " (after substituting policy variables; an unresolved variable matches nothing)"
        return miss(Mismatch.RESOURCE, detail)
    via = compiled.principal_via(context.principal, boundary_present)
    if via is None:
        if statement.principal is not None:
            detail = f"`{context.principal.arn}` is not named by Principal {_principal_text(statement)}"
        elif statement.effect is Effect.DENY:
            detail = f"`{context.principal.arn}` is exempted by NotPrincipal {_principal_text(statement)}"
        else:
            listed = _principal_text(statement)
            detail = f"`{context.principal.arn}` is named by NotPrincipal {listed}, so this Allow skips it"
        return miss(Mismatch.PRINCIPAL, detail)
    # The general evaluate(), not the shortcut the evaluator runs: a trace is also a check on that shortcut.
    conditions = tuple(
        ConditionTrace(condition.operator.name, condition.key, condition.evaluate(context))
        for condition in compiled.conditions
    )
    failed = [condition for condition in conditions if not condition.held]
    if failed:
        shown = ", ".join(f"`{c.operator}` on `{c.key}`" for c in failed)
        return miss(Mismatch.CONDITION, f"condition failed: {shown}", conditions)
    shown_via = via if statement.principal is not None or statement.not_principal is not None else None
    return StatementTrace(identifier, policy.kind, effect, True, None, "", conditions, shown_via)


def _listing(values: Sequence[str] | None) -> str:
    return "[" + ", ".join(f"`{value}`" for value in values or ()) + "]"


def _principal_text(statement: Statement) -> str:
    element = statement.principal or statement.not_principal
    if element is None or element.everyone:
        return "`*`"
    return ", ".join(f"{kind} {_listing(values)}" for kind, values in element.entries)


def render_text(decision: Decision, context: RequestContext) -> str:
    """The decision and its trace as the lines ``kmsd policy explain`` prints."""
    lines = [f"decision: {decision.outcome.value}"]
    if decision.statements:
        lines.append("deciding statements: " + ", ".join(decision.statements))
    if decision.outcome is not Outcome.ALLOW and decision.denial_kind is not None:
        lines.append(
            f"reason: User: {context.principal.arn} is not authorized to perform: {context.action} "
            f"on resource: {context.resource} {decision.denial_reason(context.action)}"
        )
    lines.append("same account: " + ("yes" if decision.same_account else "no"))
    for kind, verdict in decision.kinds.items():
        if verdict.present:
            via = f" (via {verdict.allow_via.value})" if verdict.allow_via is not None else ""
            lines.append(f"{kind.value}: {verdict.match.value}{via}")
    lines.extend(statement_lines(decision))
    return "\n".join(lines)


def statement_lines(decision: Decision) -> list[str]:
    """The per-statement trace as text: each statement, matched (and how it named the caller) or why not."""
    lines = ["statements:"]
    for entry in decision.trace:
        if entry.matched:
            via = f" via {entry.via.value}" if entry.via is not None else ""
            lines.append(f"  {entry.statement_id} [{entry.kind.value}] {entry.effect}: matched{via}")
        else:
            assert entry.mismatch is not None
            lines.append(
                f"  {entry.statement_id} [{entry.kind.value}] {entry.effect}: "
                f"no match ({entry.mismatch.value}): {entry.detail}"
            )
    return lines
