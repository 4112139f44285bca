"""Grants through boto3: what each grant operation allows, constraints, tokens, retiring, revoking, derived grants.

"Grants in AWS KMS", "Grant constraints", "Retiring and revoking grants"
(AWS KMS Developer Guide) and the CreateGrant, ListGrants,
ListRetirableGrants, RetireGrant and RevokeGrant API references.  A grant
allows its grantee exactly its operations on its key, with no key policy or
IAM policy naming the grantee; its constraints hold only for operations that
take an encryption context (keys case-insensitive, values case-sensitive);
it is usable at once with its grant token; it is retired by its retiring
principal, by its grantee when it allows RetireGrant, or by the key's account,
and revoked by whoever has ``kms:RevokeGrant``.  Grants never deny.  Every
grantee here is a fresh IAM user with no policy at all, so anything it can do
comes from the grant.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.authz_world import (
    ACCOUNT_A,
    DENY_IN_IDENTITY_POLICY,
    DENY_IN_RESOURCE_POLICY,
    NO_IDENTITY_POLICY,
    NO_RESOURCE_POLICY,
    Identity,
    Key,
    World,
    allow,
    assume,
    code_of,
    denied,
    deny,
    enable_iam_policies,
    refused,
    running_world,
    unique,
)
from tests.integration.stores import Stores

# The grant operations that apply to a symmetric encryption key and that kmsd serves (CreateGrant, Operations).
GRANT_OPERATIONS = (
    "Encrypt",
    "Decrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "DescribeKey",
    "CreateGrant",
    "RetireGrant",
)


@dataclass(frozen=True)
class Keys:
    key: Key
    other: Key  # the far end of ReEncrypt tests
    blob: bytes  # ciphertext under ``key``
    other_blob: bytes  # ciphertext under ``other``


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-grants")) as built:
        yield built


@pytest.fixture(scope="module")
def keys(world: World) -> Keys:
    key, other = world.a.key(), world.a.key()
    owner = world.a.kms()
    return Keys(
        key,
        other,
        owner.encrypt(KeyId=key.key_id, Plaintext=b"under key")["CiphertextBlob"],
        owner.encrypt(KeyId=other.key_id, Plaintext=b"under other")["CiphertextBlob"],
    )


def grant(world: World, key: Key, grantee: str, operations: list[str], **extra: Any) -> tuple[str, str]:
    """A grant made by the key's account root user: (grant id, grant token)."""
    made = world.a.kms(key.region).create_grant(
        KeyId=key.key_id, GranteePrincipal=grantee, Operations=operations, **extra
    )
    return made["GrantId"], made["GrantToken"]


def attempts(
    grantee: Identity, keys: Keys, token: str, other_token: str, bystander: Identity
) -> dict[str, Callable[[], Any]]:
    """One call per grant operation, each needing that operation on ``keys.key`` and nothing else of it.

    Every call carries the grant tokens (``token`` for ``keys.key``, ``other_token`` for ``keys.other``), the
    documented way to use a grant before it is visible everywhere ("Using a grant token").
    """
    kms = grantee.kms()
    tokens = [token, other_token]
    key = keys.key.arn
    return {
        "Encrypt": lambda: kms.encrypt(KeyId=key, Plaintext=b"x", GrantTokens=tokens),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=keys.blob, GrantTokens=tokens),
        "GenerateDataKey": lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256", GrantTokens=tokens),
        "GenerateDataKeyWithoutPlaintext": lambda: kms.generate_data_key_without_plaintext(
            KeyId=key, KeySpec="AES_256", GrantTokens=tokens
        ),
        "ReEncryptFrom": lambda: kms.re_encrypt(
            CiphertextBlob=keys.blob, DestinationKeyId=keys.other.arn, GrantTokens=tokens
        ),
        "ReEncryptTo": lambda: kms.re_encrypt(CiphertextBlob=keys.other_blob, DestinationKeyId=key, GrantTokens=tokens),
        "DescribeKey": lambda: kms.describe_key(KeyId=key, GrantTokens=tokens),
        "CreateGrant": lambda: kms.create_grant(
            KeyId=key, GranteePrincipal=bystander.arn, Operations=["Encrypt"], GrantTokens=tokens
        ),
        "RetireGrant": lambda: kms.retire_grant(GrantToken=token),
    }


@pytest.mark.parametrize("operation", GRANT_OPERATIONS)
def test_a_grant_allows_exactly_its_operations(world: World, keys: Keys, operation: str) -> None:
    grantee, bystander = world.a.user(), world.a.user()
    # ReEncrypt needs both ends: the grantee may always re-encrypt to and from the other key.
    _, other_token = grant(world, keys.other, grantee.arn, ["ReEncryptFrom", "ReEncryptTo"])
    # AWS refuses a grant whose only operation is CreateGrant (ValidationException "Grants must not contain
    # only the CreateGrant operation."), so that grant also allows Encrypt, the operation it passes on.
    operations = [operation, "Encrypt"] if operation == "CreateGrant" else [operation]
    _, token = grant(world, keys.key, grantee.arn, operations)
    tries = attempts(grantee, keys, token, other_token, bystander)
    outcomes = {name: code_of(call) for name, call in tries.items()}
    expected = {name: "ok" if name in operations else "AccessDeniedException" for name in GRANT_OPERATIONS}
    assert outcomes == expected


def test_a_grant_of_create_grant_alone_is_refused(world: World, keys: Keys) -> None:
    grantee = world.a.user()
    assert refused(
        world.a.kms().create_grant, KeyId=keys.key.key_id, GranteePrincipal=grantee.arn, Operations=["CreateGrant"]
    ) == ("ValidationException", "Grants must not contain only the CreateGrant operation.", 400)


def test_grantee_without_a_grant_is_refused_by_the_key_policy_path(world: World, keys: Keys) -> None:
    grantee = world.a.user()
    grant_id, _ = grant(world, keys.key, grantee.arn, ["Decrypt"])
    assert refused(grantee.kms().encrypt, KeyId=keys.key.arn, Plaintext=b"x") == denied(
        grantee.arn, "kms:Encrypt", keys.key.arn, NO_IDENTITY_POLICY
    )
    assert grantee.kms().decrypt(CiphertextBlob=keys.blob)["Plaintext"] == b"under key"
    world.a.kms().revoke_grant(KeyId=keys.key.key_id, GrantId=grant_id)
    assert refused(grantee.kms().decrypt, CiphertextBlob=keys.blob) == denied(
        grantee.arn, "kms:Decrypt", keys.key.arn, NO_IDENTITY_POLICY
    )


def test_a_grant_reaches_a_key_whose_policy_names_nobody_else(world: World) -> None:
    admin, grantee = world.a.user(), world.a.user()
    closed = world.a.key(allow("kms:*", principal=admin.arn), bypass=True)
    made = admin.kms().create_grant(KeyId=closed.key_id, GranteePrincipal=grantee.arn, Operations=["Encrypt"])
    assert grantee.kms().encrypt(KeyId=closed.arn, Plaintext=b"x", GrantTokens=[made["GrantToken"]])
    assert refused(grantee.kms().describe_key, KeyId=closed.arn) == denied(
        grantee.arn, "kms:DescribeKey", closed.arn, NO_RESOURCE_POLICY
    )


# --- constraints ---------------------------------------------------------------------------------------------
def test_encryption_context_equals(world: World, keys: Keys) -> None:
    grantee = world.a.user()
    grant(
        world,
        keys.key,
        grantee.arn,
        ["Encrypt", "Decrypt", "DescribeKey"],
        Constraints={"EncryptionContextEquals": {"Department": "Finance"}},
    )
    kms = grantee.kms()
    blob = kms.encrypt(KeyId=keys.key.arn, Plaintext=b"x", EncryptionContext={"Department": "Finance"})
    assert kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"Department": "Finance"})
    # In a grant constraint the key is not case sensitive, the value is (GrantConstraints, API Reference).
    assert kms.encrypt(KeyId=keys.key.arn, Plaintext=b"x", EncryptionContext={"department": "Finance"})
    for context in ({"Department": "finance"}, {"Department": "Finance", "Project": "X"}, {}):
        outcome = code_of(kms.encrypt, KeyId=keys.key.arn, Plaintext=b"x", EncryptionContext=context)
        assert outcome == "AccessDeniedException", context
    assert refused(kms.encrypt, KeyId=keys.key.arn, Plaintext=b"x")[0] == "AccessDeniedException"
    # Constraints do not apply to operations without an encryption context, such as DescribeKey.
    assert kms.describe_key(KeyId=keys.key.arn)["KeyMetadata"]["Arn"] == keys.key.arn


def test_encryption_context_subset(world: World, keys: Keys) -> None:
    # The example of "Grant constraints": a GenerateDataKey and Decrypt grant with this subset constraint.
    grantee = world.a.user()
    grant(
        world,
        keys.key,
        grantee.arn,
        ["GenerateDataKey", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"Department": "Finance", "Classification": "Public"}},
    )
    kms = grantee.kms()
    satisfying = [
        {"Department": "Finance", "Classification": "Public"},
        {"Classification": "Public", "Department": "Finance"},
        {"Customer": "12345", "Department": "Finance", "Classification": "Public", "Purpose": "Test"},
    ]
    for context in satisfying:
        data_key = kms.generate_data_key(KeyId=keys.key.arn, KeySpec="AES_256", EncryptionContext=context)
        decrypted = kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"], EncryptionContext=context)
        assert decrypted["Plaintext"] == data_key["Plaintext"]
    failing = [
        {"Department": "Finance"},
        {"department": "finance", "classification": "public"},
        {"Classification": "Public", "Customer": "12345"},
    ]
    for context in failing:
        outcome = code_of(kms.generate_data_key, KeyId=keys.key.arn, KeySpec="AES_256", EncryptionContext=context)
        assert outcome == "AccessDeniedException", context


# --- grant tokens ---------------------------------------------------------------------------------------------
def test_grant_token_is_usable_at_once_and_only_by_the_grantee(world: World, keys: Keys) -> None:
    grantee, other = world.a.user(), world.a.user()
    _, token = grant(world, keys.key, grantee.arn, ["Encrypt"])
    assert grantee.kms().encrypt(KeyId=keys.key.arn, Plaintext=b"x", GrantTokens=[token])["KeyId"] == keys.key.arn
    # A token names a grant; it does not make its bearer the grantee.
    assert refused(other.kms().encrypt, KeyId=keys.key.arn, Plaintext=b"x", GrantTokens=[token]) == denied(
        other.arn, "kms:Encrypt", keys.key.arn, NO_IDENTITY_POLICY
    )


def test_malformed_grant_token_is_refused(world: World, keys: Keys) -> None:
    grantee = world.a.user()
    garbage = base64.urlsafe_b64encode(b"not a grant token").decode("ascii")
    assert refused(grantee.kms().encrypt, KeyId=keys.key.arn, Plaintext=b"x", GrantTokens=[garbage])[0] == (
        "InvalidGrantTokenException"
    )


def test_create_grant_with_the_same_name_is_idempotent(world: World, keys: Keys) -> None:
    grantee = world.a.user()
    name = unique("nightly")
    first_id, first_token = grant(world, keys.key, grantee.arn, ["Encrypt"], Name=name)
    second_id, second_token = grant(world, keys.key, grantee.arn, ["Encrypt"], Name=name)
    # "The returned grant token is unique with every CreateGrant request, even when a duplicate GrantId is returned."
    assert second_id == first_id
    assert second_token != first_token
    named = [g for g in world.a.kms().list_grants(KeyId=keys.key.key_id)["Grants"] if g.get("Name") == name]
    assert [g["GrantId"] for g in named] == [first_id]


# --- listing, retiring, revoking ------------------------------------------------------------------------------
def test_list_grants_and_list_retirable_grants(world: World, keys: Keys) -> None:
    grantee, retiree = world.a.user(), world.a.user()
    grant_id, _ = grant(
        world,
        keys.key,
        grantee.arn,
        ["Encrypt", "Decrypt"],
        RetiringPrincipal=retiree.arn,
        Constraints={"EncryptionContextSubset": {"app": "billing"}},
        Name=unique("listed"),
    )
    owner = world.a.kms()
    listed = {g["GrantId"]: g for g in owner.list_grants(KeyId=keys.key.key_id)["Grants"]}[grant_id]
    assert listed["KeyId"] == keys.key.arn
    assert listed["GranteePrincipal"] == grantee.arn
    assert listed["RetiringPrincipal"] == retiree.arn
    assert listed["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT_A}:root"
    assert sorted(listed["Operations"]) == ["Decrypt", "Encrypt"]
    assert listed["Constraints"] == {"EncryptionContextSubset": {"app": "billing"}}
    retirable = owner.list_retirable_grants(RetiringPrincipal=retiree.arn)["Grants"]
    assert [g["GrantId"] for g in retirable] == [grant_id]
    # Both are ordinary permissions: a user without them is refused.
    assert refused(grantee.kms().list_grants, KeyId=keys.key.arn) == denied(
        grantee.arn, "kms:ListGrants", keys.key.arn, NO_IDENTITY_POLICY
    )
    # "The authorized resource in ListRetirableGrants calls is the retiring principal specified in the request."
    assert refused(retiree.kms().list_retirable_grants, RetiringPrincipal=retiree.arn) == denied(
        retiree.arn, "kms:ListRetirableGrants", retiree.arn, NO_IDENTITY_POLICY
    )
    lister = world.a.user(allow("kms:ListRetirableGrants", retiree.arn))
    assert [g["GrantId"] for g in lister.kms().list_retirable_grants(RetiringPrincipal=retiree.arn)["Grants"]] == [
        grant_id
    ]


def test_retiring_principal_retires_without_any_policy(world: World, keys: Keys) -> None:
    grantee, retiree = world.a.user(), world.a.user()
    _, token = grant(world, keys.key, grantee.arn, ["Encrypt"], RetiringPrincipal=retiree.arn)
    assert grantee.kms().encrypt(KeyId=keys.key.arn, Plaintext=b"x", GrantTokens=[token])
    retiree.kms().retire_grant(GrantToken=token)
    assert refused(grantee.kms().encrypt, KeyId=keys.key.arn, Plaintext=b"x")[0] == "AccessDeniedException"


def test_who_may_retire_a_grant(world: World, keys: Keys) -> None:
    grantee, stranger = world.a.user(), world.a.user()
    outsider = world.b.user(allow("kms:RetireGrant"))
    grant_id, token = grant(world, keys.key, grantee.arn, ["Encrypt"])
    # Not the grantee when the grant lacks RetireGrant, not a stranger, not another account's principal:
    # "The grant determines who can retire it" ("Retiring and revoking grants").
    assert refused(grantee.kms().retire_grant, GrantToken=token)[0] == "AccessDeniedException"
    assert refused(stranger.kms().retire_grant, KeyId=keys.key.arn, GrantId=grant_id)[0] == "AccessDeniedException"
    assert refused(outsider.kms().retire_grant, KeyId=keys.key.arn, GrantId=grant_id)[0] == "AccessDeniedException"
    assert grantee.kms().encrypt(KeyId=keys.key.arn, Plaintext=b"x")
    # "As a backup, the AWS account in which the grant was created can retire the grant."
    world.a.kms().retire_grant(KeyId=keys.key.arn, GrantId=grant_id)
    assert grant_id not in {g["GrantId"] for g in world.a.kms().list_grants(KeyId=keys.key.key_id)["Grants"]}

    # "The AWS account that owns the KMS key can delegate the kms:RetireGrant permission to an IAM principal."
    delegated = world.a.user(allow("kms:RetireGrant"))
    second_id, _ = grant(world, keys.key, grantee.arn, ["Encrypt"])
    delegated.kms().retire_grant(KeyId=keys.key.arn, GrantId=second_id)
    assert second_id not in {g["GrantId"] for g in world.a.kms().list_grants(KeyId=keys.key.key_id)["Grants"]}


def test_iam_deny_stops_even_the_retiring_principal(world: World, keys: Keys) -> None:
    # "To deny permission to retire a grant, you can use a Deny action with the kms:RetireGrant permission."
    grantee, retiree = world.a.user(), world.a.user(deny("kms:RetireGrant"))
    _, token = grant(world, keys.key, grantee.arn, ["Encrypt"], RetiringPrincipal=retiree.arn)
    assert refused(retiree.kms().retire_grant, GrantToken=token)[0] == "AccessDeniedException"
    assert grantee.kms().encrypt(KeyId=keys.key.arn, Plaintext=b"x", GrantTokens=[token])["KeyId"] == keys.key.arn


def test_revoke_grant_needs_kms_revoke_grant(world: World, keys: Keys) -> None:
    grantee = world.a.user()
    grant_id, _ = grant(world, keys.key, grantee.arn, ["Encrypt", "RetireGrant"])
    assert refused(grantee.kms().revoke_grant, KeyId=keys.key.arn, GrantId=grant_id) == denied(
        grantee.arn, "kms:RevokeGrant", keys.key.arn, NO_IDENTITY_POLICY
    )
    revoker = world.a.user(allow("kms:RevokeGrant", keys.key.arn))
    revoker.kms().revoke_grant(KeyId=keys.key.arn, GrantId=grant_id)
    assert refused(grantee.kms().encrypt, KeyId=keys.key.arn, Plaintext=b"x") == denied(
        grantee.arn, "kms:Encrypt", keys.key.arn, NO_IDENTITY_POLICY
    )
    assert refused(revoker.kms().revoke_grant, KeyId=keys.key.arn, GrantId=grant_id)[0] == "NotFoundException"


# --- grants that allow CreateGrant -----------------------------------------------------------------------------
def test_derived_grants_may_only_narrow_the_operations(world: World, keys: Keys) -> None:
    grantee, child = world.a.user(), world.a.user()
    _, token = grant(world, keys.key, grantee.arn, ["GenerateDataKey", "Decrypt", "CreateGrant"])
    kms = grantee.kms()
    narrower = kms.create_grant(
        KeyId=keys.key.arn, GranteePrincipal=child.arn, Operations=["GenerateDataKey", "Decrypt"], GrantTokens=[token]
    )
    assert child.kms().generate_data_key(KeyId=keys.key.arn, KeySpec="AES_256", GrantTokens=[narrower["GrantToken"]])
    for operations in (["ReEncryptFrom"], ["GenerateDataKey", "Encrypt"], ["DescribeKey"]):
        assert (
            refused(
                kms.create_grant,
                KeyId=keys.key.arn,
                GranteePrincipal=child.arn,
                Operations=operations,
                GrantTokens=[token],
            )[0]
            == "AccessDeniedException"
        ), operations


def test_derived_grants_may_only_tighten_the_constraints(world: World, keys: Keys) -> None:
    grantee, child = world.a.user(), world.a.user()
    _, subset_token = grant(
        world,
        keys.key,
        grantee.arn,
        ["Encrypt", "CreateGrant"],
        Constraints={"EncryptionContextSubset": {"Department": "Finance"}},
    )
    kms = grantee.kms()

    def derive(constraints: dict[str, Any] | None, token: str) -> str:
        extra: dict[str, Any] = {} if constraints is None else {"Constraints": constraints}
        return code_of(
            kms.create_grant,
            KeyId=keys.key.arn,
            GranteePrincipal=child.arn,
            Operations=["Encrypt"],
            GrantTokens=[token],
            **extra,
        )

    # "The child grant can add pairs to an EncryptionContextSubset constraint ... but it cannot remove them.
    # The child grant can change an EncryptionContextSubset constraint to an EncryptionContextEquals
    # constraint, but not the reverse."
    assert derive({"EncryptionContextSubset": {"Department": "Finance", "Project": "X"}}, subset_token) == "ok"
    assert derive({"EncryptionContextEquals": {"Department": "Finance"}}, subset_token) == "ok"
    assert derive(None, subset_token) == "AccessDeniedException"
    assert derive({"EncryptionContextSubset": {"Department": "Sales"}}, subset_token) == "AccessDeniedException"

    _, equals_token = grant(
        world,
        keys.key,
        grantee.arn,
        ["Encrypt", "CreateGrant"],
        Constraints={"EncryptionContextEquals": {"Project": "Y"}},
    )
    assert derive({"EncryptionContextEquals": {"Project": "Y"}}, equals_token) == "ok"
    assert derive({"EncryptionContextSubset": {"Project": "Y"}}, equals_token) == "AccessDeniedException"


# --- grants never deny; grants for roles and other accounts ---------------------------------------------------
def test_explicit_deny_beats_a_grant(world: World, keys: Keys) -> None:
    denied_in_iam = world.a.user(deny("kms:Encrypt"))
    _, token = grant(world, keys.key, denied_in_iam.arn, ["Encrypt"])
    assert refused(denied_in_iam.kms().encrypt, KeyId=keys.key.arn, Plaintext=b"x", GrantTokens=[token]) == denied(
        denied_in_iam.arn, "kms:Encrypt", keys.key.arn, DENY_IN_IDENTITY_POLICY
    )
    grantee = world.a.user()
    guarded = world.a.key(enable_iam_policies(ACCOUNT_A), deny("kms:Encrypt", principal=grantee.arn))
    _, guarded_token = grant(world, guarded, grantee.arn, ["Encrypt"])
    assert refused(grantee.kms().encrypt, KeyId=guarded.arn, Plaintext=b"x", GrantTokens=[guarded_token]) == denied(
        grantee.arn, "kms:Encrypt", guarded.arn, DENY_IN_RESOURCE_POLICY
    )


def test_grant_to_a_role_serves_its_sessions(world: World, keys: Keys) -> None:
    caller = world.a.user()
    role = world.a.role(trusted=caller.arn)
    _, token = grant(world, keys.key, role, ["Encrypt"])
    session = assume(caller, role)
    assert session.kms().encrypt(KeyId=keys.key.arn, Plaintext=b"x", GrantTokens=[token])["KeyId"] == keys.key.arn


def test_grant_to_a_user_of_another_account(world: World, keys: Keys) -> None:
    # "users and roles in the external account cannot use the CMK until you attach IAM policies ... or use grants".
    outsider = world.b.user()
    _, token = grant(world, keys.key, outsider.arn, ["Encrypt", "DescribeKey"])
    kms = outsider.kms()
    assert kms.encrypt(KeyId=keys.key.arn, Plaintext=b"x", GrantTokens=[token])["KeyId"] == keys.key.arn
    assert kms.describe_key(KeyId=keys.key.arn, GrantTokens=[token])["KeyMetadata"]["AWSAccountId"] == ACCOUNT_A
    assert refused(kms.generate_data_key, KeyId=keys.key.arn, KeySpec="AES_256") == denied(
        outsider.arn, "kms:GenerateDataKey", keys.key.arn, NO_RESOURCE_POLICY
    )
