"""The grant rules as pure functions: operations, grantee matching, constraints, child grants, retiring, tokens.

Each test names the AWS rule it checks (KMS Developer Guide "Grants in AWS KMS", "Creating grants",
"Managing grants"; API reference "GrantConstraints", "CreateGrant").
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources

import pytest

from kmsd.authz.grants import (
    ENCRYPTION_CONTEXT_OPERATIONS,
    GRANT_OPERATIONS,
    can_retire,
    check_create_grant_subset,
    constraints_hold,
    grant_id_from_token,
    grant_ids_from_tokens,
    grant_matches,
    is_grant_id,
    matching_grants,
    names_principal,
    new_grant_id,
    new_grant_token,
    operations_for_key,
    requested_constraint,
    retire_delegating_accounts,
)
from kmsd.crypto import SeededRandomSource
from kmsd.errors import AwsError
from kmsd.iam.principal import Principal
from kmsd.store.models import GrantRecord

ACCOUNT = "111122223333"
OTHER = "444455556666"
ROOT = Principal.root(ACCOUNT)
OTHER_ROOT = Principal.root(OTHER)
ALICE = Principal(
    arn=f"arn:aws:iam::{ACCOUNT}:user/alice", account_id=ACCOUNT, kind="user", user_id="AIDAALICE", name="alice"
)
BOB = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/bob", account_id=ACCOUNT, kind="user", user_id="AIDABOB", name="bob")
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/team/app"
APP_SESSION = Principal(
    arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app/session-1",
    account_id=ACCOUNT,
    kind="assumed-role",
    user_id="AROAAPP:session-1",
    role_arn=ROLE_ARN,
)
OTHER_APP_SESSION = replace(APP_SESSION, arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/app/session-2")
T0 = datetime(2026, 1, 2, tzinfo=UTC)


def grant(*operations: str, grantee: str = ALICE.arn, **changes: object) -> GrantRecord:
    record = GrantRecord(
        grant_id="a" * 64,
        key_id="00000001-0000-4000-8000-000000000000",
        region="us-west-2",
        grantee_principal=grantee,
        operations=operations or ("Encrypt", "Decrypt"),
        issuing_account=ROOT.arn,
        created_at=T0,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


# --- grant operations -------------------------------------------------------------------------------


def test_grant_operations_are_botocores_grant_operation_enum() -> None:
    model = json.loads(resources.files("kmsd.api").joinpath("models/kms.json").read_text())
    assert frozenset(model["shapes"]["GrantOperation"]["enum"]) == GRANT_OPERATIONS


def test_symmetric_keys_take_the_data_key_operations_and_no_signing_or_mac() -> None:
    # "grants for symmetric encryption KMS keys cannot allow the Sign, Verify, GenerateMac or VerifyMac operations"
    symmetric = operations_for_key("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    assert ENCRYPTION_CONTEXT_OPERATIONS | {"CreateGrant", "RetireGrant", "DescribeKey"} == symmetric
    assert not {"Sign", "Verify", "GenerateMac", "VerifyMac", "GetPublicKey"} & symmetric


def test_asymmetric_keys_take_no_data_key_operations() -> None:
    # "Grants for asymmetric KMS keys cannot allow any operations that generate data keys or data key pairs."
    rsa = operations_for_key("RSA_2048", "ENCRYPT_DECRYPT")
    assert {"Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey", "DescribeKey"} <= rsa
    assert not {"GenerateDataKey", "GenerateDataKeyPair", "GenerateDataKeyWithoutPlaintext"} & rsa
    assert operations_for_key("ECC_NIST_P256", "SIGN_VERIFY") == {
        "Sign",
        "Verify",
        "GetPublicKey",
        "CreateGrant",
        "RetireGrant",
        "DescribeKey",
    }
    assert {"GenerateMac", "VerifyMac"} <= operations_for_key("HMAC_256", "GENERATE_VERIFY_MAC")
    assert "DeriveSharedSecret" in operations_for_key("ECC_NIST_P256", "KEY_AGREEMENT")
    assert operations_for_key("X", "UNKNOWN_USAGE") == {"CreateGrant", "RetireGrant", "DescribeKey"}


# --- whom a grant names -------------------------------------------------------------------------------


def test_a_grant_names_its_grantee_exactly() -> None:
    assert names_principal(ALICE.arn, ALICE)
    assert not names_principal(ALICE.arn, BOB)
    assert not names_principal(ALICE.arn.upper(), ALICE)


def test_a_grant_to_a_role_covers_every_session_of_the_role() -> None:
    # "Each grant has one grantee principal, but the grantee principal can represent multiple identities."
    assert names_principal(ROLE_ARN, APP_SESSION)
    assert names_principal(ROLE_ARN, OTHER_APP_SESSION)
    assert grant_matches(grant("Encrypt", grantee=ROLE_ARN), APP_SESSION, "Encrypt", None)


def test_a_grant_to_one_session_covers_that_session_only() -> None:
    assert names_principal(APP_SESSION.arn, APP_SESSION)
    assert not names_principal(APP_SESSION.arn, OTHER_APP_SESSION)


def test_a_grant_to_an_account_covers_its_root_user_only() -> None:
    assert names_principal(ROOT.arn, ROOT)
    assert not names_principal(ROOT.arn, ALICE)
    assert not names_principal(ROOT.arn, OTHER_ROOT)


# --- what a grant allows -----------------------------------------------------------------------------


def test_a_grant_allows_exactly_its_operations() -> None:
    # "the grant allows the grantee principal to call the specified grant operations on the KMS key"
    decrypt_only = grant("Decrypt")
    assert grant_matches(decrypt_only, ALICE, "Decrypt", None)
    assert grant_matches(decrypt_only, ALICE, "kms:Decrypt", None)
    assert not grant_matches(decrypt_only, ALICE, "Encrypt", None)
    assert not grant_matches(decrypt_only, ALICE, "ReEncryptFrom", None)
    assert not grant_matches(decrypt_only, BOB, "Decrypt", None)


def test_equals_requires_the_same_context_with_keys_case_insensitive_and_values_case_sensitive() -> None:
    # GrantConstraints: "in a grant constraint, the key in each key-value pair is not case sensitive,
    # but the value is case sensitive."
    equals = grant("Decrypt", encryption_context_equals={"Department": "IT"})
    assert grant_matches(equals, ALICE, "Decrypt", {"Department": "IT"})
    assert grant_matches(equals, ALICE, "Decrypt", {"department": "IT"})
    assert not grant_matches(equals, ALICE, "Decrypt", {"Department": "it"})
    assert not grant_matches(equals, ALICE, "Decrypt", {"Department": "IT", "Purpose": "Test"})
    assert not grant_matches(equals, ALICE, "Decrypt", {})
    assert not grant_matches(equals, ALICE, "Decrypt", None)


def test_subset_requires_the_pairs_and_allows_more() -> None:
    # The example of "Grants in AWS KMS": an EncryptionContextSubset of Department=Finance, Classification=Public.
    subset = grant(
        "GenerateDataKey", "Decrypt", encryption_context_subset={"Department": "Finance", "Classification": "Public"}
    )
    for allowed in (
        {"Department": "Finance", "Classification": "Public"},
        {"Classification": "Public", "Department": "Finance"},
        {"Customer": "12345", "Department": "Finance", "Classification": "Public", "Purpose": "Test"},
    ):
        assert grant_matches(subset, ALICE, "GenerateDataKey", allowed)
    for refused in (
        {"Department": "Finance"},
        {"department": "finance", "classification": "public"},
        {"Classification": "Public", "Customer": "12345"},
        None,
    ):
        assert not grant_matches(subset, ALICE, "GenerateDataKey", refused)


def test_an_empty_equals_constraint_allows_only_requests_without_context() -> None:
    empty = grant("Encrypt", encryption_context_equals={})
    assert constraints_hold(empty, None)
    assert constraints_hold(empty, {})
    assert not constraints_hold(empty, {"a": "b"})
    assert constraints_hold(grant("Encrypt"), {"any": "thing"})


def test_constraints_do_not_apply_to_operations_without_an_encryption_context() -> None:
    # CreateGrant "Constraints": "Grants with grant constraints can include the DescribeKey and
    # RetireGrant operations, but the constraint doesn't apply to these operations."
    constrained = grant(
        "Decrypt", "DescribeKey", "RetireGrant", "CreateGrant", encryption_context_equals={"Department": "IT"}
    )
    for operation in ("DescribeKey", "RetireGrant", "CreateGrant"):
        assert grant_matches(constrained, ALICE, operation, None)
    assert not grant_matches(constrained, ALICE, "Decrypt", None)


def test_matching_grants_keeps_the_matching_ones_in_order() -> None:
    first = grant("Encrypt", grant_id="1" * 64)
    other_grantee = grant("Encrypt", grantee=BOB.arn, grant_id="2" * 64)
    other_operation = grant("Decrypt", grant_id="3" * 64)
    last = grant("Encrypt", "Decrypt", grant_id="4" * 64)
    found = matching_grants([first, other_grantee, other_operation, last], ALICE, "Encrypt", None)
    assert found == [first, last]
    assert matching_grants([], ALICE, "Encrypt", None) == []


# --- grants created through a grant's CreateGrant permission ---------------------------------------------


PARENT = grant("GenerateDataKey", "Decrypt", "CreateGrant", encryption_context_subset={"Department": "IT"})


def test_a_child_grant_may_allow_only_operations_of_its_parent() -> None:
    # "The grantee principal can only create grants that allow some or all of the operations in the parent grant."
    subset = {"EncryptionContextSubset": {"Department": "IT"}}
    assert check_create_grant_subset([PARENT], ["CreateGrant", "Decrypt"], subset)
    assert check_create_grant_subset([PARENT], ["GenerateDataKey", "Decrypt", "CreateGrant"], subset)
    assert not check_create_grant_subset([PARENT], ["Decrypt", "ReEncryptFrom"], subset)
    assert not check_create_grant_subset([PARENT], ["Encrypt"], subset)


def test_only_parents_that_allow_create_grant_count() -> None:
    no_create = grant("Decrypt", "Encrypt")
    assert not check_create_grant_subset([no_create], ["Decrypt"], None)
    assert not check_create_grant_subset([], ["Decrypt"], None)
    assert check_create_grant_subset([no_create, grant("Decrypt", "CreateGrant")], ["Decrypt"], None)


def test_a_child_of_a_subset_parent_may_add_pairs_or_switch_to_equals_but_not_drop_pairs() -> None:
    # "the child grant can add pairs to an EncryptionContextSubset constraint in the parent grant, but
    # it cannot remove them.  The child grant can change an EncryptionContextSubset constraint to an
    # EncryptionContextEquals constraint, but not the reverse."
    ops = ["Decrypt"]
    assert check_create_grant_subset([PARENT], ops, {"EncryptionContextSubset": {"Department": "IT", "Team": "a"}})
    assert check_create_grant_subset([PARENT], ops, {"EncryptionContextSubset": {"department": "IT"}})
    assert check_create_grant_subset([PARENT], ops, {"EncryptionContextEquals": {"Department": "IT"}})
    assert check_create_grant_subset([PARENT], ops, {"EncryptionContextEquals": {"Department": "IT", "x": "y"}})
    assert not check_create_grant_subset([PARENT], ops, {"EncryptionContextSubset": {"Team": "a"}})
    assert not check_create_grant_subset([PARENT], ops, {"EncryptionContextSubset": {"Department": "it"}})
    assert not check_create_grant_subset([PARENT], ops, {"EncryptionContextEquals": {}})
    assert not check_create_grant_subset([PARENT], ops, None)
    assert not check_create_grant_subset([PARENT], ops, {})


def test_a_child_of_an_equals_parent_must_have_the_same_equals_constraint() -> None:
    parent = grant("Decrypt", "CreateGrant", encryption_context_equals={"Department": "IT"})
    assert check_create_grant_subset([parent], ["Decrypt"], {"EncryptionContextEquals": {"DEPARTMENT": "IT"}})
    assert not check_create_grant_subset([parent], ["Decrypt"], {"EncryptionContextSubset": {"Department": "IT"}})
    assert not check_create_grant_subset([parent], ["Decrypt"], {"EncryptionContextEquals": {"Department": "HR"}})
    assert not check_create_grant_subset(
        [parent], ["Decrypt"], {"EncryptionContextEquals": {"Department": "IT", "Team": "a"}}
    )
    assert not check_create_grant_subset([parent], ["Decrypt"], None)


def test_a_child_of_an_unconstrained_parent_may_have_any_constraint() -> None:
    parent = grant("Decrypt", "CreateGrant")
    assert check_create_grant_subset([parent], ["Decrypt"], None)
    assert check_create_grant_subset([parent], ["Decrypt"], {"EncryptionContextEquals": {"a": "b"}})


def test_requested_constraint_reads_the_create_grant_member() -> None:
    assert requested_constraint(None) is None
    assert requested_constraint({}) is None
    assert requested_constraint({"EncryptionContextSubset": {"a": "b"}}) == ("EncryptionContextSubset", {"a": "b"})
    assert requested_constraint({"EncryptionContextEquals": {}}) == ("EncryptionContextEquals", {})


# --- retiring ------------------------------------------------------------------------------------------


def test_the_retiring_principal_may_retire() -> None:
    # "A grant can be retired by an optional retiring principal specified in the grant."
    retired_by_bob = grant("Decrypt", retiring_principal=BOB.arn)
    assert can_retire(retired_by_bob, BOB)
    assert not can_retire(retired_by_bob, ALICE)
    assert can_retire(grant("Decrypt", retiring_principal=ROLE_ARN), APP_SESSION)


def test_the_grantee_may_retire_only_when_the_grant_allows_retire_grant() -> None:
    # "The grantee principal can also retire the grant, but only if they are also a retiring principal
    # or the grant includes the RetireGrant operation."
    assert not can_retire(grant("Decrypt"), ALICE)
    assert can_retire(grant("Decrypt", "RetireGrant"), ALICE)
    assert can_retire(grant("Decrypt", retiring_principal=ALICE.arn), ALICE)


def test_the_root_of_the_account_the_grant_was_created_in_may_retire() -> None:
    # "As a backup, the AWS account in which the grant was created can retire the grant."
    assert can_retire(grant("Decrypt"), ROOT)
    assert not can_retire(grant("Decrypt"), OTHER_ROOT)
    assert not can_retire(grant("Decrypt"), BOB)


def test_delegating_accounts_are_the_grants_account_and_a_retiring_account() -> None:
    # "the AWS account or an AWS account that is the retiring principal can delegate the permission to
    # retire a grant to an IAM principal in the same AWS account"
    assert retire_delegating_accounts(grant("Decrypt")) == {ACCOUNT}
    assert retire_delegating_accounts(grant("Decrypt", retiring_principal=OTHER_ROOT.arn)) == {ACCOUNT, OTHER}
    other_user = f"arn:aws:iam::{OTHER}:user/carol"
    assert retire_delegating_accounts(grant("Decrypt", retiring_principal=other_user)) == {ACCOUNT}


# --- grant ids and tokens ---------------------------------------------------------------------------------


def test_grant_ids_are_64_lowercase_hex_characters() -> None:
    grant_id = new_grant_id(SeededRandomSource(1))
    assert is_grant_id(grant_id)
    assert new_grant_id(SeededRandomSource(2)) != grant_id
    for bad in ("", "a" * 63, "a" * 65, "A" * 64, "g" * 64, "a" * 63 + "\n"):
        assert not is_grant_id(bad)


def test_a_token_names_its_grant_and_every_token_is_new() -> None:
    rng = SeededRandomSource(3)
    grant_id = new_grant_id(rng)
    first, second = new_grant_token(grant_id, rng), new_grant_token(grant_id, rng)
    assert first != second
    assert grant_id_from_token(first) == grant_id_from_token(second) == grant_id
    # Opaque and long like AWS's, and safe in URLs and JSON without escaping.
    assert len(first) >= 100
    assert re.fullmatch(r"[A-Za-z0-9_-]+", first)
    assert grant_id not in first


def test_a_malformed_token_names_no_grant() -> None:
    token = new_grant_token("b" * 64, SeededRandomSource(4))
    flipped = token[:50] + ("A" if token[50] != "A" else "B") + token[51:]
    for bad in ("", "x", token[:-1], token[:-4], token + "AAAA", flipped, "é" * 119, "!" * 119, "b" * 64):
        assert grant_id_from_token(bad) is None


def test_a_token_of_an_unknown_version_names_no_grant() -> None:
    raw = bytearray(base64.urlsafe_b64decode(new_grant_token("c" * 64, SeededRandomSource(5)) + "="))
    raw[0] = 2
    assert grant_id_from_token(base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")) is None


def test_only_grant_ids_get_tokens() -> None:
    with pytest.raises(ValueError, match="not a grant id"):
        new_grant_token("not-a-grant-id", SeededRandomSource(6))


def test_grant_ids_from_tokens_refuses_a_malformed_token() -> None:
    rng = SeededRandomSource(7)
    tokens = [new_grant_token("d" * 64, rng), new_grant_token("e" * 64, rng)]
    assert grant_ids_from_tokens(tokens) == ["d" * 64, "e" * 64]
    assert grant_ids_from_tokens([]) == []
    with pytest.raises(AwsError) as raised:
        grant_ids_from_tokens([tokens[0], "garbage"])
    assert raised.value.code == "InvalidGrantTokenException"
