"""The console's key policy, statement by statement, against AWS's documented examples and console copies.

The expected statements are transcribed from the AWS KMS Developer Guide,
"Default key policy" (the key administrators example, the key users example
and the per-key-type "Allow use of the key" examples, with the Guide's
principals: ``user/KMSAdminUser``, ``role/KMSAdminRole``, ``user/ExampleUser``,
``role/ExampleRole`` and account 444455556666), from "Controlling access to
HMAC KMS keys" (no grants statement for HMAC keys), and from whole key
policies copied out of console-created keys (an ECC_SECG_P256K1 signing key;
a multi-Region symmetric key).
"""

from __future__ import annotations

from typing import Any

import pytest

from kmsd.authz.console_policy import (
    ADMINISTRATORS_SID,
    GRANTS_SID,
    USERS_SID,
    ConsoleKeyType,
    ConsolePolicyError,
    console_key_policy_document,
)
from kmsd.crypto.key_spec import key_spec
from kmsd.policy import PolicyKind, parse_policy

ACCOUNT = "111122223333"
ADMIN_USER = f"arn:aws:iam::{ACCOUNT}:user/KMSAdminUser"
ADMIN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/KMSAdminRole"
EXAMPLE_USER = f"arn:aws:iam::{ACCOUNT}:user/ExampleUser"
EXAMPLE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ExampleRole"
OTHER_ACCOUNT = "444455556666"

# "Allows key administrators to administer the KMS key": the example for a single-Region symmetric key.
GUIDE_ADMINISTRATOR_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]
GRANTS_CONDITION = {"Bool": {"kms:GrantIsForAWSResource": "true"}}


def key_type(spec: str, usage: str, **extra: bool) -> ConsoleKeyType:
    return ConsoleKeyType(key_spec(spec), usage, **extra)


def statements_by_sid(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {statement["Sid"]: statement for statement in document["Statement"]}


def guide_statement(sid: str, principal: str | list[str], actions: str | list[str]) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions, "Resource": "*"}


def test_symmetric_key_has_the_guides_administrator_and_key_users_statements() -> None:
    document = console_key_policy_document(
        ACCOUNT,
        key_type("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
        administrators=[ADMIN_USER, ADMIN_ROLE],
        users=[EXAMPLE_USER, EXAMPLE_ROLE, OTHER_ACCOUNT],
    )
    assert (document["Id"], document["Version"]) == ("key-consolepolicy-3", "2012-10-17")
    assert list(document) == ["Id", "Version", "Statement"]
    assert document["Statement"][0] == {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    # The Guide's example predates on-demand rotation; console copies of symmetric keys end with it.
    assert document["Statement"][1] == guide_statement(
        ADMINISTRATORS_SID, [ADMIN_USER, ADMIN_ROLE], [*GUIDE_ADMINISTRATOR_ACTIONS, "kms:RotateKeyOnDemand"]
    )
    users = [EXAMPLE_USER, EXAMPLE_ROLE, f"arn:aws:iam::{OTHER_ACCOUNT}:root"]
    assert document["Statement"][2] == guide_statement(
        USERS_SID, users, ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    )
    assert document["Statement"][3] == {
        **guide_statement(GRANTS_SID, users, ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]),
        "Condition": GRANTS_CONDITION,
    }
    assert len(document["Statement"]) == 4


def test_hmac_key_users_get_the_mac_operations_and_no_grants_statement() -> None:
    document = console_key_policy_document(
        ACCOUNT, key_type("HMAC_256", "GENERATE_VERIFY_MAC"), administrators=[ADMIN_USER], users=[EXAMPLE_USER]
    )
    statements = statements_by_sid(document)
    assert statements[USERS_SID] == guide_statement(
        USERS_SID, EXAMPLE_USER, ["kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac"]
    )
    assert GRANTS_SID not in statements
    assert statements[ADMINISTRATORS_SID]["Action"] == GUIDE_ADMINISTRATOR_ACTIONS


@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_3072", "RSA_4096"])
def test_asymmetric_encryption_key_users_statement(spec: str) -> None:
    document = console_key_policy_document(ACCOUNT, key_type(spec, "ENCRYPT_DECRYPT"), users=[EXAMPLE_USER])
    statements = statements_by_sid(document)
    assert statements[USERS_SID] == guide_statement(
        USERS_SID, EXAMPLE_USER, ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey", "kms:GetPublicKey"]
    )
    assert statements[GRANTS_SID]["Condition"] == GRANTS_CONDITION


@pytest.mark.parametrize(
    "spec", ["RSA_2048", "ECC_NIST_P256", "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519", "ML_DSA_65"]
)
def test_signing_key_users_statement(spec: str) -> None:
    document = console_key_policy_document(ACCOUNT, key_type(spec, "SIGN_VERIFY"), users=[EXAMPLE_USER])
    assert statements_by_sid(document)[USERS_SID] == guide_statement(
        USERS_SID, EXAMPLE_USER, ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify"]
    )


def test_a_whole_console_policy_of_a_secp256k1_signing_key() -> None:
    # Copied from a console-created ECC_SECG_P256K1 key: one user both administers and uses the key.
    manager = "arn:aws:iam::861051536435:user/KMS_Manager"
    document = console_key_policy_document(
        "861051536435", key_type("ECC_SECG_P256K1", "SIGN_VERIFY"), administrators=[manager], users=[manager]
    )
    assert document == {
        "Id": "key-consolepolicy-3",
        "Version": "2012-10-17",
        "Statement": [
            guide_statement("Enable IAM User Permissions", "arn:aws:iam::861051536435:root", "kms:*"),
            guide_statement(ADMINISTRATORS_SID, manager, GUIDE_ADMINISTRATOR_ACTIONS),
            guide_statement(USERS_SID, manager, ["kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify"]),
            {
                **guide_statement(GRANTS_SID, manager, ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"]),
                "Condition": GRANTS_CONDITION,
            },
        ],
    }


def test_multi_region_administrators_may_replicate_and_move_the_primary() -> None:
    # The order of a copy of a console-created multi-Region symmetric key.
    document = console_key_policy_document(
        ACCOUNT, key_type("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", multi_region=True), administrators=[ADMIN_USER]
    )
    assert statements_by_sid(document)[ADMINISTRATORS_SID]["Action"] == [
        *GUIDE_ADMINISTRATOR_ACTIONS,
        "kms:ReplicateKey",
        "kms:UpdatePrimaryRegion",
        "kms:RotateKeyOnDemand",
    ]
    signing = console_key_policy_document(
        ACCOUNT, key_type("ECC_NIST_P384", "SIGN_VERIFY", multi_region=True), administrators=[ADMIN_USER]
    )
    assert statements_by_sid(signing)[ADMINISTRATORS_SID]["Action"][-2:] == [
        "kms:ReplicateKey",
        "kms:UpdatePrimaryRegion",
    ]


def test_clearing_allow_key_administrators_to_delete_this_key_drops_only_the_deletion_actions() -> None:
    document = console_key_policy_document(
        ACCOUNT,
        key_type("RSA_2048", "SIGN_VERIFY", multi_region=True),
        administrators=[ADMIN_USER],
        administrators_may_delete=False,
    )
    actions = statements_by_sid(document)[ADMINISTRATORS_SID]["Action"]
    assert actions == [*GUIDE_ADMINISTRATOR_ACTIONS[:-2], "kms:ReplicateKey", "kms:UpdatePrimaryRegion"]


def test_a_key_without_key_material_lets_administrators_import_it() -> None:
    document = console_key_policy_document(
        ACCOUNT, key_type("HMAC_384", "GENERATE_VERIFY_MAC", imported=True), administrators=[ADMIN_USER]
    )
    assert statements_by_sid(document)[ADMINISTRATORS_SID]["Action"] == [
        *GUIDE_ADMINISTRATOR_ACTIONS,
        "kms:ImportKeyMaterial",
    ]


def test_key_agreement_and_ml_kem_keys_get_their_operations() -> None:
    agreement = console_key_policy_document(ACCOUNT, key_type("ECC_NIST_P256", "KEY_AGREEMENT"), users=[EXAMPLE_USER])
    assert statements_by_sid(agreement)[USERS_SID]["Action"] == [
        "kms:DeriveSharedSecret",
        "kms:DescribeKey",
        "kms:GetPublicKey",
    ]
    kem = console_key_policy_document(ACCOUNT, key_type("ML_KEM_768", "ENCAPSULATE_DECAPSULATE"), users=[EXAMPLE_USER])
    assert statements_by_sid(kem)[USERS_SID]["Action"] == [
        "kms:Decapsulate",
        "kms:DescribeKey",
        "kms:Encapsulate",
        "kms:GetPublicKey",
    ]


def test_no_administrators_or_no_users_leave_their_statements_out() -> None:
    alone = console_key_policy_document(ACCOUNT, key_type("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"))
    assert [statement["Sid"] for statement in alone["Statement"]] == ["Enable IAM User Permissions"]
    users_only = console_key_policy_document(
        ACCOUNT, key_type("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"), users=[EXAMPLE_USER]
    )
    assert [statement["Sid"] for statement in users_only["Statement"]] == [
        "Enable IAM User Permissions",
        USERS_SID,
        GRANTS_SID,
    ]


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT"),
        ("HMAC_512", "GENERATE_VERIFY_MAC"),
        ("RSA_4096", "ENCRYPT_DECRYPT"),
        ("ECC_NIST_P384", "KEY_AGREEMENT"),
        ("ML_KEM_1024", "ENCAPSULATE_DECAPSULATE"),
    ],
)
def test_every_console_policy_is_a_valid_key_policy(spec: str, usage: str) -> None:
    document = console_key_policy_document(
        ACCOUNT, key_type(spec, usage), administrators=[ADMIN_ROLE], users=[EXAMPLE_USER, OTHER_ACCOUNT]
    )
    parsed = parse_policy(document, PolicyKind.RESOURCE)
    assert parsed.policy_id == "key-consolepolicy-3"
    assert len(parsed.document.statements) == len(document["Statement"])


def test_what_cannot_be_written_is_refused_with_the_reason() -> None:
    with pytest.raises(ConsolePolicyError, match="ECC_SECG_P256K1 keys cannot have key usage KEY_AGREEMENT"):
        key_type("ECC_SECG_P256K1", "KEY_AGREEMENT")
    with pytest.raises(ConsolePolicyError, match="SM2 keys cannot be multi-Region"):
        key_type("SM2", "SIGN_VERIFY", multi_region=True)
    with pytest.raises(ConsolePolicyError, match="ML_DSA_44 keys cannot be created for imported key material"):
        key_type("ML_DSA_44", "SIGN_VERIFY", imported=True)
    symmetric = key_type("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    with pytest.raises(ConsolePolicyError, match="12-digit account id"):
        console_key_policy_document("1111", symmetric)
    # Administrators are users and roles; only key users may be other accounts.
    with pytest.raises(ConsolePolicyError, match="'444455556666' is not an IAM user or role ARN"):
        console_key_policy_document(ACCOUNT, symmetric, administrators=[OTHER_ACCOUNT])
    with pytest.raises(ConsolePolicyError, match="is not an IAM user or role ARN, or a 12-digit account id"):
        console_key_policy_document(ACCOUNT, symmetric, users=["arn:aws:iam::111122223333:group/Admins"])
