"""The typed, frozen form of a policy document, and its serialization back to JSON.

A :class:`Policy` is what :func:`kmsd.policy.parse_policy` returns: the
document's statements as values (single values and lists both become tuples,
so ``"kms:Encrypt"`` and ``["kms:Encrypt"]`` parse to equal statements), the
kind of policy it is, the id the caller gave it, and the compiled matchers the
evaluator runs.  ``to_json()`` writes a document that parses back to an equal
policy.  :class:`AllowVia` (how a resource-policy statement names the caller)
is part of the language's meaning of ``Principal``, so it lives here, below
both the matchers that produce it and the decision that reports it.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

JsonValue = str | list[str]


class PolicyKind(enum.Enum):
    """Where a policy is attached, which decides how it takes part in an evaluation."""

    IDENTITY = "identity"
    RESOURCE = "resource"
    PERMISSIONS_BOUNDARY = "permissions_boundary"
    SESSION = "session"


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


class Effect(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


@dataclass(frozen=True)
class Principals:
    """A ``Principal`` or ``NotPrincipal`` element.

    ``everyone`` is the bare ``"*"`` form; otherwise ``entries`` pairs each
    principal type (``AWS``, ``Service``, ``Federated``, ``CanonicalUser``)
    with its values, in document order.
    """

    everyone: bool = False
    entries: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_json(self) -> str | dict[str, JsonValue]:
        if self.everyone:
            return "*"
        return {kind: _one_or_list(values) for kind, values in self.entries}


@dataclass(frozen=True)
class Condition:
    """One operator/key pair of a ``Condition`` block with its values, all as strings.

    ``operator`` is spelled canonically (``ForAnyValue:StringLikeIfExists``);
    ``key`` keeps the document's spelling.  JSON booleans and numbers become
    their JSON text (``true``, ``10``), which is how IAM compares them.
    """

    operator: str
    key: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Statement:
    """One statement; exactly one of each element pair is set (``principal`` may be neither)."""

    index: int
    sid: str | None
    effect: Effect
    principal: Principals | None = None
    not_principal: Principals | None = None
    action: tuple[str, ...] | None = None
    not_action: tuple[str, ...] | None = None
    resource: tuple[str, ...] | None = None
    not_resource: tuple[str, ...] | None = None
    conditions: tuple[Condition, ...] = ()

    @property
    def label(self) -> str:
        """The statement's name in decisions: its Sid, or ``#index`` when it has none."""
        return self.sid if self.sid is not None else f"#{self.index}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.sid is not None:
            out["Sid"] = self.sid
        out["Effect"] = self.effect.value
        if self.principal is not None:
            out["Principal"] = self.principal.to_json()
        if self.not_principal is not None:
            out["NotPrincipal"] = self.not_principal.to_json()
        for name, values in (
            ("Action", self.action),
            ("NotAction", self.not_action),
            ("Resource", self.resource),
            ("NotResource", self.not_resource),
        ):
            if values is not None:
                out[name] = _one_or_list(values)
        if self.conditions:
            block: dict[str, dict[str, JsonValue]] = {}
            for condition in self.conditions:
                block.setdefault(condition.operator, {})[condition.key] = _one_or_list(condition.values)
            out["Condition"] = block
        return out


@dataclass(frozen=True)
class PolicyDocument:
    """The parsed document itself, independent of where it is attached."""

    version: str
    statements: tuple[Statement, ...]
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Version": self.version}
        if self.id is not None:
            out["Id"] = self.id
        out["Statement"] = [statement.to_json() for statement in self.statements]
        return out


@dataclass(frozen=True)
class Policy:
    """A validated policy of one kind, ready to evaluate.

    ``policy_id`` names the policy in decisions (``"<policy_id>:<Sid>"``); it
    defaults to the document's ``Id``, else to the kind's value.  ``compiled``
    holds the matchers built once per distinct document and is not part of
    equality.
    """

    kind: PolicyKind
    policy_id: str
    document: PolicyDocument
    compiled: Any = field(default=None, compare=False, repr=False, hash=False)

    @property
    def version(self) -> str:
        return self.document.version

    @property
    def statements(self) -> tuple[Statement, ...]:
        return self.document.statements

    def statement_id(self, statement: Statement) -> str:
        return f"{self.policy_id}:{statement.label}"

    def to_json(self) -> dict[str, Any]:
        return self.document.to_json()

    def serialize(self) -> str:
        """The document as compact JSON text that parses back to an equal policy."""
        return json.dumps(self.to_json(), separators=(",", ":"), ensure_ascii=False)


def _one_or_list(values: tuple[str, ...]) -> JsonValue:
    return values[0] if len(values) == 1 else list(values)
