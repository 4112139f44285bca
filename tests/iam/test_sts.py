"""StsService against a real SqliteStore: GetCallerIdentity, AssumeRole (trust, identity, external id, durations,
session policies and tags, role chaining), GetSessionToken, and the credentials they issue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from kmsd.iam.credentials import SessionExpired
from kmsd.iam.principal import Caller
from kmsd.iam.sessions import EXPIRED_SESSION_RETENTION
from kmsd.store.sqlite import SqliteStore
from tests.iam.conftest import (
    ACCOUNT,
    OTHER_ACCOUNT,
    World,
    allow,
    aws_error,
    document,
    root_caller,
    trust,
)

ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"


def denied(caller: Caller, action: str, resource: str) -> str:
    return f"User: {caller.principal.arn} is not authorized to perform: {action} on resource: {resource}"


# --- GetCallerIdentity ---------------------------------------------------------------------------


def test_caller_identity_of_root(world: World) -> None:
    answer = world.sts.call("GetCallerIdentity", {}, root_caller())
    assert answer == {"UserId": ACCOUNT, "Account": ACCOUNT, "Arn": ROOT_ARN}


def test_caller_identity_of_a_user_keeps_its_path(world: World) -> None:
    alice = world.user("alice", Path="/engineering/")
    answer = world.sts.call("GetCallerIdentity", {}, alice)
    assert answer["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/engineering/alice"
    assert answer["UserId"].startswith("AIDA") and len(answer["UserId"]) == 21
    assert answer["Account"] == ACCOUNT


def test_caller_identity_of_a_role_session_names_role_and_session_without_path(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("deployer", trust(alice.principal.arn), Path="/ops/")
    role_id = world.iam("GetRole", RoleName="deployer")["Role"]["RoleId"]
    session = world.session(alice, role_arn, "build-42")
    answer = world.sts.call("GetCallerIdentity", {}, session)
    assert answer == {
        "UserId": f"{role_id}:build-42",
        "Account": ACCOUNT,
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/build-42",
    }


def test_caller_identity_needs_no_permission_even_under_an_explicit_deny(world: World) -> None:
    alice = world.user("alice", {"Effect": "Deny", "Action": "*", "Resource": "*"})
    assert world.sts.call("GetCallerIdentity", {}, alice)["Arn"] == alice.principal.arn


# --- AssumeRole: who may assume ----------------------------------------------------------------------


def test_assume_role_issues_session_credentials(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(alice.principal.arn))
    role_id = world.iam("GetRole", RoleName="reader")["Role"]["RoleId"]
    answer = world.assume(alice, role_arn, "s1")
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert len(credentials["SecretAccessKey"]) == 40
    assert credentials["SessionToken"]
    assert credentials["Expiration"] == world.clock.now() + timedelta(hours=1)
    assert answer["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role_id}:s1",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/s1",
    }
    assert "PackedPolicySize" not in answer
    session = world.signed_in(credentials)
    assert session.principal.kind == "assumed-role"
    assert session.principal.role_arn == role_arn


def test_same_account_trust_naming_the_user_needs_no_identity_policy(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(alice.principal.arn))
    assert world.assume(alice, role_arn)["AssumedRoleUser"]["Arn"].endswith("/reader/session")


def test_same_account_trust_naming_the_account_delegates_to_identity_policies(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(ROOT_ARN))
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn)
    world.iam(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="assume",
        PolicyDocument=document(allow("sts:AssumeRole", role_arn)),
    )
    assert world.assume(alice, role_arn)["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_an_identity_policy_alone_cannot_assume_a_role_whose_trust_policy_names_someone_else(world: World) -> None:
    alice = world.user("alice", allow("sts:AssumeRole"))
    world.user("bob")
    role_arn = world.role("reader", trust(f"arn:aws:iam::{ACCOUNT}:user/bob"))
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn)


def test_an_explicit_deny_in_an_identity_policy_overrides_the_trust_policy(world: World) -> None:
    alice = world.user("alice", {"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"})
    role_arn = world.role("reader", trust(alice.principal.arn))
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn)


def test_cross_account_needs_the_trust_policy_and_the_callers_identity_policy(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("auditor", trust(ACCOUNT), iam=world.other)
    assert role_arn == f"arn:aws:iam::{OTHER_ACCOUNT}:role/auditor"
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn)
    world.iam(
        "PutUserPolicy",
        UserName="alice",
        PolicyName="assume",
        PolicyDocument=document(allow("sts:AssumeRole", role_arn)),
    )
    answer = world.assume(alice, role_arn, "audit")
    assert answer["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/auditor/audit"
    session = world.signed_in(answer["Credentials"])
    assert session.principal.account_id == OTHER_ACCOUNT
    assert world.sts.call("GetCallerIdentity", {}, session)["Account"] == OTHER_ACCOUNT


def test_cross_account_trust_naming_the_user_still_needs_its_identity_policy(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("auditor", trust(alice.principal.arn), iam=world.other)
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn)


def test_cross_account_identity_policy_without_trust_is_refused(world: World) -> None:
    alice = world.user("alice", allow("sts:AssumeRole"))
    role_arn = world.role("auditor", trust(OTHER_ACCOUNT), iam=world.other)
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn)


def test_root_may_not_assume_roles(world: World) -> None:
    role_arn = world.role("reader", trust(ROOT_ARN))
    with aws_error("AccessDenied", "Roles may not be assumed by root accounts.", 403):
        world.assume(root_caller(), role_arn)


@pytest.mark.parametrize(
    "role_arn",
    [
        f"arn:aws:iam::{ACCOUNT}:role/missing",
        f"arn:aws:iam::{ACCOUNT}:role/other-path/reader",  # the role exists under /, not under /other-path/
        f"arn:aws:iam:{ACCOUNT}:role/reader",
    ],
)
def test_a_role_that_does_not_exist_is_refused_like_one_that_may_not_be_assumed(world: World, role_arn: str) -> None:
    alice = world.user("alice", allow("sts:AssumeRole"))
    world.role("reader", trust(alice.principal.arn))
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn)


def test_external_id_is_a_condition_of_the_trust_policy(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role(
        "vendor", trust(alice.principal.arn, Condition={"StringEquals": {"sts:ExternalId": "Unicorn-42"}})
    )
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn)
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn, ExternalId="Unicorn-41")
    assert world.assume(alice, role_arn, ExternalId="Unicorn-42")["Credentials"]


def test_trust_policy_sees_the_role_session_name(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role(
        "named", trust(alice.principal.arn, Condition={"StringEquals": {"sts:RoleSessionName": "${aws:username}"}})
    )
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn, "someone-else")
    assert world.assume(alice, role_arn, "alice")["AssumedRoleUser"]["Arn"].endswith("/named/alice")


def test_mfa_cannot_be_validated(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(alice.principal.arn))
    message = (
        "MultiFactorAuthentication failed, unable to validate MFA code.  "
        "Please verify your MFA serial number is valid and associated with this user."
    )
    with aws_error("AccessDenied", message, 403):
        world.assume(alice, role_arn, SerialNumber=f"arn:aws:iam::{ACCOUNT}:mfa/alice", TokenCode="123456")


# --- AssumeRole: durations ----------------------------------------------------------------------------


def test_duration_up_to_the_roles_max_session_duration(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("long", trust(alice.principal.arn), MaxSessionDuration=7200)
    answer = world.assume(alice, role_arn, DurationSeconds=7200)
    assert answer["Credentials"]["Expiration"] == world.clock.now() + timedelta(seconds=7200)
    short = world.assume(alice, role_arn, DurationSeconds=900)
    assert short["Credentials"]["Expiration"] == world.clock.now() + timedelta(seconds=900)


def test_duration_above_the_roles_max_session_duration_is_refused(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("short", trust(alice.principal.arn))
    message = "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
    with aws_error("ValidationError", message, 400):
        world.assume(alice, role_arn, DurationSeconds=3601)


def test_role_chaining_is_limited_to_one_hour(world: World) -> None:
    alice = world.user("alice")
    first_arn = world.role("first", trust(alice.principal.arn))
    first = world.session(alice, first_arn)
    second_arn = world.role("second", trust(first_arn), MaxSessionDuration=43200)
    message = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    with aws_error("ValidationError", message, 400):
        world.assume(first, second_arn, DurationSeconds=7200)
    chained = world.session(first, second_arn, "chained", DurationSeconds=3600)
    assert chained.principal.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/second/chained"


def test_a_trust_policy_naming_a_role_admits_its_sessions(world: World) -> None:
    alice = world.user("alice")
    first_arn = world.role("first", trust(alice.principal.arn))
    first = world.session(alice, first_arn)
    second_arn = world.role("second", trust(first_arn))
    assert world.assume(first, second_arn)["Credentials"]
    third_arn = world.role("third", trust(alice.principal.arn))
    with aws_error("AccessDenied", denied(first, "sts:AssumeRole", third_arn), 403):
        world.assume(first, third_arn)


# --- AssumeRole: session policies --------------------------------------------------------------------


def test_a_session_policy_narrows_what_the_role_allows(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("admin", trust(alice.principal.arn), allow(["iam:ListUsers", "iam:ListRoles"]))
    unrestricted = world.iam_as(world.session(alice, role_arn, "full"))
    unrestricted("ListUsers")
    unrestricted("ListRoles")

    answer = world.assume(alice, role_arn, "narrow", Policy=document(allow("iam:ListUsers")))
    assert 0 < answer["PackedPolicySize"] <= 100
    narrowed = world.iam_as(world.signed_in(answer["Credentials"]))
    assert narrowed("ListUsers")["Users"]
    resource = f"arn:aws:iam::{ACCOUNT}:role/"
    message = (
        denied(narrowed.caller, "iam:ListRoles", resource)
        + " because no session policy allows the iam:ListRoles action"
    )
    with aws_error("AccessDenied", message, 403):
        narrowed("ListRoles")


def test_a_session_policy_cannot_grant_more_than_the_role(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("lister", trust(alice.principal.arn), allow("iam:ListUsers"))
    session = world.iam_as(world.session(alice, role_arn, Policy=document(allow("iam:*"))))
    session("ListUsers")
    resource = f"arn:aws:iam::{ACCOUNT}:role/"
    message = (
        denied(session.caller, "iam:ListRoles", resource)
        + " because no identity-based policy allows the iam:ListRoles action"
    )
    with aws_error("AccessDenied", message, 403):
        session("ListRoles")


def test_managed_session_policies_narrow_too(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("admin", trust(alice.principal.arn), allow(["iam:ListUsers", "iam:ListRoles"]))
    policy_arn = world.iam("CreatePolicy", PolicyName="list-roles", PolicyDocument=document(allow("iam:ListRoles")))[
        "Policy"
    ]["Arn"]
    session = world.iam_as(world.session(alice, role_arn, PolicyArns=[{"arn": policy_arn}]))
    session("ListRoles")
    with aws_error("AccessDenied"):
        session("ListUsers")


def test_a_malformed_session_policy_is_refused(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(alice.principal.arn))
    with aws_error("MalformedPolicyDocument", "Syntax errors in policy.", 400):
        world.assume(alice, role_arn, Policy='{"Version": "2012-10-17", "Statement": ')


def test_a_session_policy_over_2048_characters_is_refused(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(alice.principal.arn))
    policy = document(*[allow(f"iam:Get{index:04d}", Sid=f"S{index}") for index in range(40)])
    assert len(policy) > 2048
    message = (
        f"1 validation error detected: Value '{policy}' at 'policy' failed to satisfy constraint: "
        "Member must have length less than or equal to 2048"
    )
    with aws_error("ValidationError", message, 400):
        world.assume(alice, role_arn, Policy=policy)


def test_more_than_ten_managed_session_policies_are_refused(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(alice.principal.arn))
    arns = [{"arn": f"arn:aws:iam::{ACCOUNT}:policy/p{index}"} for index in range(11)]
    with aws_error("ValidationError"):
        world.assume(alice, role_arn, PolicyArns=arns)


# --- AssumeRole: session tags ------------------------------------------------------------------------

TAGGING_ACTIONS = ["sts:AssumeRole", "sts:TagSession"]


def tag_gated_role(world: World, principal_arn: str, name: str = "team-role", **params: Any) -> str:
    """A role whose policy allows ListUsers only to sessions tagged team=blue."""
    condition = {"StringEquals": {"aws:PrincipalTag/team": "blue"}}
    return world.role(
        name, trust(principal_arn, TAGGING_ACTIONS), allow("iam:ListUsers", Condition=condition), **params
    )


def test_session_tags_are_principal_tags(world: World) -> None:
    alice = world.user("alice")
    role_arn = tag_gated_role(world, alice.principal.arn)
    blue = world.assume(alice, role_arn, "blue", Tags=[{"Key": "team", "Value": "blue"}])
    assert 0 < blue["PackedPolicySize"] <= 100
    blue_session = world.signed_in(blue["Credentials"])
    assert blue_session.principal.tags == {"team": "blue"}
    world.iam_as(blue_session)("ListUsers")
    red_session = world.session(alice, role_arn, "red", Tags=[{"Key": "team", "Value": "red"}])
    with aws_error("AccessDenied"):
        world.iam_as(red_session)("ListUsers")


def test_a_session_tag_overrides_a_role_tag_whatever_its_case(world: World) -> None:
    alice = world.user("alice")
    role_arn = tag_gated_role(
        world, alice.principal.arn, Tags=[{"Key": "Team", "Value": "blue"}, {"Key": "cost", "Value": "7"}]
    )
    untagged = world.session(alice, role_arn, "untagged")
    assert untagged.principal.tags == {"Team": "blue", "cost": "7"}
    world.iam_as(untagged)("ListUsers")
    overridden = world.session(alice, role_arn, "red", Tags=[{"Key": "TEAM", "Value": "red"}])
    assert overridden.principal.tags == {"cost": "7", "TEAM": "red"}
    with aws_error("AccessDenied"):
        world.iam_as(overridden)("ListUsers")


def test_passing_tags_needs_tag_session_in_the_trust_policy(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("untaggable", trust(alice.principal.arn))
    with aws_error("AccessDenied", denied(alice, "sts:TagSession", role_arn), 403):
        world.assume(alice, role_arn, Tags=[{"Key": "team", "Value": "blue"}])


def test_trust_policy_sees_request_tags(world: World) -> None:
    alice = world.user("alice")
    condition = {
        "StringEquals": {"aws:RequestTag/team": "blue"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["team"]},
    }
    role_arn = world.role("gated", trust(alice.principal.arn, TAGGING_ACTIONS, Condition=condition))
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn, Tags=[{"Key": "team", "Value": "red"}])
    with aws_error("AccessDenied", denied(alice, "sts:AssumeRole", role_arn), 403):
        world.assume(alice, role_arn, Tags=[{"Key": "team", "Value": "blue"}, {"Key": "extra", "Value": "x"}])
    assert world.assume(alice, role_arn, Tags=[{"Key": "team", "Value": "blue"}])["Credentials"]


def test_duplicate_tag_keys_are_refused_whatever_their_case(world: World) -> None:
    alice = world.user("alice")
    role_arn = tag_gated_role(world, alice.principal.arn)
    message = "Duplicate tag keys found. Please note that Tag keys are case insensitive."
    with aws_error("InvalidParameterValue", message, 400):
        world.assume(alice, role_arn, Tags=[{"Key": "team", "Value": "a"}, {"Key": "Team", "Value": "b"}])


def test_transitive_keys_must_be_among_the_tags(world: World) -> None:
    alice = world.user("alice")
    role_arn = tag_gated_role(world, alice.principal.arn)
    message = "The specified transitive tag key must be included in the requested tags."
    with aws_error("InvalidParameterValue", message, 400):
        world.assume(alice, role_arn, Tags=[{"Key": "team", "Value": "blue"}], TransitiveTagKeys=["project"])


def test_transitive_tags_follow_a_role_chain_and_cannot_be_replaced(world: World) -> None:
    alice = world.user("alice")
    first_arn = world.role("first", trust(alice.principal.arn, TAGGING_ACTIONS))
    first = world.session(
        alice,
        first_arn,
        Tags=[{"Key": "team", "Value": "blue"}, {"Key": "note", "Value": "local"}],
        TransitiveTagKeys=["team"],
    )
    second_arn = tag_gated_role(world, first_arn, "second")
    chained = world.session(first, second_arn, "chained", Tags=[{"Key": "stage", "Value": "2"}])
    assert chained.principal.tags == {"team": "blue", "stage": "2"}
    world.iam_as(chained)("ListUsers")
    untagged = world.session(first, second_arn, "untagged")
    assert untagged.principal.tags == {"team": "blue"}
    message = (
        "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key "
        "from the calling session."
    )
    with aws_error("InvalidParameterValue", message, 400):
        world.assume(first, second_arn, Tags=[{"Key": "TEAM", "Value": "red"}])


def test_tags_too_large_for_the_packed_space_are_refused(world: World) -> None:
    alice = world.user("alice")
    role_arn = tag_gated_role(world, alice.principal.arn)
    tags = [{"Key": f"T{index}", "Value": "a" * 250} for index in range(9)]  # 9 x 252 bytes of 1,024
    with aws_error("PackedPolicyTooLarge", "Packed size of session tags consumes 222% of allotted space.", 400):
        world.assume(alice, role_arn, Tags=tags)


# --- GetSessionToken -----------------------------------------------------------------------------------


def test_session_token_of_a_user_acts_as_the_user(world: World) -> None:
    alice = world.user("alice", allow("sts:AssumeRole"))
    answer = world.sts.call("GetSessionToken", {}, alice)
    credentials = answer["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert credentials["Expiration"] == world.clock.now() + timedelta(hours=12)
    session = world.signed_in(credentials)
    assert world.sts.call("GetCallerIdentity", {}, session) == world.sts.call("GetCallerIdentity", {}, alice)
    assert session.principal.kind == "user" and session.principal.name == "alice"
    # The user's identity policy lets the session assume a role that delegates to the account.
    role_arn = world.role("reader", trust(ROOT_ARN))
    assert world.assume(session, role_arn)["Credentials"]


def test_session_token_duration(world: World) -> None:
    alice = world.user("alice")
    answer = world.sts.call("GetSessionToken", {"DurationSeconds": 129600}, alice)
    assert answer["Credentials"]["Expiration"] == world.clock.now() + timedelta(hours=36)


def test_session_token_of_root_lasts_at_most_an_hour(world: World) -> None:
    answer = world.sts.call("GetSessionToken", {"DurationSeconds": 7200}, root_caller())
    assert answer["Credentials"]["Expiration"] == world.clock.now() + timedelta(hours=1)
    session = world.signed_in(answer["Credentials"])
    assert session.principal.arn == ROOT_ARN
    assert world.sts.call("GetCallerIdentity", {}, session)["UserId"] == ACCOUNT


def test_session_credentials_cannot_get_a_session_token(world: World) -> None:
    alice = world.user("alice")
    session = world.signed_in(world.sts.call("GetSessionToken", {}, alice)["Credentials"])
    with aws_error("AccessDenied", "Cannot call GetSessionToken with session credentials", 403):
        world.sts.call("GetSessionToken", {}, session)
    role_session = world.session(alice, world.role("reader", trust(alice.principal.arn)))
    with aws_error("AccessDenied", "Cannot call GetSessionToken with session credentials", 403):
        world.sts.call("GetSessionToken", {}, role_session)


def test_session_token_credentials_cannot_call_iam(world: World) -> None:
    alice = world.user("alice", allow("iam:*"))
    world.iam_as(alice)("ListUsers")
    session = world.signed_in(world.sts.call("GetSessionToken", {}, alice)["Credentials"])
    with aws_error("InvalidClientTokenId", "The security token included in the request is invalid.", 403):
        world.iam_as(session)("ListUsers")


# --- the issued credentials -------------------------------------------------------------------------


def test_session_credentials_expire(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(alice.principal.arn))
    credentials = world.assume(alice, role_arn, DurationSeconds=900)["Credentials"]
    world.clock.advance(timedelta(seconds=899))
    assert world.resolver.resolve(credentials["AccessKeyId"], credentials["SessionToken"]) is not None
    world.clock.advance(timedelta(seconds=1))
    # The API layer words SessionExpired as ExpiredToken (tests/integration/test_iam_sts.py checks the wire).
    with pytest.raises(SessionExpired):
        world.resolver.resolve(credentials["AccessKeyId"], credentials["SessionToken"])


def test_the_sweep_forgets_sessions_a_day_after_they_expire(world: World, store: SqliteStore) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(alice.principal.arn))
    credentials = world.assume(alice, role_arn, DurationSeconds=900)["Credentials"]
    world.clock.advance(timedelta(seconds=900) + EXPIRED_SESSION_RETENTION)
    world.sts.sweep()
    # Still within the retention: kept, so that its token is reported as expired rather than invalid.
    assert store.get_session(credentials["AccessKeyId"]) is not None
    world.clock.advance(timedelta(microseconds=1))
    world.sts.sweep()
    assert store.get_session(credentials["AccessKeyId"]) is None


def test_session_credentials_need_their_own_token(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("reader", trust(alice.principal.arn))
    first = world.assume(alice, role_arn, "one")["Credentials"]
    second = world.assume(alice, role_arn, "two")["Credentials"]
    assert world.resolver.resolve(first["AccessKeyId"]) is None
    assert world.resolver.resolve(first["AccessKeyId"], second["SessionToken"]) is None
    assert world.resolver.resolve(first["AccessKeyId"], first["SessionToken"]) is not None


def test_a_role_session_carries_the_roles_current_policies(world: World) -> None:
    alice = world.user("alice")
    role_arn = world.role("grows", trust(alice.principal.arn))
    session = world.iam_as(world.session(alice, role_arn))
    with aws_error("AccessDenied"):
        session("ListUsers")
    world.iam("PutRolePolicy", RoleName="grows", PolicyName="list", PolicyDocument=document(allow("iam:ListUsers")))
    session("ListUsers")


def test_unknown_operation(world: World) -> None:
    with aws_error("InvalidAction", "Could not find operation GetFederationToken for version 2011-06-15", 400):
        world.sts.call("GetFederationToken", {}, root_caller())
    assert world.sts.operations == {"GetCallerIdentity", "AssumeRole", "GetSessionToken"}
