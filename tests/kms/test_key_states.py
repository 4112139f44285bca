"""The key state table as data: every row answers as AWS's "Key states of AWS KMS keys" table says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kmsd.errors import AwsError
from kmsd.kms.key_states import KEY_STATE_TABLE, require_state
from kmsd.store.models import KeyRecord

ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

CRYPTOGRAPHIC = ["Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"]
ANY_STATE = [
    "DescribeKey",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "ListKeyPolicies",
    "ListResourceTags",
    "DeleteAlias",
]


def key_in(state: str) -> KeyRecord:
    return KeyRecord(
        key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
        account_id="111122223333",
        region="us-east-1",
        description="",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        key_state=state,
        creation_date=datetime(2026, 1, 1, tzinfo=UTC),
        policy="{}",
        current_material_version=1,
    )


def refusal(operation: str, state: str) -> tuple[str, str] | None:
    try:
        require_state(operation, key_in(state))
    except AwsError as error:
        return error.code, error.message
    return None


@pytest.mark.parametrize("operation", CRYPTOGRAPHIC)
def test_cryptographic_operations_need_an_enabled_key(operation: str) -> None:
    assert refusal(operation, "Enabled") is None
    assert refusal(operation, "Disabled") == ("DisabledException", f"{ARN} is disabled.")
    assert refusal(operation, "PendingDeletion") == (
        "KMSInvalidStateException",
        f"{ARN} is pending deletion.",
    )


@pytest.mark.parametrize("operation", ANY_STATE)
def test_read_and_policy_operations_accept_every_state(operation: str) -> None:
    for state in ("Enabled", "Disabled", "PendingDeletion", "PendingImport", "Unavailable"):
        assert refusal(operation, state) is None


@pytest.mark.parametrize(
    "operation",
    ["EnableKey", "DisableKey", "ScheduleKeyDeletion", "TagResource", "UntagResource", "CreateAlias"],
)
def test_management_operations_refuse_only_pending_deletion(operation: str) -> None:
    assert refusal(operation, "Enabled") is None
    assert refusal(operation, "Disabled") is None
    assert refusal(operation, "PendingDeletion") == (
        "KMSInvalidStateException",
        f"{ARN} is pending deletion.",
    )


def test_cancel_key_deletion_needs_a_key_pending_deletion() -> None:
    assert refusal("CancelKeyDeletion", "PendingDeletion") is None
    for state in ("Enabled", "Disabled"):
        assert refusal("CancelKeyDeletion", state) == (
            "KMSInvalidStateException",
            f"{ARN} is not pending deletion.",
        )


def test_states_kmsd_keys_never_enter_are_refused_by_restricted_operations() -> None:
    assert refusal("Encrypt", "PendingImport") == ("KMSInvalidStateException", f"{ARN} is pending import.")
    assert refusal("Encrypt", "Updating") == ("KMSInvalidStateException", f"{ARN} is updating.")


def test_an_unavailable_key_is_managed_but_not_used() -> None:
    # Keys of a disconnected custom key store: footnote [11] for cryptographic operations, [12] for enablement.
    assert refusal("Encrypt", "Unavailable") == ("KMSInvalidStateException", f"{ARN} is unavailable.")
    assert refusal("EnableKey", "Unavailable") is None
    assert refusal("TagResource", "Unavailable") is None


def test_every_operation_that_names_a_key_has_a_row() -> None:
    service_operations = {
        "CancelKeyDeletion", "CreateAlias", "Decrypt", "DeleteAlias", "DescribeKey", "DisableKey",
        "DisableKeyRotation", "EnableKey", "EnableKeyRotation", "Encrypt", "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext", "GetKeyPolicy", "GetKeyRotationStatus", "ListAliases",
        "ListKeyPolicies", "ListKeyRotations", "ListResourceTags", "PutKeyPolicy", "ReEncrypt",
        "RotateKeyOnDemand", "ScheduleKeyDeletion", "TagResource", "UntagResource", "UpdateAlias",
        "UpdateKeyDescription",
    }  # fmt: skip
    assert service_operations <= set(KEY_STATE_TABLE)
