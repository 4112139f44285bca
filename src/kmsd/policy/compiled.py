"""A policy document compiled for evaluation: its statements, indexed by action, with a memo of verdicts.

A :class:`CompiledPolicy` is built once per distinct document (the parser
caches it by the document's hash).  Per action it keeps an
:class:`ActionPlan`: the statements whose Action/NotAction covers it, in the
flat form the evaluator's inner loop reads, and a memo of which of them
applied to earlier requests with the same relevant facts, so a request
usually costs a dictionary lookup per policy however large the policy is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from kmsd.policy.conditions import CompiledCondition
from kmsd.policy.context import PrincipalInfo, RequestContext
from kmsd.policy.decision import AllowVia
from kmsd.policy.model import Policy, PolicyDocument
from kmsd.policy.statements import CompiledStatement

VARIABLES_VERSION = "2012-10-17"
_CACHE_LIMIT = 1024
# Verdicts kept per (document, action): enough for the callers and keys a node sees at once, and a
# bound on memory however many distinct requests arrive (the memo is emptied when it fills).
_MEMO_LIMIT = 64


class StatementPlan(NamedTuple):
    """What the evaluator's inner loop reads per statement, unpacked in one step instead of attribute by attribute."""

    statement: CompiledStatement
    position: int
    deny: bool
    any_resource: bool
    principal_match: Callable[[PrincipalInfo], AllowVia | None] | None  # None: no Principal element
    negated_principal: bool
    conditions: tuple[CompiledCondition, ...]


# The statements of one policy that apply to one request: (position, deny, via) each.
Applied = tuple[tuple[int, bool, AllowVia], ...]


class ActionPlan:
    """The statements of a policy that can apply to one action, and a memo of their verdicts.

    A statement's verdict depends only on the request's resource, the
    principal, whether a permissions boundary takes part, and the values of
    the condition keys and variables it reads; the memo is keyed by exactly
    those, so repeated requests (same caller, same key, same context values)
    skip the statements altogether.  Statements reading the clock are never
    memoized: their keys change on every request.
    """

    __slots__ = ("keys", "memo", "plans")

    def __init__(self, plans: tuple[StatementPlan, ...]) -> None:
        self.plans = plans
        keys: set[str] = set()
        reads_time = False
        for plan in plans:
            for condition in plan.conditions:
                keys |= condition.context_keys
                reads_time = reads_time or condition.reads_time
            for pattern in plan.statement.resources:
                keys |= pattern.variable_keys
        self.keys = tuple(sorted(keys))
        self.memo: dict[tuple[object, ...], Applied] | None = None if reads_time or not plans else {}

    def applied(self, context: RequestContext, has_boundary: bool) -> Applied:
        memo = self.memo
        if memo is None:
            return apply_plans(self.plans, context, has_boundary)
        principal = context.principal
        folded = context.folded_keys
        signature = (
            context.resource,
            principal.arn,
            principal.account_id,
            principal.kind,
            principal.role_arn,
            has_boundary,
            *map(folded.get, self.keys),
        )
        found = memo.get(signature)
        if found is None:
            found = apply_plans(self.plans, context, has_boundary)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[signature] = found
        return found


def apply_plans(plans: tuple[StatementPlan, ...], context: RequestContext, has_boundary: bool) -> Applied:
    """The statements among ``plans`` that apply to ``context``: resource, then principal, then conditions."""
    principal = context.principal
    applied: list[tuple[int, bool, AllowVia]] = []
    for statement, position, deny, any_resource, principal_match, negated, conditions in plans:
        if not any_resource and not statement.applies_to_resource(context):
            continue
        if principal_match is None:
            via: AllowVia | None = AllowVia.PRINCIPAL
        elif negated:
            via = statement.principal_via(principal, has_boundary)
        else:
            via = principal_match(principal)
        if via is None:
            continue
        if conditions:
            holds = True
            # A plain loop with an early exit: this is the evaluator's innermost loop.
            for condition in conditions:
                if not condition.holds(context):
                    holds = False
                    break
            if not holds:
                continue
        applied.append((position, deny, via))
    return tuple(applied)


def _plan(statement: CompiledStatement) -> StatementPlan:
    principals = statement.principals
    return StatementPlan(
        statement,
        statement.index,
        statement.deny,
        statement.any_resource,
        principals.match if principals is not None else None,
        statement.principals_negated,
        statement.conditions,
    )


class CompiledPolicy:
    """A document's compiled statements plus, per action, the statements that can apply to it."""

    __slots__ = ("_by_action", "_labels", "statements")

    def __init__(self, document: PolicyDocument) -> None:
        variables = document.version == VARIABLES_VERSION
        self.statements = tuple(CompiledStatement(statement, variables=variables) for statement in document.statements)
        self._by_action: dict[str, ActionPlan] = {}
        self._labels: dict[str, tuple[str, ...]] = {}

    def statement_ids(self, policy_id: str) -> tuple[str, ...]:
        """``"<policy_id>:<Sid or #index>"`` for every statement, by statement index."""
        found = self._labels.get(policy_id)
        if found is None:
            found = tuple(f"{policy_id}:{compiled.statement.label}" for compiled in self.statements)
            if len(self._labels) >= _CACHE_LIMIT:
                self._labels.clear()
            self._labels[policy_id] = found
        return found

    def for_action(self, folded_action: str) -> ActionPlan:
        """The statements whose Action/NotAction covers ``folded_action``, in document order."""
        found = self._by_action.get(folded_action)
        if found is None:
            found = ActionPlan(tuple(_plan(s) for s in self.statements if s.applies_to_action(folded_action)))
            if len(self._by_action) >= _CACHE_LIMIT:
                self._by_action.clear()
            self._by_action[folded_action] = found
        return found


def compiled_of(policy: Policy) -> CompiledPolicy:
    """The policy's compiled form; a Policy built by hand rather than by ``parse_policy`` is compiled here."""
    compiled = policy.compiled
    if isinstance(compiled, CompiledPolicy):
        return compiled
    return CompiledPolicy(policy.document)
