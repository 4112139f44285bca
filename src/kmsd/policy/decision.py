"""What an evaluation returns: the outcome, the statements that decided it, and per-kind detail.

A :class:`Decision` carries enough to write AWS's AccessDenied messages
(``denial_kind`` and :meth:`Decision.denial_reason`) and enough for the KMS
authorizer to apply its own rule that the key policy is the gate (``kinds``:
for each policy kind whether some statement allowed, explicitly denied, or
nothing matched, and for resource policies whether the allow named the
principal itself or only its account; ``resource_via`` for the latter alone).
Everything beyond the outcome is worked out on first access only, so an
evaluation pays for the detail its caller reads and no more.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple, Protocol

from kmsd.policy.context import RequestContext
from kmsd.policy.model import AllowVia, Policy, PolicyKind


class Outcome(enum.Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


class KindMatch(enum.Enum):
    """The combined verdict of all policies of one kind."""

    ALLOWED = "allowed"
    DENIED = "denied"
    NO_MATCH = "no_match"


@dataclass(frozen=True)
class KindVerdict:
    """How the policies of one kind answered the request."""

    kind: PolicyKind
    present: bool  # at least one policy of this kind took part
    allow_statements: tuple[str, ...] = ()
    deny_statements: tuple[str, ...] = ()
    allow_via: AllowVia | None = None  # resource policies only

    @property
    def allowed(self) -> bool:
        return bool(self.allow_statements)

    @property
    def denied(self) -> bool:
        return bool(self.deny_statements)

    @property
    def match(self) -> KindMatch:
        if self.deny_statements:
            return KindMatch.DENIED
        if self.allow_statements:
            return KindMatch.ALLOWED
        return KindMatch.NO_MATCH

    def to_json(self) -> dict[str, Any]:
        return {
            "present": self.present,
            "match": self.match.value,
            "allow_statements": list(self.allow_statements),
            "deny_statements": list(self.deny_statements),
            "allow_via": self.allow_via.value if self.allow_via is not None else None,
        }


@dataclass(frozen=True)
class ConditionTrace:
    """One condition of a statement: operator, key, and whether it held."""

    operator: str
    key: str
    held: bool

    def to_json(self) -> dict[str, Any]:
        return {"operator": self.operator, "key": self.key, "held": self.held}


class Mismatch(enum.Enum):
    """The first element that kept a statement from applying."""

    ACTION = "action"
    RESOURCE = "resource"
    PRINCIPAL = "principal"
    CONDITION = "condition"


@dataclass(frozen=True)
class StatementTrace:
    """Whether one statement applied to the request, and if not, why."""

    statement_id: str
    kind: PolicyKind
    effect: str
    matched: bool
    mismatch: Mismatch | None = None
    detail: str = ""
    conditions: tuple[ConditionTrace, ...] = ()
    via: AllowVia | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "statement": self.statement_id,
            "kind": self.kind.value,
            "effect": self.effect,
            "matched": self.matched,
            "mismatch": self.mismatch.value if self.mismatch is not None else None,
            "detail": self.detail,
            "conditions": [condition.to_json() for condition in self.conditions],
            "via": self.via.value if self.via is not None else None,
        }


class StatementMatch(NamedTuple):
    """One statement that applied to the request: its kind, its id, its effect, how it named the caller."""

    kind: PolicyKind
    statement_id: str
    deny: bool
    via: AllowVia


# AWS's AccessDenied wording per kind ("Troubleshoot access denied error messages", IAM User Guide).
_KIND_PHRASE = {
    PolicyKind.IDENTITY: "identity-based policy",
    PolicyKind.RESOURCE: "resource-based policy",
    PolicyKind.PERMISSIONS_BOUNDARY: "permissions boundary",
    PolicyKind.SESSION: "session policy",
}
_VIA_RANK = {AllowVia.PRINCIPAL: 3, AllowVia.ROLE: 2, AllowVia.ACCOUNT: 1}


class Evaluation(Protocol):
    """What a decision asks of the compiled policy set that made it, when someone wants more than the outcome."""

    @property
    def policies(self) -> Sequence[Policy]: ...

    def matches(self, context: RequestContext) -> tuple[StatementMatch, ...]: ...

    def resource_via(self, context: RequestContext) -> AllowVia | None: ...

    def trace(self, context: RequestContext) -> tuple[StatementTrace, ...]: ...


class Decision:
    """The answer for one request.

    ``statements`` are the deciding statements, sorted: every matching allow
    for ``Allow``, every matching deny for ``ExplicitDeny``, none for
    ``ImplicitDeny``.  ``denial_kind`` is the kind that denied explicitly, or
    the kind whose missing allow caused the implicit deny.  ``matches`` lists
    every statement that applied.

    The evaluator stops as soon as the outcome is settled, so only
    ``outcome``, ``denial_kind`` and ``same_account`` are set when the
    decision is made; ``statements``, ``matches``, ``resource_via``,
    ``present``, ``kinds`` and ``trace`` are worked out from the request on
    first access (conditions have no side effects, so they answer as an
    evaluation of every statement would have).  A plain class rather than a
    dataclass: one is built per request, and a frozen dataclass's
    constructor costs several times more.
    """

    __slots__ = (
        "__dict__",
        "_context",
        "_evaluation",
        "_matches",
        "_resource_via",
        "_resource_via_known",
        "denial_kind",
        "outcome",
        "same_account",
    )

    def __init__(
        self,
        outcome: Outcome,
        denial_kind: PolicyKind | None,
        same_account: bool,
        context: RequestContext,
        evaluation: Evaluation,
        resource_via: AllowVia | None = None,
        resource_via_known: bool = False,
    ) -> None:
        self.outcome = outcome
        self.denial_kind = denial_kind
        self.same_account = same_account
        self._context = context
        self._evaluation = evaluation
        self._matches: tuple[StatementMatch, ...] | None = None
        # The evaluator passes resource_via when reaching its outcome already settled it.
        self._resource_via = resource_via
        self._resource_via_known = resource_via_known

    def __repr__(self) -> str:
        return f"Decision({self.outcome.value}, statements={self.statements!r}, denial_kind={self.denial_kind})"

    @property
    def context(self) -> RequestContext:
        """The request this decision answers."""
        return self._context

    @cached_property
    def statements(self) -> tuple[str, ...]:
        """The deciding statements, sorted."""
        if self.outcome is Outcome.ALLOW:
            return tuple(sorted(match.statement_id for match in self.matches))
        if self.outcome is Outcome.EXPLICIT_DENY:
            return tuple(sorted(match.statement_id for match in self.matches if match.deny))
        return ()

    @property
    def matches(self) -> tuple[StatementMatch, ...]:
        """Every statement that applied to the request, in evaluation order."""
        found = self._matches
        if found is None:
            found = self._matches = self._evaluation.matches(self._context)
        return found

    @property
    def resource_via(self) -> AllowVia | None:
        """How the most direct applying Allow of a resource-based policy names the caller, or ``None``.

        The same as ``kinds[PolicyKind.RESOURCE].allow_via``, but it stops at
        the first statement that settles it instead of listing every match:
        the KMS authorizer needs it on every call (the key policy is the gate).
        """
        if not self._resource_via_known:
            self._resource_via = self._evaluation.resource_via(self._context)
            self._resource_via_known = True
        return self._resource_via

    @cached_property
    def present(self) -> tuple[PolicyKind, ...]:
        """The kinds of policy that took part, in the order they first appear."""
        return tuple(dict.fromkeys(policy.kind for policy in self._evaluation.policies))

    @cached_property
    def kinds(self) -> Mapping[PolicyKind, KindVerdict]:
        """For every policy kind: present or not, and which of its statements allowed or denied."""
        verdicts: dict[PolicyKind, KindVerdict] = {}
        for kind in PolicyKind:
            mine = [match for match in self.matches if match.kind is kind]
            via: AllowVia | None = None
            if kind is PolicyKind.RESOURCE:
                for match in mine:
                    if not match.deny and (via is None or _VIA_RANK[match.via] > _VIA_RANK[via]):
                        via = match.via
            verdicts[kind] = KindVerdict(
                kind,
                kind in self.present,
                tuple(sorted(match.statement_id for match in mine if not match.deny)),
                tuple(sorted(match.statement_id for match in mine if match.deny)),
                via,
            )
        return verdicts

    @cached_property
    def trace(self) -> tuple[StatementTrace, ...]:
        """Every statement of every policy, in evaluation order, with whether and why it (did not) apply.

        The evaluation that made the decision works it out (with
        :func:`kmsd.policy.explain.trace_statements`): explaining builds on
        deciding, so this module never imports the explainer.
        """
        return self._evaluation.trace(self._context)

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW

    def denial_reason(self, action: str) -> str:
        """The end of AWS's AccessDenied message, as in ``because no session policy allows the X action``."""
        if self.denial_kind is None:
            return ""
        phrase = _KIND_PHRASE[self.denial_kind]
        if self.outcome is Outcome.EXPLICIT_DENY:
            article = "an" if phrase[0] in "aeiou" else "a"
            return f"with an explicit deny in {article} {phrase}"
        return f"because no {phrase} allows the {action} action"

    def to_json(self) -> dict[str, Any]:
        return {
            "decision": self.outcome.value,
            "statements": list(self.statements),
            "denial_kind": self.denial_kind.value if self.denial_kind is not None else None,
            "same_account": self.same_account,
            "kinds": {kind.value: verdict.to_json() for kind, verdict in self.kinds.items()},
            "trace": [entry.to_json() for entry in self.trace],
        }
