"""A policy document compiled for evaluation: its statements, indexed by action and by who asks for what.

A :class:`CompiledPolicy` is built once per distinct document (the parser
caches it by the document's hash).  A statement applies when its action,
resource, principal and conditions all match, checked in that order, cheapest
and most selective first.  The first three depend only on what repeats from
request to request (the action, the resource, the caller and whether a
permissions boundary takes part: the *subject*), so the statements that
survive them are worked out once per subject; what is left of each for a
request is one test, its ``request_test``: its conditions (and its resource,
when written with policy variables).  A request therefore costs a dictionary
lookup plus the conditions that could matter to it, however large the policy
is, and nothing is keyed by condition values, which change on every request
(time, source address, encryption context).
"""

from __future__ import annotations

from typing import TypeVar

from kmsd.policy.arn import split_arn
from kmsd.policy.context import RequestContext
from kmsd.policy.model import AllowVia, Policy, PolicyDocument
from kmsd.policy.statements import CompiledStatement

VARIABLES_VERSION = "2012-10-17"
# Entries kept per document in each cache below: emptied when full, a bound on memory whatever arrives.
_CACHE_LIMIT = 1024

# What a statement's action, resource and principal depend on:
# (folded action, resource, principal ARN, account, principal kind, role ARN, permissions boundary present).
SubjectKey = tuple[str, str, str, str, str, str | None, bool]


# A statement whose action, resource and principal match a subject, and how its Principal names the caller.
# What is left to check per request is its request_test.
Check = tuple[CompiledStatement, AllowVia]

# What kmsd.policy.plans keeps here: named only as a type variable, as plans builds on this module.
Plan = TypeVar("Plan")


class CompiledPolicy:
    """A document's compiled statements; per action the statements that cover it; per subject its survivors."""

    __slots__ = ("_by_action", "_by_subject", "_labels", "policy_sets", "statements")

    def __init__(self, document: PolicyDocument) -> None:
        variables = document.version == VARIABLES_VERSION
        self.statements = tuple(CompiledStatement(statement, variables=variables) for statement in document.statements)
        # Threads share these caches without a lock: each dictionary operation is atomic, and an entry lost
        # to a concurrent clear() is only worked out again.
        self._by_action: dict[str, tuple[CompiledStatement, ...]] = {}
        self._by_subject: dict[SubjectKey, tuple[Check, ...]] = {}
        self._labels: dict[str, tuple[str, ...]] = {}
        # Plans of the policy sets that start with a policy compiled from this document, by subject and the
        # identities of the set's Policy objects (see kmsd.policy.evaluate).  The plans hold those objects, so
        # their ids cannot be reused while the plans exist, and the plans go when this document does.  Typed
        # as objects: the plans module builds on this one, and the evaluator checks what it reads back.
        self.policy_sets: dict[tuple[object, ...], object] = {}

    def statement_ids(self, policy_id: str) -> tuple[str, ...]:
        """``"<policy_id>:<Sid or #index>"`` for every statement, by statement index."""
        found = self._labels.get(policy_id)
        if found is None:
            found = tuple(f"{policy_id}:{compiled.statement.label}" for compiled in self.statements)
            if len(self._labels) >= _CACHE_LIMIT:
                self._labels.clear()
            self._labels[policy_id] = found
        return found

    def for_action(self, folded_action: str) -> tuple[CompiledStatement, ...]:
        """The statements whose Action/NotAction covers ``folded_action``, in document order."""
        found = self._by_action.get(folded_action)
        if found is None:
            found = tuple(s for s in self.statements if s.applies_to_action(folded_action))
            if len(self._by_action) >= _CACHE_LIMIT:
                self._by_action.clear()
            self._by_action[folded_action] = found
        return found

    def checks(self, subject: SubjectKey, context: RequestContext) -> tuple[Check, ...]:
        """The statements whose action, resource and principal match ``subject`` (made from ``context``), in order.

        Worked out on first use, then kept: resource patterns without
        variables and principals are matched here once, not per request.
        """
        found = self._by_subject.get(subject)
        if found is not None:
            return found
        boundary_present = subject[6]
        principal = context.principal
        parts = split_arn(context.resource)
        survivors: list[Check] = []
        for statement in self.for_action(subject[0]):
            if not (statement.resources_dynamic or statement.covers_resource(context, parts)):
                continue
            via = statement.principal_via(principal, boundary_present)
            if via is not None:
                survivors.append((statement, via))
        found = tuple(survivors)
        if len(self._by_subject) >= _CACHE_LIMIT:
            self._by_subject.clear()
        self._by_subject[subject] = found
        return found

    def keep_policy_set(self, key: tuple[object, ...], plan: Plan) -> Plan:
        if len(self.policy_sets) >= _CACHE_LIMIT:
            self.policy_sets.clear()
        self.policy_sets[key] = plan
        return plan


def compiled_of(policy: Policy) -> CompiledPolicy:
    """The policy's compiled form; a Policy built by hand rather than by ``parse_policy`` is compiled here."""
    compiled = policy.compiled
    if isinstance(compiled, CompiledPolicy):
        return compiled
    return CompiledPolicy(policy.document)
