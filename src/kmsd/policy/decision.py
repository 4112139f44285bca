"""What an evaluation returns: the outcome, the statements that decided it, and per-kind detail.

A :class:`Decision` carries enough to write AWS's AccessDenied messages
(``denial_kind`` and :meth:`Decision.denial_reason`) and enough for the KMS
authorizer to apply its own rule that the key policy is the gate (``kinds``:
for each policy kind whether some statement allowed, explicitly denied, or
nothing matched, and for resource policies whether the allow named the
principal itself or only its account).  The per-statement trace is computed
on first access only, so evaluations that nobody explains stay fast.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from kmsd.policy.model import PolicyKind


class Outcome(enum.Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


class AllowVia(enum.Enum):
    """How a resource-policy statement reached the caller.

    ``PRINCIPAL`` and ``ROLE`` both name the caller directly; they differ in
    what can still limit them (IAM User Guide, "Policy evaluation logic",
    same-account resource-based policies): an allow naming a user, a role
    session or everyone (``"*"``) is not limited by implicit denies elsewhere,
    one naming the role behind a session is limited by the session's
    permissions boundary and session policy, and one naming only the account
    delegates to that account's identity policies.
    """

    PRINCIPAL = "principal"  # the caller's own ARN (user, root, role session), "*", a service
    ROLE = "role"  # the role behind the caller's assumed-role session
    ACCOUNT = "account"  # only the caller's account (account id or :root ARN)

    @property
    def direct(self) -> bool:
        return self is not AllowVia.ACCOUNT


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


class Decision:
    """The answer for one request.

    ``statements`` are the deciding statements, sorted: every matching allow
    for ``Allow``, every matching deny for ``ExplicitDeny``, none for
    ``ImplicitDeny``.  ``denial_kind`` is the kind that denied explicitly, or
    the kind whose missing allow caused the implicit deny.  ``matches`` lists
    every statement that applied; ``kinds`` and ``trace`` are derived on
    first access.  A plain class rather than a dataclass: one is built per
    request, and a frozen dataclass's constructor costs several times more.
    """

    __slots__ = (
        "__dict__",
        "_matched",
        "denial_kind",
        "outcome",
        "present",
        "same_account",
        "statements",
        "trace_source",
    )

    def __init__(
        self,
        outcome: Outcome,
        statements: tuple[str, ...],
        denial_kind: PolicyKind | None,
        same_account: bool,
        matched: Sequence[tuple[PolicyKind, str, bool, AllowVia]],
        present: tuple[PolicyKind, ...],
        trace_source: Callable[[], tuple[StatementTrace, ...]],
    ) -> None:
        self.outcome = outcome
        self.statements = statements
        self.denial_kind = denial_kind
        self.same_account = same_account
        self._matched = matched
        self.present = present  # the kinds that took part
        self.trace_source = trace_source

    def __repr__(self) -> str:
        return f"Decision({self.outcome.value}, statements={self.statements!r}, denial_kind={self.denial_kind})"

    @cached_property
    def matches(self) -> tuple[StatementMatch, ...]:
        """Every statement that applied to the request, in evaluation order."""
        return tuple(StatementMatch(*entry) for entry in self._matched)

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
        """Every statement of every policy, in evaluation order, with whether and why it (did not) apply."""
        return self.trace_source()

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
