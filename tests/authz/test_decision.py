"""The decision for one KMS call, case by case (DESIGN.md "The decision for one KMS call").

AWS KMS Developer Guide, "Key policies": "The key policy is the primary mechanism for controlling
access"; "Using IAM policies with AWS KMS": "IAM policies by themselves are not sufficient to allow
access to a KMS key"; "Default key policy": the root statement "allows ... IAM policies ... to allow
access"; IAM User Guide "Policy evaluation logic" for explicit denies, boundaries and session policies.
"""

from __future__ import annotations

import json

from .conftest import (
    A,
    World,
    access_denied,
    allow,
    default_policy,
    denial,
    deny,
    key_statement,
    no_identity_policy,
    no_resource_policy,
    policy,
    root_arn,
)


def test_root_with_the_default_key_policy_may_do_everything(world: World) -> None:
    kms = world.kms()
    key = kms.create_key()
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    assert kms("Decrypt", CiphertextBlob=blob)["Plaintext"] == b"x"
    kms("DisableKey", KeyId=key["KeyId"])
    kms("PutKeyPolicy", KeyId=key["KeyId"], Policy=kms("GetKeyPolicy", KeyId=key["KeyId"])["Policy"])


def test_root_is_locked_out_by_a_key_policy_that_names_neither_it_nor_its_account(world: World) -> None:
    # "Default key policy": without the root statement, the account's root user gets nothing from IAM.
    alice = world.user("alice")
    key = world.key(policy(key_statement(alice.principal.arn)))
    with access_denied(denial(root_arn(), "kms:DescribeKey", key["Arn"], no_resource_policy("kms:DescribeKey"))):
        world.kms()("DescribeKey", KeyId=key["KeyId"])


def test_a_key_policy_naming_the_root_user_lets_it_in(world: World) -> None:
    key = world.key(policy(key_statement(root_arn(), "kms:DescribeKey")))
    assert world.kms()("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]["KeyId"] == key["KeyId"]


def test_delegation_needs_an_identity_policy(world: World) -> None:
    # The root statement delegates to the account: a user needs an IAM policy too.
    key = world.key()
    bare = world.user("bare")
    with access_denied(denial(bare.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))):
        world.kms(bare)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    encrypter = world.user("encrypter", allow("kms:Encrypt", key["Arn"]))
    assert world.kms(encrypter)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]
    with access_denied(denial(encrypter.principal.arn, "kms:Decrypt", key["Arn"], no_identity_policy("kms:Decrypt"))):
        world.kms(encrypter)("Decrypt", KeyId=key["KeyId"], CiphertextBlob=b"\x01" * 60)


def test_an_identity_policy_alone_never_reaches_a_key_whose_policy_does_not_delegate(world: World) -> None:
    admin = world.user("admin", allow("kms:*"))
    other = world.user("other")
    key = world.key(
        policy(
            key_statement(root_arn(), "kms:*", Condition={"Bool": {"aws:SecureTransport": "true"}}),
            key_statement(other.principal.arn, "kms:Encrypt"),
        )
    )
    reason = no_resource_policy("kms:Encrypt")
    with access_denied(denial(admin.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(admin)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_a_key_policy_naming_the_user_needs_no_identity_policy(world: World) -> None:
    alice = world.user("alice")
    key = world.key(policy(key_statement(root_arn()), key_statement(alice.principal.arn, ["kms:Encrypt"])))
    assert world.kms(alice)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]


def test_an_explicit_deny_in_an_identity_policy_beats_the_key_policy(world: World) -> None:
    # Reference example "Prevent a user from disabling or deleting any KMS keys".
    carol = world.user("carol", allow("kms:*"), deny(["kms:DisableKey", "kms:ScheduleKeyDeletion"]))
    key = world.key(policy(key_statement(root_arn()), key_statement(carol.principal.arn)))
    reason = "with an explicit deny in an identity-based policy"
    with access_denied(denial(carol.principal.arn, "kms:DisableKey", key["Arn"], reason)):
        world.kms(carol)("DisableKey", KeyId=key["KeyId"])
    with access_denied(denial(carol.principal.arn, "kms:ScheduleKeyDeletion", key["Arn"], reason)):
        world.kms(carol)("ScheduleKeyDeletion", KeyId=key["KeyId"])
    world.kms(carol)("EnableKey", KeyId=key["KeyId"])


def test_an_explicit_deny_in_the_key_policy_beats_everything(world: World) -> None:
    dave = world.user("dave", allow("kms:*"))
    denying = key_statement(dave.principal.arn, "kms:Encrypt", effect="Deny")
    key = world.key(policy(key_statement(root_arn()), key_statement(dave.principal.arn), denying))
    reason = "with an explicit deny in a resource-based policy"
    with access_denied(denial(dave.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(dave)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    # A Deny for everyone applies to the account's root user as well.
    everyone = world.key(policy(key_statement(root_arn()), key_statement("*", "kms:Encrypt", effect="Deny")))
    with access_denied(denial(root_arn(), "kms:Encrypt", everyone["Arn"], reason)):
        world.kms()("Encrypt", KeyId=everyone["KeyId"], Plaintext=b"x")


def test_a_permissions_boundary_limits_the_identity_path_only(world: World) -> None:
    key = world.key()
    bounded = world.user("bounded", allow("kms:*"), boundary=policy(allow("kms:DescribeKey")))
    reason = "because no permissions boundary allows the kms:Encrypt action"
    with access_denied(denial(bounded.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(bounded)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    world.kms(bounded)("DescribeKey", KeyId=key["KeyId"])
    # A key policy that names the user is not limited by the user's boundary.
    named = world.key(policy(key_statement(root_arn()), key_statement(bounded.principal.arn, "kms:Encrypt")))
    world.kms(bounded)("Encrypt", KeyId=named["KeyId"], Plaintext=b"x")


def test_a_session_policy_limits_a_role_session(world: World) -> None:
    key = world.key()
    session = world.role_session("app", allow("kms:*"), session_policy=policy(allow("kms:DescribeKey")))
    reason = "because no session policy allows the kms:Encrypt action"
    with access_denied(denial(session.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(session)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    world.kms(session)("DescribeKey", KeyId=key["KeyId"])


def test_a_key_policy_naming_the_role_is_limited_by_the_session_policy_and_naming_the_session_is_not(
    world: World,
) -> None:
    session = world.role_session("app", session_policy=policy(allow("kms:DescribeKey")))
    assert session.principal.role_arn is not None
    by_role = world.key(policy(key_statement(root_arn()), key_statement(session.principal.role_arn, "kms:Encrypt")))
    reason = "because no session policy allows the kms:Encrypt action"
    with access_denied(denial(session.principal.arn, "kms:Encrypt", by_role["Arn"], reason)):
        world.kms(session)("Encrypt", KeyId=by_role["KeyId"], Plaintext=b"x")
    by_session = world.key(policy(key_statement(root_arn()), key_statement(session.principal.arn, "kms:Encrypt")))
    world.kms(session)("Encrypt", KeyId=by_session["KeyId"], Plaintext=b"x")


def test_a_role_session_with_the_roles_identity_policy_through_the_default_key_policy(world: World) -> None:
    key = world.key()
    session = world.role_session("reader", allow("kms:DescribeKey", f"arn:aws:kms:*:{A}:key/*"))
    world.kms(session)("DescribeKey", KeyId=key["KeyId"])
    reason = no_identity_policy("kms:Encrypt")
    with access_denied(denial(session.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(session)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_operations_on_no_key_are_decided_by_identity_policies_alone(world: World) -> None:
    erin = world.user("erin")
    with access_denied(denial(erin.principal.arn, "kms:CreateKey", "*", no_identity_policy("kms:CreateKey"))):
        world.kms(erin)("CreateKey")
    with access_denied(denial(erin.principal.arn, "kms:ListKeys", "*", no_identity_policy("kms:ListKeys"))):
        world.kms(erin)("ListKeys")
    with access_denied(denial(erin.principal.arn, "kms:GenerateRandom", "*", no_identity_policy("kms:GenerateRandom"))):
        world.kms(erin)("GenerateRandom", NumberOfBytes=8)
    lister = world.user("lister", allow(["kms:ListKeys", "kms:ListAliases", "kms:GenerateRandom"]))
    world.kms(lister)("ListKeys")
    world.kms(lister)("ListAliases")
    assert len(world.kms(lister)("GenerateRandom", NumberOfBytes=8)["Plaintext"]) == 8
    # The root user may do anything in its own account that needs no key.
    world.kms()("ListKeys")
    world.kms()("GenerateRandom", NumberOfBytes=4)


def test_a_user_who_creates_a_key_with_the_default_policy_uses_it_through_iam(world: World) -> None:
    # Reference: the power-user policy lets a user create keys and administer only the keys whose
    # key policy lets them (the default policy delegates to IAM, which allows Describe*/Get*/List*).
    power = world.user("power", allow(["kms:CreateKey", "kms:Describe*", "kms:Get*", "kms:List*"]))
    key = world.kms(power).create_key()
    world.kms(power)("DescribeKey", KeyId=key["KeyId"])
    world.kms(power)("GetKeyPolicy", KeyId=key["KeyId"])
    reason = no_identity_policy("kms:DisableKey")
    with access_denied(denial(power.principal.arn, "kms:DisableKey", key["Arn"], reason)):
        world.kms(power)("DisableKey", KeyId=key["KeyId"])


def test_everyone_with_a_caller_account_condition_reaches_the_accounts_principals(world: World) -> None:
    # "kms:CallerAccount": Principal "*" with the condition allows every identity of the account.
    frank = world.user("frank")
    key = world.key(
        policy(
            key_statement(root_arn()),
            key_statement("*", "kms:Encrypt", Condition={"StringEquals": {"kms:CallerAccount": A}}),
        )
    )
    world.kms(frank)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_a_policy_change_is_effective_for_the_next_request(world: World) -> None:
    key = world.key()
    gina = world.user("gina")
    reason = no_identity_policy("kms:DescribeKey")
    with access_denied(denial(gina.principal.arn, "kms:DescribeKey", key["Arn"], reason)):
        world.kms(gina)("DescribeKey", KeyId=key["KeyId"])
    world.user("gina", allow("kms:DescribeKey"))
    world.kms(gina)("DescribeKey", KeyId=key["KeyId"])
    admin_only = policy(key_statement(root_arn(), "kms:PutKeyPolicy"))
    world.kms()("PutKeyPolicy", KeyId=key["KeyId"], Policy=json.dumps(admin_only))
    reason = no_resource_policy("kms:DescribeKey")
    with access_denied(denial(gina.principal.arn, "kms:DescribeKey", key["Arn"], reason)):
        world.kms(gina)("DescribeKey", KeyId=key["KeyId"])
    world.kms()("PutKeyPolicy", KeyId=key["KeyId"], Policy=json.dumps(default_policy()))
    world.kms(gina)("DescribeKey", KeyId=key["KeyId"])
