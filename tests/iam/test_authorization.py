"""authorize_call and request_context_keys against a real SqliteStore: root in its own account, users and role
sessions decided by their identity policies, each AccessDenied reason with AWS's exact message, and the global
condition keys every authorizer shares."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from typing import Any

import pytest

from kmsd.clock import ManualClock
from kmsd.iam.authorization import authorize_call, principal_info, request_context_keys
from kmsd.iam.identity_policies import invalidate_identity_policies
from kmsd.iam.principal import Caller, Principal, PrincipalKind, Session
from kmsd.policy import PrincipalInfo
from kmsd.store.models import InlinePolicy
from kmsd.store.sqlite import SqliteStore
from tests.iam.conftest import ACCOUNT, OTHER_ACCOUNT, REGION, Iam, aws_error, root_caller

USERS = f"arn:aws:iam::{ACCOUNT}:user/"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


def refusal(principal: Principal, action: str, resource: str, reason: str) -> str:
    return f"User: {principal.arn} is not authorized to perform: {action} on resource: {resource} {reason}"


def user(iam: Iam, name: str, *statements: dict[str, Any], **params: Any) -> Iam:
    iam.create_user(name, **params)
    if statements:
        iam("PutUserPolicy", UserName=name, PolicyName="inline", PolicyDocument=document(*statements))
    return iam.as_user(name)


# --- through the IAM service -------------------------------------------------------------------------


def test_root_may_do_anything_in_its_own_account(iam: Iam) -> None:
    iam("ListUsers")
    authorize_call(iam.service.context, root_caller(), "iam:DeleteUser", f"arn:aws:iam::{ACCOUNT}:user/anyone")
    authorize_call(iam.service.context, root_caller(), "iam:GetPolicy", "arn:aws:iam::aws:policy/ReadOnlyAccess")


def test_root_is_not_allowed_in_another_account(iam: Iam) -> None:
    # Another account's IAM entities have no resource-based policy that could admit it.
    resource = f"arn:aws:iam::{OTHER_ACCOUNT}:user/bob"
    reason = "because no resource-based policy allows the iam:GetUser action"
    message = refusal(root_caller().principal, "iam:GetUser", resource, reason)
    with aws_error("AccessDenied", message, 403):
        authorize_call(iam.service.context, root_caller(), "iam:GetUser", resource)


def test_a_user_without_policies_can_do_nothing_until_a_policy_is_attached(iam: Iam) -> None:
    alice = user(iam, "alice")
    message = refusal(
        alice.caller.principal,
        "iam:ListUsers",
        USERS,
        "because no identity-based policy allows the iam:ListUsers action",
    )
    with aws_error("AccessDenied", message, 403):
        alice("ListUsers")
    arn = iam("CreatePolicy", PolicyName="list-users", PolicyDocument=document(allow("iam:ListUsers")))["Policy"]["Arn"]
    iam("AttachUserPolicy", UserName="alice", PolicyArn=arn)
    assert [found["UserName"] for found in alice("ListUsers")["Users"]] == ["alice"]


def test_group_policies_are_inherited(iam: Iam) -> None:
    alice = user(iam, "alice")
    iam.create_group("readers")
    iam("PutGroupPolicy", GroupName="readers", PolicyName="list", PolicyDocument=document(allow("iam:ListRoles")))
    with aws_error("AccessDenied"):
        alice("ListRoles")
    iam("AddUserToGroup", GroupName="readers", UserName="alice")
    alice("ListRoles")
    iam("RemoveUserFromGroup", GroupName="readers", UserName="alice")
    with aws_error("AccessDenied"):
        alice("ListRoles")


def test_an_explicit_deny_wins(iam: Iam) -> None:
    alice = user(iam, "alice", allow("iam:*"), deny("iam:ListUsers"))
    message = refusal(
        alice.caller.principal, "iam:ListUsers", USERS, "with an explicit deny in an identity-based policy"
    )
    with aws_error("AccessDenied", message, 403):
        alice("ListUsers")
    alice("ListRoles")


def test_a_permissions_boundary_limits_what_identity_policies_allow(iam: Iam) -> None:
    alice = user(iam, "alice", allow("iam:*"))
    boundary = iam("CreatePolicy", PolicyName="boundary", PolicyDocument=document(allow("iam:ListRoles")))["Policy"]
    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=boundary["Arn"])
    alice("ListRoles")
    message = refusal(
        alice.caller.principal,
        "iam:ListUsers",
        USERS,
        "because no permissions boundary allows the iam:ListUsers action",
    )
    with aws_error("AccessDenied", message, 403):
        alice("ListUsers")


def test_a_session_policy_limits_a_role_session(iam: Iam) -> None:
    iam.create_role("admin")
    iam("PutRolePolicy", RoleName="admin", PolicyName="all", PolicyDocument=document(allow("iam:*")))
    session = iam.as_role_session("admin")
    principal = session.caller.principal
    assert principal.session is not None
    narrowed = dataclasses.replace(
        principal, session=dataclasses.replace(principal.session, policy=document(allow("iam:ListRoles")))
    )
    caller = dataclasses.replace(session.caller, principal=narrowed)
    authorize_call(iam.service.context, caller, "iam:ListRoles", f"arn:aws:iam::{ACCOUNT}:role/")
    message = refusal(narrowed, "iam:ListUsers", USERS, "because no session policy allows the iam:ListUsers action")
    with aws_error("AccessDenied", message, 403):
        authorize_call(iam.service.context, caller, "iam:ListUsers", USERS)


def test_resources_are_matched_with_policy_variables(iam: Iam) -> None:
    own = allow("iam:GetUser", "arn:aws:iam::*:user/${aws:username}")
    alice = user(iam, "alice", own)
    iam.create_user("bob")
    assert alice("GetUser", UserName="alice")["User"]["UserName"] == "alice"
    with aws_error("AccessDenied"):
        alice("GetUser", UserName="bob")


def test_principal_tags_are_condition_keys(iam: Iam) -> None:
    gated = allow("iam:ListUsers", Condition={"StringEquals": {"aws:PrincipalTag/team": "blue"}})
    blue = user(iam, "blue", gated, Tags=[{"Key": "team", "Value": "blue"}])
    red = user(iam, "red", gated, Tags=[{"Key": "team", "Value": "red"}])
    blue("ListUsers")
    with aws_error("AccessDenied"):
        red("ListUsers")


def test_extra_condition_keys_of_the_action(iam: Iam) -> None:
    tagged_only = allow("iam:CreateUser", Condition={"StringEquals": {"aws:RequestTag/team": "blue"}})
    alice = user(iam, "alice", tagged_only)
    context, caller = iam.service.context, alice.caller
    resource = f"arn:aws:iam::{ACCOUNT}:user/bob"
    authorize_call(context, caller, "iam:CreateUser", resource, extra_keys={"aws:RequestTag/team": "blue"})
    with aws_error("AccessDenied"):
        authorize_call(context, caller, "iam:CreateUser", resource, extra_keys={"aws:RequestTag/team": "red"})
    with aws_error("AccessDenied"):
        authorize_call(context, caller, "iam:CreateUser", resource)


def test_session_token_credentials_cannot_call_iam(iam: Iam, clock: ManualClock) -> None:
    alice = user(iam, "alice", allow("iam:*"))
    now = clock.now()
    session = Session("session-token", "ASIAAAAAAAAAAAAAAAAA", now, now + timedelta(hours=12))
    caller = dataclasses.replace(alice.caller, principal=dataclasses.replace(alice.caller.principal, session=session))
    with aws_error("InvalidClientTokenId", "The security token included in the request is invalid.", 403):
        authorize_call(iam.service.context, caller, "iam:ListUsers", USERS)
    root_session = dataclasses.replace(Principal.root(ACCOUNT), session=session)
    with aws_error("InvalidClientTokenId", "The security token included in the request is invalid.", 403):
        authorize_call(iam.service.context, dataclasses.replace(caller, principal=root_session), "iam:ListUsers", USERS)


def test_a_stored_policy_that_does_not_parse_fails_closed(iam: Iam, store: SqliteStore) -> None:
    alice = user(iam, "alice", allow("iam:*"))
    broken = InlinePolicy(ACCOUNT, "user", alice.caller.principal.user_id, "broken", '{"Statement": 7}')
    store.put_inline_policy(broken)
    invalidate_identity_policies(store)
    with aws_error("ServiceFailure", "Request processing has failed due to an internal error.", 500):
        alice("ListUsers")


# --- the request context -------------------------------------------------------------------------------


def caller_of(principal: Principal, **params: Any) -> Caller:
    return Caller(principal=principal, region=REGION, request_id="r", **params)


COMMON = {
    "aws:PrincipalIsAWSService": "false",
    "aws:ViaAWSService": "false",
    "aws:CurrentTime": "2026-01-01T00:00:00Z",
    "aws:EpochTime": "1767225600",
    "aws:SecureTransport": "false",
    "aws:RequestedRegion": REGION,
}


def test_context_keys_of_root(clock: ManualClock) -> None:
    keys = request_context_keys(caller_of(Principal.root(ACCOUNT), source_ip="", user_agent=""), clock)
    assert keys == {
        **COMMON,
        "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:root",
        "aws:PrincipalAccount": ACCOUNT,
        "aws:PrincipalType": "Account",
        "aws:userid": ACCOUNT,
    }


def test_context_keys_of_a_user(clock: ManualClock) -> None:
    alice = Principal(
        arn=f"arn:aws:iam::{ACCOUNT}:user/eng/alice",
        account_id=ACCOUNT,
        kind="user",
        user_id="AIDAEXAMPLEEXAMPLE12",
        name="alice",
        tags={"team": "blue", "Cost": "7"},
    )
    keys = request_context_keys(
        caller_of(alice, source_ip="203.0.113.9", secure_transport=True, user_agent="boto3/1.34"), clock
    )
    assert keys == {
        **COMMON,
        "aws:SecureTransport": "true",
        "aws:PrincipalArn": alice.arn,
        "aws:PrincipalAccount": ACCOUNT,
        "aws:PrincipalType": "User",
        "aws:userid": "AIDAEXAMPLEEXAMPLE12",
        "aws:username": "alice",
        "aws:PrincipalTag/team": "blue",
        "aws:PrincipalTag/Cost": "7",
        "aws:SourceIp": "203.0.113.9",
        "aws:UserAgent": "boto3/1.34",
    }


def test_context_keys_of_a_role_session(clock: ManualClock) -> None:
    issued = clock.now() - timedelta(minutes=5)
    session = Session("assumed-role", "ASIAAAAAAAAAAAAAAAAA", issued, issued + timedelta(hours=1), name="s")
    principal = Principal(
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/s",
        account_id=ACCOUNT,
        kind="assumed-role",
        user_id="AROAEXAMPLEEXAMPLE12:s",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/ops/admin",
        tags={"team": "red"},
        session=session,
    )
    keys = request_context_keys(caller_of(principal, source_ip=""), clock)
    assert keys == {
        **COMMON,
        "aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ops/admin",
        "aws:PrincipalAccount": ACCOUNT,
        "aws:PrincipalType": "AssumedRole",
        "aws:userid": "AROAEXAMPLEEXAMPLE12:s",
        "aws:PrincipalTag/team": "red",
        "aws:MultiFactorAuthPresent": "false",
        "aws:TokenIssueTime": "2025-12-31T23:55:00Z",
    }


@pytest.mark.parametrize("kind", ["root", "user", "assumed-role"])
def test_principal_info(kind: PrincipalKind) -> None:
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/r" if kind == "assumed-role" else None
    principal = Principal(arn="arn", account_id=ACCOUNT, kind=kind, user_id="id", role_arn=role_arn)
    assert principal_info(principal) == PrincipalInfo("arn", ACCOUNT, kind, role_arn)
