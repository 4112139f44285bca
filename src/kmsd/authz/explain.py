"""Offline answers to "can PRINCIPAL do ACTION on KEY with CONTEXT, and why" against a store (``kmsd authz explain``).

The question is asked of the same :class:`~kmsd.authz.authorizer.KmsAuthorizer`
that decides live calls, with what the store holds now: the key's policy,
the principal's identity policies (user, groups, role, boundary) and the
grants on the key.  The principal is named by ARN and must exist: the
account root (``arn:aws:iam::A:root`` or the account id), an IAM user, an
IAM role (asked as one of its sessions, without session policies) or an
assumed-role session ARN.  ``--context KEY=VALUE`` items replace or add
condition keys; ``kms:EncryptionContext:<key>`` items also form the
request's encryption context, which grant constraints are checked against.
The report names the permission checked, the answer with AWS's AccessDenied
wording, what allowed it (key policy, delegation to IAM, grant, root), every
statement of every policy with whether and why it applied, and the grants.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kmsd.authz.authorizer import KmsAuthorizer, KmsCall, NamedKey
from kmsd.authz.decide import CheckResult
from kmsd.authz.permissions import PERMISSIONS, OperationPermissions, Permission, Target
from kmsd.clock import Clock
from kmsd.iam.principal import Caller, Principal, hypothetical_session, user_principal
from kmsd.policy.explain import statement_lines
from kmsd.store.base import Store
from kmsd.store.models import KeyRecord

_ACCOUNT = re.compile(r"\d{12}")
_ROOT = re.compile(r"arn:aws:iam::(\d{12}):root")
_USER = re.compile(r"arn:aws:iam::(\d{12}):user/(?:.*/)?([^/]+)")
_ROLE = re.compile(r"arn:aws:iam::(\d{12}):role/(?:.*/)?([^/]+)")
_SESSION = re.compile(r"arn:aws:sts::(\d{12}):assumed-role/([^/]+)/([^/]+)")
_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key/[0-9a-fA-F-]{36}|alias/.+)")
_ENCRYPTION_CONTEXT = "kms:encryptioncontext:"
EXPLAIN_SESSION_NAME = "kmsd-explain"


class ExplainError(Exception):
    """The question cannot be asked: an unknown principal, key or action, a malformed context item."""


@dataclass(frozen=True)
class Explanation:
    principal: Principal
    action: str
    operation: str
    resource: str
    result: CheckResult

    @property
    def allowed(self) -> bool:
        return self.result.allowed

    def message(self) -> str:
        """AWS's AccessDenied message for a refusal, empty for an allow."""
        return "" if self.allowed else self.result.message(self.principal.arn)

    def to_json(self) -> dict[str, Any]:
        """The shape of a denial's ``kmsdExplanation`` (``kmsd serve --explain-denials``), plus the message."""
        return {
            "operation": self.operation,
            "principal": self.principal.arn,
            "decision": "Allow" if self.allowed else "Deny",
            "message": self.message(),
            "checks": [self.result.to_json()],
        }

    def render_text(self) -> str:
        result = self.result
        lines = [f"{self.action} on {self.resource} by {self.principal.arn}: {'ALLOWED' if self.allowed else 'DENIED'}"]
        if result.basis is not None:
            lines.append(f"allowed by: {result.basis.value}")
        else:
            lines.append(f"reason: {self.message()}")
        decision = result.decision
        if decision is not None:
            for kind, verdict in decision.kinds.items():
                if verdict.present:
                    via = f" (via {verdict.allow_via.value})" if verdict.allow_via is not None else ""
                    lines.append(f"{kind.value} policies: {verdict.match.value}{via}")
            lines.extend(statement_lines(decision))
        if result.grants_considered:
            lines.append("grants:")
            for grant in result.grants_considered:
                matched = "matched" if grant.grant_id in result.grants_matched else "no match"
                operations = ", ".join(grant.operations)
                lines.append(f"  {grant.grant_id} to {grant.grantee_principal} [{operations}]: {matched}")
        return "\n".join(lines)


def explain(
    store: Store,
    clock: Clock,
    principal_arn: str,
    action: str,
    key_arn: str | None,
    context_items: Sequence[str] = (),
) -> Explanation:
    """Decide ``action`` for the principal on the key (or on ``*`` for actions on no key), and say why."""
    principal = principal_from_arn(store, clock, principal_arn)
    key, alias_name = _key_from_arn(store, key_arn) if key_arn is not None else (None, None)
    row, permission = _permission_for(action, key is not None)
    overrides = parse_context(context_items)
    encryption_context = {
        name[len(_ENCRYPTION_CONTEXT) :]: value
        for name, value in overrides.items()
        if name.lower().startswith(_ENCRYPTION_CONTEXT) and isinstance(value, str)
    }
    params: dict[str, Any] = {"EncryptionContext": encryption_context} if encryption_context else {}
    region = key.region if key is not None else "us-east-1"
    caller = Caller(principal=principal, region=region, request_id="kmsd-authz-explain", source_ip="")
    keys = {target: NamedKey(key, alias_name) for target in _key_targets(row)} if key is not None else {}
    alias_arn = key_arn if alias_name is not None else None
    call = KmsCall(row.operation, caller, params, keys, alias_arn, overrides=overrides)
    result = KmsAuthorizer(store, clock).check(call, row, permission)
    return Explanation(principal, permission.action, row.operation, result.resource, result)


def principal_from_arn(store: Store, clock: Clock, text: str) -> Principal:
    """The existing principal ``text`` names, as it would call."""
    if _ACCOUNT.fullmatch(text) or _ROOT.fullmatch(text):
        account_id = text if _ACCOUNT.fullmatch(text) else text.split(":")[4]
        if store.get_account(account_id) is None:
            raise ExplainError(f"account `{account_id}` does not exist")
        return Principal.root(account_id)
    if (match := _USER.fullmatch(text)) is not None:
        user = store.get_user(match.group(1), match.group(2))
        if user is None or user.arn != text:
            raise ExplainError(f"user `{text}` does not exist")
        return user_principal(user)
    role_match = _ROLE.fullmatch(text) or _SESSION.fullmatch(text)
    if role_match is None:
        raise ExplainError(
            f"`{text}` is not an account id or a root, user, role or assumed-role ARN of this store's accounts"
        )
    role = store.get_role(role_match.group(1), role_match.group(2))
    if role is None or (text.startswith("arn:aws:iam::") and role.arn != text):
        raise ExplainError(f"role `{text}` does not exist")
    session_name = role_match.group(3) if text.startswith("arn:aws:sts::") else EXPLAIN_SESSION_NAME
    return hypothetical_session(role, session_name, "explain", clock.now())


def parse_context(items: Sequence[str]) -> dict[str, str | list[str]]:
    """``KEY=VALUE`` items as condition keys; a key given twice is multivalued."""
    keys: dict[str, str | list[str]] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise ExplainError(f"--context `{item}` is not KEY=VALUE")
        existing = keys.get(name)
        if existing is None:
            keys[name] = value
        else:
            keys[name] = [*existing, value] if isinstance(existing, list) else [existing, value]
    return keys


def _key_from_arn(store: Store, text: str) -> tuple[KeyRecord, str | None]:
    match = _KEY_ARN.fullmatch(text)
    if match is None:
        raise ExplainError(f"`{text}` is not a key ARN or alias ARN")
    region, account_id, resource = match.groups()
    alias_name = None
    key_id = resource[len("key/") :].lower()
    if resource.startswith("alias/"):
        alias = store.get_alias(account_id, region, resource)
        if alias is None:
            raise ExplainError(f"alias `{text}` does not exist")
        alias_name, key_id = resource, alias.target_key_id
    key = store.get_key(key_id, region)
    if key is None or key.account_id != account_id:
        raise ExplainError(f"key `{text}` does not exist")
    return key, alias_name


def _permission_for(action: str, on_key: bool) -> tuple[OperationPermissions, Permission]:
    """The operation and permission an action names: one on a key when a key is given, else one on none."""
    wanted = action.lower()
    for row in PERMISSIONS.values():
        for permission in row.permissions + tuple(extra for _, extra in row.when_present):
            if permission.action.lower() == wanted and permission.on_key == on_key:
                return row, permission
    where = "on a key" if on_key else "without a key (give --key for a permission on a key)"
    raise ExplainError(f"`{action}` is not a KMS permission {where}")


def _key_targets(row: OperationPermissions) -> Mapping[Target, None]:
    return {permission.target: None for permission in row.permissions if permission.on_key}
