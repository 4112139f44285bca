"""The words of every refusal: each AccessDeniedException reason, the lockout check and invalid principals.

AWS answers a refused KMS call with ``AccessDeniedException`` (HTTP 400) and
a message naming the caller, the action, the resource (the key ARN, or ``*``
for operations on no key) and why ("Troubleshoot access denied error
messages", IAM User Guide; the KMS issue lists the forms).  ``CreateKey`` and
``PutKeyPolicy`` refuse a policy that would lock the caller out
(``BypassPolicyLockoutSafetyCheck`` in the KMS API Reference) and a policy
naming principals that do not exist, both with
``MalformedPolicyDocumentException``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.authz_world import (
    ACCOUNT_A,
    DENY_IN_IDENTITY_POLICY,
    DENY_IN_RESOURCE_POLICY,
    NO_BOUNDARY,
    NO_RESOURCE_POLICY,
    NO_SESSION_POLICY,
    World,
    allow,
    assume,
    denied,
    deny,
    enable_iam_policies,
    policy,
    refused,
    running_world,
)
from tests.integration.stores import Stores

LOCKOUT = (
    "MalformedPolicyDocumentException",
    "The new key policy will not allow you to update the key policy in the future.",
    400,
)
INVALID_PRINCIPALS = (
    "MalformedPolicyDocumentException",
    "Policy contains a statement with one or more invalid principals.",
    400,
)
KMS_ROOT = enable_iam_policies(ACCOUNT_A)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-denials")) as built:
        yield built


def test_no_resource_based_policy_allows(world: World) -> None:
    owner = world.a.user()
    key = world.a.key(allow("kms:*", principal=owner.arn), bypass=True)
    caller = world.a.user(allow("kms:*"))
    assert refused(caller.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == (
        "AccessDeniedException",
        f"User: {caller.arn} is not authorized to perform: kms:Encrypt on resource: {key.arn} "
        "because no resource-based policy allows the kms:Encrypt action",
        400,
    )


def test_no_identity_based_policy_allows(world: World) -> None:
    key = world.a.key()
    caller = world.a.user()
    assert refused(caller.kms().describe_key, KeyId=key.key_id) == (
        "AccessDeniedException",
        f"User: {caller.arn} is not authorized to perform: kms:DescribeKey on resource: {key.arn} "
        "because no identity-based policy allows the kms:DescribeKey action",
        400,
    )


def test_explicit_deny_in_a_resource_based_policy(world: World) -> None:
    caller = world.a.user(allow("kms:*"))
    key = world.a.key(KMS_ROOT, deny("kms:Encrypt", principal=caller.arn))
    assert refused(caller.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == (
        "AccessDeniedException",
        f"User: {caller.arn} is not authorized to perform: kms:Encrypt on resource: {key.arn} "
        "with an explicit deny in a resource-based policy",
        400,
    )
    assert caller.kms().describe_key(KeyId=key.key_id)["KeyMetadata"]["Arn"] == key.arn


def test_explicit_deny_in_an_identity_based_policy(world: World) -> None:
    caller = world.a.user(allow("kms:*"), deny("kms:GenerateDataKey*"))
    key = world.a.key()
    assert refused(caller.kms().generate_data_key, KeyId=key.key_id, KeySpec="AES_256") == (
        "AccessDeniedException",
        f"User: {caller.arn} is not authorized to perform: kms:GenerateDataKey on resource: {key.arn} "
        "with an explicit deny in an identity-based policy",
        400,
    )
    assert refused(caller.kms().generate_data_key_without_plaintext, KeyId=key.key_id, KeySpec="AES_256") == denied(
        caller.arn, "kms:GenerateDataKeyWithoutPlaintext", key.arn, DENY_IN_IDENTITY_POLICY
    )


def test_deny_in_a_key_policy_wins_over_a_key_policy_allow(world: World) -> None:
    caller = world.a.user()
    key = world.a.key(KMS_ROOT, allow("kms:*", principal=caller.arn), deny("kms:Decrypt", principal="*"))
    blob = caller.kms().encrypt(KeyId=key.key_id, Plaintext=b"x")["CiphertextBlob"]
    assert refused(caller.kms().decrypt, CiphertextBlob=blob) == denied(
        caller.arn, "kms:Decrypt", key.arn, DENY_IN_RESOURCE_POLICY
    )


def test_no_permissions_boundary_allows(world: World) -> None:
    boundary = world.a.managed_policy(allow("kms:DescribeKey"))
    caller = world.a.user(allow("kms:*"), boundary=boundary)
    key = world.a.key()
    assert caller.kms().describe_key(KeyId=key.key_id)["KeyMetadata"]["Arn"] == key.arn
    assert refused(caller.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == (
        "AccessDeniedException",
        f"User: {caller.arn} is not authorized to perform: kms:Encrypt on resource: {key.arn} "
        "because no permissions boundary allows the kms:Encrypt action",
        400,
    )
    assert refused(caller.kms().create_key) == denied(caller.arn, "kms:CreateKey", "*", NO_BOUNDARY)


def test_no_session_policy_allows(world: World) -> None:
    caller = world.a.user()
    role = world.a.role(allow("kms:*"), trusted=caller.arn)
    session = assume(caller, role, "narrow", Policy=policy(allow("kms:DescribeKey")))
    key = world.a.key()
    assert session.kms().describe_key(KeyId=key.key_id)["KeyMetadata"]["Arn"] == key.arn
    assert refused(session.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == (
        "AccessDeniedException",
        f"User: {session.arn} is not authorized to perform: kms:Encrypt on resource: {key.arn} "
        "because no session policy allows the kms:Encrypt action",
        400,
    )
    assert refused(session.kms().list_keys) == denied(session.arn, "kms:ListKeys", "*", NO_SESSION_POLICY)


def test_operations_on_no_key_name_resource_star(world: World) -> None:
    caller = world.a.user()
    assert refused(caller.kms().list_aliases) == (
        "AccessDeniedException",
        f"User: {caller.arn} is not authorized to perform: kms:ListAliases on resource: * "
        "because no identity-based policy allows the kms:ListAliases action",
        400,
    )
    denier = world.a.user(allow("kms:*"), deny("kms:CreateKey"))
    assert refused(denier.kms().create_key) == denied(denier.arn, "kms:CreateKey", "*", DENY_IN_IDENTITY_POLICY)


def test_access_denied_on_the_wire(world: World) -> None:
    key = world.a.key()
    caller = world.a.user()
    status, body = caller.raw_kms("Encrypt", {"KeyId": key.key_id, "Plaintext": base64.b64encode(b"x").decode("ascii")})
    assert status == 400
    assert body["__type"] == "AccessDeniedException"
    # The decision's trace is added only by `kmsd serve --explain-denials` (test_authz_explain.py).
    assert "kmsdExplanation" not in body
    assert body.get("message", body.get("Message")) == (
        f"User: {caller.arn} is not authorized to perform: kms:Encrypt on resource: {key.arn} "
        "because no identity-based policy allows the kms:Encrypt action"
    )


def test_unknown_key_is_not_found_whatever_the_callers_permissions(world: World) -> None:
    caller = world.a.user()
    missing = str(uuid.uuid4())
    assert refused(caller.kms().describe_key, KeyId=missing)[0] == "NotFoundException"
    assert refused(caller.kms().encrypt, KeyId=missing, Plaintext=b"x")[0] == "NotFoundException"


# --- the lockout safety check ----------------------------------------------------------------------------------
def test_create_key_refuses_a_policy_that_locks_the_caller_out(world: World) -> None:
    other = world.a.user()
    kms = world.a.kms()
    assert refused(kms.create_key, Policy=policy(allow("kms:*", principal=other.arn))) == LOCKOUT
    # Allowing the caller everything but PutKeyPolicy still locks it out.
    partial = policy(allow(["kms:Describe*", "kms:Encrypt"], principal="arn:aws:iam::111122223333:root"))
    assert refused(kms.create_key, Policy=partial) == LOCKOUT
    created = kms.create_key(Policy=policy(allow("kms:*", principal=other.arn)), BypassPolicyLockoutSafetyCheck=True)
    key_arn = created["KeyMetadata"]["Arn"]
    # Bypassed, the caller is indeed locked out; the named user is not.
    assert refused(kms.describe_key, KeyId=key_arn) == denied(
        world.a.root.arn, "kms:DescribeKey", key_arn, NO_RESOURCE_POLICY
    )
    assert other.kms().describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Enabled"


def test_put_key_policy_refuses_a_policy_that_locks_the_caller_out(world: World) -> None:
    admin = world.a.user(allow("kms:*"))
    key = world.a.key()
    kms = admin.kms()
    other = world.a.user()
    assert (
        refused(
            kms.put_key_policy,
            KeyId=key.key_id,
            PolicyName="default",
            Policy=policy(allow("kms:*", principal=other.arn)),
        )
        == LOCKOUT
    )
    stored = json.loads(kms.get_key_policy(KeyId=key.key_id, PolicyName="default")["Policy"])
    assert stored["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT_A}:root"}
    # A policy that keeps PutKeyPolicy for the caller passes, directly or through the account.
    kms.put_key_policy(
        KeyId=key.key_id, PolicyName="default", Policy=policy(allow("kms:PutKeyPolicy", principal=admin.arn))
    )
    kms.put_key_policy(KeyId=key.key_id, PolicyName="default", Policy=policy(KMS_ROOT))
    kms.put_key_policy(
        KeyId=key.key_id,
        PolicyName="default",
        Policy=policy(allow("kms:*", principal=other.arn)),
        BypassPolicyLockoutSafetyCheck=True,
    )
    assert refused(kms.get_key_policy, KeyId=key.key_id, PolicyName="default") == denied(
        admin.arn, "kms:GetKeyPolicy", key.arn, NO_RESOURCE_POLICY
    )


def test_bypassing_the_lockout_check_can_itself_be_denied(world: World) -> None:
    # The example of "kms:BypassPolicyLockoutSafetyCheck" (AWS KMS condition keys).
    caller = world.a.user(
        allow("kms:*"),
        deny(
            ["kms:CreateKey", "kms:PutKeyPolicy"],
            condition={"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
        ),
    )
    other = world.a.user()
    kms = caller.kms()
    assert refused(
        kms.create_key, Policy=policy(allow("kms:*", principal=other.arn)), BypassPolicyLockoutSafetyCheck=True
    ) == denied(caller.arn, "kms:CreateKey", "*", DENY_IN_IDENTITY_POLICY)
    key = kms.create_key()["KeyMetadata"]
    assert refused(
        kms.put_key_policy,
        KeyId=key["KeyId"],
        PolicyName="default",
        Policy=policy(KMS_ROOT),
        BypassPolicyLockoutSafetyCheck=True,
    ) == denied(caller.arn, "kms:PutKeyPolicy", key["Arn"], DENY_IN_IDENTITY_POLICY)
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=policy(KMS_ROOT))


# --- principals that do not exist ------------------------------------------------------------------------------
def test_key_policy_naming_a_missing_principal_is_refused(world: World) -> None:
    kms = world.a.kms()
    ghost_user = f"arn:aws:iam::{ACCOUNT_A}:user/ghost-{uuid.uuid4().hex[:8]}"
    ghost_role = f"arn:aws:iam::{ACCOUNT_A}:role/ghost-{uuid.uuid4().hex[:8]}"
    assert refused(kms.create_key, Policy=policy(KMS_ROOT, allow("kms:Encrypt", principal=ghost_user))) == (
        INVALID_PRINCIPALS
    )
    # Refused for the principal, not for the lockout: the bypass changes nothing.
    assert (
        refused(
            kms.create_key,
            Policy=policy(KMS_ROOT, allow("kms:Encrypt", principal=ghost_role)),
            BypassPolicyLockoutSafetyCheck=True,
        )
        == INVALID_PRINCIPALS
    )
    key = world.a.key()
    assert (
        refused(
            kms.put_key_policy,
            KeyId=key.key_id,
            PolicyName="default",
            Policy=policy(KMS_ROOT, allow("kms:Decrypt", principal=[world.a.user().arn, ghost_user])),
        )
        == INVALID_PRINCIPALS
    )
    # Existing users, roles and accounts are fine.
    real_role = world.a.role(trusted=world.a.root.arn)
    kms.put_key_policy(
        KeyId=key.key_id,
        PolicyName="default",
        Policy=policy(KMS_ROOT, allow("kms:Decrypt", principal=[world.a.user().arn, real_role])),
    )
