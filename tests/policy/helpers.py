"""Builders shared by the policy engine's tests: documents, principals and requests in a line each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kmsd.policy import Decision, Policy, PolicyKind, PrincipalInfo, RequestContext, evaluate, parse_policy

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = PrincipalInfo(f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "user")
ROOT = PrincipalInfo(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "root")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app/AppRole"
SESSION = PrincipalInfo(
    f"arn:aws:sts::{ACCOUNT}:assumed-role/AppRole/worker", ACCOUNT, "assumed-role", role_arn=ROLE_ARN
)
CAROL = PrincipalInfo(f"arn:aws:iam::{OTHER_ACCOUNT}:user/carol", OTHER_ACCOUNT, "user")


def document(*statements: Mapping[str, Any], version: str = "2012-10-17") -> dict[str, Any]:
    return {"Version": version, "Statement": list(statements)}


def allow(sid: str = "S", action: Any = "kms:Encrypt", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(sid: str = "D", action: Any = "kms:Encrypt", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Deny", "Action": action, "Resource": resource, **extra}


def identity(*statements: Mapping[str, Any], policy_id: str = "user") -> Policy:
    return parse_policy(document(*statements), PolicyKind.IDENTITY, policy_id)


def resource_policy(*statements: Mapping[str, Any], policy_id: str = "key") -> Policy:
    return parse_policy(document(*statements), PolicyKind.RESOURCE, policy_id)


def request(
    principal: PrincipalInfo = ALICE,
    *,
    action: str = "kms:Encrypt",
    resource: str = KEY_ARN,
    keys: Mapping[str, str | Sequence[str]] | None = None,
) -> RequestContext:
    return RequestContext(action, resource, principal, dict(keys or {}))


def decide(policies: Sequence[Policy], context: RequestContext | None = None) -> Decision:
    return evaluate(context or request(), policies)


def condition_holds(operator: str, key: str, values: Any, keys: Mapping[str, str | Sequence[str]]) -> bool:
    """Whether one condition lets an otherwise matching identity-policy statement apply."""
    policy = identity(allow("Cond", Condition={operator: {key: values}}))
    return decide([policy], request(keys=keys)).allowed
