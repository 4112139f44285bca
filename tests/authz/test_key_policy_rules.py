"""The key policy lockout safety check, and KMS's rules for key policy documents.

CreateKey and PutKeyPolicy API reference, "Policy": "If you don't set BypassPolicyLockoutSafetyCheck to
true, the key policy must allow the principal that is making the ... request to make a subsequent
PutKeyPolicy request on the KMS key"; "The principals in the key policy must exist and be visible to
AWS KMS"; every statement needs a Resource element ("Key policy format").
"""

from __future__ import annotations

import json

import pytest

from .conftest import (
    A,
    B,
    World,
    access_denied,
    allow,
    aws_error,
    denial,
    key_statement,
    no_resource_policy,
    policy,
    root_arn,
)

LOCKOUT = "The new key policy will not allow you to update the key policy in the future."
INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."


def test_create_key_refuses_a_policy_that_locks_the_caller_out(world: World) -> None:
    alice = world.user("alice")
    locked = json.dumps(policy(key_statement(alice.principal.arn, "kms:Encrypt")))
    with aws_error("MalformedPolicyDocumentException", LOCKOUT):
        world.kms()("CreateKey", Policy=locked)
    assert world.kms()("ListKeys")["Keys"] == []
    created = world.kms()("CreateKey", Policy=locked, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    with access_denied(denial(root_arn(), "kms:PutKeyPolicy", created["Arn"], no_resource_policy("kms:PutKeyPolicy"))):
        world.kms()("PutKeyPolicy", KeyId=created["KeyId"], Policy=locked)


def test_put_key_policy_refuses_a_policy_that_locks_the_caller_out(world: World) -> None:
    key = world.key()
    alice = world.user("alice")
    locked = json.dumps(policy(key_statement(alice.principal.arn, "kms:Encrypt")))
    with aws_error("MalformedPolicyDocumentException", LOCKOUT):
        world.kms()("PutKeyPolicy", KeyId=key["KeyId"], Policy=locked)
    world.kms()("PutKeyPolicy", KeyId=key["KeyId"], Policy=locked, BypassPolicyLockoutSafetyCheck=True)
    assert world.kms(alice)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]


def test_the_lockout_check_counts_the_callers_iam_policies(world: World) -> None:
    # A user whose IAM policy allows kms:PutKeyPolicy may install a policy that only delegates to IAM.
    delegating = json.dumps(policy(key_statement(root_arn())))
    admin = world.user("admin", allow(["kms:CreateKey", "kms:PutKeyPolicy"]))
    world.kms(admin)("CreateKey", Policy=delegating)
    creator = world.user("creator", allow("kms:CreateKey"))
    with aws_error("MalformedPolicyDocumentException", LOCKOUT):
        world.kms(creator)("CreateKey", Policy=delegating)
    naming_me = json.dumps(policy(key_statement(root_arn()), key_statement(creator.principal.arn)))
    world.kms(creator)("CreateKey", Policy=naming_me)


@pytest.mark.parametrize(
    "principal",
    [
        f"arn:aws:iam::{A}:user/nobody",
        f"arn:aws:iam::{A}:role/nothing",
        f"arn:aws:sts::{A}:assumed-role/nothing/session",
        "999988887777",
        "arn:aws:iam::999988887777:root",
        f"arn:aws:iam::{A}:user/*",
        "not-a-principal",
    ],
)
def test_principals_must_exist(world: World, principal: str) -> None:
    document = json.dumps(policy(key_statement(root_arn()), key_statement(principal, "kms:Encrypt")))
    with aws_error("MalformedPolicyDocumentException", INVALID_PRINCIPALS):
        world.kms()("CreateKey", Policy=document)
    key = world.key()
    with aws_error("MalformedPolicyDocumentException", INVALID_PRINCIPALS):
        world.kms()("PutKeyPolicy", KeyId=key["KeyId"], Policy=document)


def test_existing_principals_of_any_account_are_valid(world: World) -> None:
    user = world.user("carol", account=B)
    session = world.role_session("app", account=B)
    principals = [B, root_arn(B), user.principal.arn, session.principal.arn, str(session.principal.role_arn), "*"]
    document = policy(key_statement(root_arn()), key_statement(principals, "kms:Encrypt"))
    document["Statement"].append(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "kms:Decrypt", "Resource": "*"}
    )
    world.kms()("CreateKey", Policy=json.dumps(document))


def test_a_user_arn_must_carry_the_users_path(world: World) -> None:
    world.iam("CreateUser", UserName="pathy", Path="/team/")
    wrong = json.dumps(policy(key_statement(root_arn()), key_statement(f"arn:aws:iam::{A}:user/pathy")))
    with aws_error("MalformedPolicyDocumentException", INVALID_PRINCIPALS):
        world.kms()("CreateKey", Policy=wrong)
    right = json.dumps(policy(key_statement(root_arn()), key_statement(f"arn:aws:iam::{A}:user/team/pathy")))
    world.kms()("CreateKey", Policy=right)


def test_every_statement_needs_a_resource(world: World) -> None:
    statement = key_statement(root_arn())
    del statement["Resource"]
    with aws_error("MalformedPolicyDocumentException", "Policy statement must contain resources."):
        world.kms()("CreateKey", Policy=json.dumps(policy(statement)))
