"""CreateKey, DescribeKey, ListKeys, EnableKey, DisableKey and UpdateKeyDescription, through KmsService."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from kmsd.authz.default_policy import default_key_policy
from kmsd.clock import ManualClock
from kmsd.kms.paging import encode_marker
from kmsd.store.sqlite import SqliteStore

from .aws_errors import aws_error
from .conftest import ACCOUNT, OTHER_ACCOUNT, REGION, Kms, caller_for

CUSTOM_POLICY = """{
  "Version": "2012-10-17",
  "Id": "custom",
  "Statement": [{"Sid": "Root can do anything", "Effect": "Allow",
                 "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"}]
}"""


def test_create_key_returns_aws_full_key_metadata(kms: Kms, clock: ManualClock) -> None:
    metadata = kms.create_key(Description="payroll")
    key_id = metadata["KeyId"]
    assert uuid.UUID(key_id).version == 4
    material_id = metadata.pop("CurrentKeyMaterialId")
    assert len(material_id) == 64 and all(c in "0123456789abcdef" for c in material_id)
    assert metadata == {
        "AWSAccountId": ACCOUNT,
        "KeyId": key_id,
        "Arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}",
        "CreationDate": clock.now(),
        "Enabled": True,
        "Description": "payroll",
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeyState": "Enabled",
        "Origin": "AWS_KMS",
        "KeyManager": "CUSTOMER",
        "CustomerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "KeySpec": "SYMMETRIC_DEFAULT",
        "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "MultiRegion": False,
    }


def test_create_key_accepts_the_explicit_symmetric_defaults(kms: Kms) -> None:
    metadata = kms.create_key(
        KeySpec="SYMMETRIC_DEFAULT", KeyUsage="ENCRYPT_DECRYPT", Origin="AWS_KMS", MultiRegion=False
    )
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT"
    legacy = kms.create_key(CustomerMasterKeySpec="SYMMETRIC_DEFAULT")
    assert legacy["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"


def test_key_ids_are_distinct(kms: Kms) -> None:
    ids = {kms.create_key()["KeyId"] for _ in range(5)}
    assert len(ids) == 5


def test_create_key_without_policy_stores_aws_default_policy_text(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    policy = kms("GetKeyPolicy", KeyId=key_id)["Policy"]
    assert policy == default_key_policy(ACCOUNT)
    assert json.loads(policy) == {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def test_create_key_with_policy_stores_it_byte_for_byte(kms: Kms) -> None:
    key_id = kms.create_key(Policy=CUSTOM_POLICY, BypassPolicyLockoutSafetyCheck=True)["KeyId"]
    assert kms("GetKeyPolicy", KeyId=key_id)["Policy"] == CUSTOM_POLICY


def test_create_key_with_tags(kms: Kms) -> None:
    key_id = kms.create_key(Tags=[{"TagKey": "team", "TagValue": "payments"}, {"TagKey": "env", "TagValue": ""}])[
        "KeyId"
    ]
    assert kms("ListResourceTags", KeyId=key_id)["Tags"] == [
        {"TagKey": "env", "TagValue": ""},
        {"TagKey": "team", "TagValue": "payments"},
    ]


def _no_keys(kms: Kms) -> bool:
    keys: list[object] = kms("ListKeys")["Keys"]
    return keys == []


def test_create_key_refuses_key_spec_and_customer_master_key_spec_together(kms: Kms) -> None:
    with aws_error(
        "ValidationException",
        "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
        "CustomerMasterKeySpec is deprecated.",
    ):
        kms.create_key(KeySpec="SYMMETRIC_DEFAULT", CustomerMasterKeySpec="SYMMETRIC_DEFAULT")
    assert _no_keys(kms)


@pytest.mark.parametrize("usage", ["SIGN_VERIFY", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"])
def test_symmetric_default_keys_are_for_encrypt_decrypt_only(kms: Kms, usage: str) -> None:
    with aws_error("ValidationException", f"KeyUsage {usage} is not compatible with KeySpec SYMMETRIC_DEFAULT"):
        kms.create_key(KeyUsage=usage)
    assert _no_keys(kms)


# Issue 11: the specs `cryptography` cannot do are answered as AWS answers a spec unavailable in the Region
# (AWS offers SM2 in the China Regions only).
@pytest.mark.parametrize(("spec", "usage"), [("SM2", "SIGN_VERIFY"), ("ML_KEM_512", "ENCAPSULATE_DECAPSULATE")])
def test_key_specs_kmsd_cannot_create_are_unsupported(kms: Kms, spec: str, usage: str) -> None:
    with aws_error("UnsupportedOperationException", f"KeySpec {spec} is not supported in this Region"):
        kms.create_key(KeySpec=spec, KeyUsage=usage)
    assert _no_keys(kms)


def test_a_usage_the_new_specs_cannot_have_is_a_validation_error_first(kms: Kms) -> None:
    # The KeyUsage/KeySpec check comes before the spec's availability.
    with aws_error("ValidationException", "KeyUsage SIGN_VERIFY is not compatible with KeySpec ML_KEM_512"):
        kms.create_key(KeySpec="ML_KEM_512", KeyUsage="SIGN_VERIFY")
    with aws_error(
        "ValidationException", "KeyUsage KEY_AGREEMENT is not compatible with KeySpec ECC_NIST_EDWARDS25519"
    ):
        kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="KEY_AGREEMENT")
    with aws_error("ValidationException", "You must specify a KeyUsage value for a KMS key with KeySpec ML_KEM_768."):
        kms.create_key(KeySpec="ML_KEM_768")
    assert _no_keys(kms)


@pytest.mark.parametrize("origin", ["AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"])
def test_custom_key_store_origins_need_a_custom_key_store(kms: Kms, origin: str) -> None:
    with aws_error("ValidationException", f"Origin {origin} requires a CustomKeyStoreId."):
        kms.create_key(Origin=origin)
    # An external key store's key also names its external key (XksKeyId), a validation that comes first.
    xks_key_id = {"XksKeyId": "external-key"} if origin == "EXTERNAL_KEY_STORE" else {}
    with aws_error("CustomKeyStoreNotFoundException"):
        kms.create_key(Origin=origin, CustomKeyStoreId="cks-1234567890abcdef0", **xks_key_id)
    assert _no_keys(kms)


# Issue 11: keys for imported material are created now, waiting for it (tests/kms/test_imports.py).
def test_a_key_for_imported_material_waits_for_it(kms: Kms) -> None:
    metadata = kms.create_key(Origin="EXTERNAL")
    assert (metadata["Origin"], metadata["KeyState"], metadata["Enabled"]) == ("EXTERNAL", "PendingImport", False)


# Issue 11: multi-Region primary keys are created now (tests/kms/test_multi_region.py).


def test_create_key_with_malformed_policy(kms: Kms) -> None:
    with aws_error("MalformedPolicyDocumentException"):
        kms.create_key(Policy="{not json")
    no_principal = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    )
    with aws_error("MalformedPolicyDocumentException"):
        kms.create_key(Policy=no_principal)
    assert _no_keys(kms)


def test_create_key_with_policy_over_32_kb_is_a_limit(kms: Kms) -> None:
    statements = [
        {
            "Sid": f"Statement{i}",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
        for i in range(400)
    ]
    with aws_error("LimitExceededException"):
        kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    assert _no_keys(kms)


def test_create_key_with_invalid_tags_leaves_no_key(kms: Kms, store: SqliteStore) -> None:
    with aws_error("TagException", "Tags beginning with aws: are reserved"):
        kms.create_key(Tags=[{"TagKey": "aws:team", "TagValue": "x"}])
    with aws_error("TagException", "Duplicate tag keys"):
        kms.create_key(Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "a", "TagValue": "2"}])
    assert _no_keys(kms)
    assert store.list_keys(ACCOUNT, REGION, None, 10) == []


def test_describe_key_by_each_spelling(kms: Kms) -> None:
    metadata = kms.create_key()
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    kms("CreateAlias", AliasName="alias/payroll", TargetKeyId=key_id)
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/payroll"
    for spelling in (key_id, key_id.upper(), arn, "alias/payroll", alias_arn):
        assert kms("DescribeKey", KeyId=spelling)["KeyMetadata"] == metadata


def test_describe_key_not_found_messages(kms: Kms) -> None:
    missing = "1234abcd-12ab-34cd-56ef-1234567890ab"
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{missing}' does not exist"):
        kms("DescribeKey", KeyId=missing)
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/{missing}' does not exist"):
        kms("DescribeKey", KeyId=f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/{missing}")
    with aws_error("NotFoundException", f"Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/nothing is not found."):
        kms("DescribeKey", KeyId="alias/nothing")
    with aws_error("NotFoundException", "Invalid keyId 'not-a-key'"):
        kms("DescribeKey", KeyId="not-a-key")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:kms:us-east-1:111122223333",
        "arn:aws:s3:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:1111:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:us-east-1:111122223333:key/not-a-uuid",
        "arn:aws:kms:us-east-1:111122223333:grant/1234",
        "arn:nope:kms:us-east-1:111122223333:alias/x",
    ],
)
def test_describe_key_with_malformed_arn(kms: Kms, arn: str) -> None:
    with aws_error("InvalidArnException", f"Invalid arn {arn}"):
        kms("DescribeKey", KeyId=arn)


def test_a_key_lives_in_one_account_and_region(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    elsewhere = kms.as_caller(caller_for(region="eu-west-1"))
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key_id}' does not exist"):
        elsewhere("DescribeKey", KeyId=key_id)
    with aws_error("NotFoundException", "Invalid arn us-east-1"):
        elsewhere("DescribeKey", KeyId=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{key_id}")
    other_account = kms.as_caller(caller_for(OTHER_ACCOUNT))
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/{key_id}' does not exist"):
        other_account("DescribeKey", KeyId=key_id)
    assert other_account("ListKeys")["Keys"] == []


def test_describe_key_across_accounts_with_a_full_arn(kms: Kms) -> None:
    # DescribeKey is allowed across accounts when the key policy allows the other account.
    shared = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", OTHER_ACCOUNT]},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    metadata = kms.create_key(Policy=json.dumps(shared))
    kms("CreateAlias", AliasName="alias/shared", TargetKeyId=metadata["KeyId"])
    other_account = kms.as_caller(caller_for(OTHER_ACCOUNT))
    assert other_account("DescribeKey", KeyId=metadata["Arn"])["KeyMetadata"]["KeyId"] == metadata["KeyId"]
    alias_arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/shared"
    assert other_account("DescribeKey", KeyId=alias_arn)["KeyMetadata"]["KeyId"] == metadata["KeyId"]
    private = kms.create_key()
    message = (
        f"User: arn:aws:iam::{OTHER_ACCOUNT}:root is not authorized to perform: kms:DescribeKey on resource: "
        f"{private['Arn']} because no resource-based policy allows the kms:DescribeKey action"
    )
    with aws_error("AccessDeniedException", message):
        other_account("DescribeKey", KeyId=private["Arn"])


def test_operations_that_are_not_cross_account_do_not_reach_other_accounts_keys(kms: Kms) -> None:
    arn = kms.create_key()["Arn"]
    key_id = arn.rsplit("/", 1)[1]
    other_account = kms.as_caller(caller_for(OTHER_ACCOUNT))
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:key/{key_id}' does not exist"):
        other_account("DisableKey", KeyId=arn)
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_list_keys_pages_with_markers(kms: Kms) -> None:
    created = sorted(kms.create_key()["KeyId"] for _ in range(5))
    first = kms("ListKeys", Limit=2)
    assert first["Truncated"] is True
    assert [entry["KeyId"] for entry in first["Keys"]] == created[:2]
    assert first["Keys"][0]["KeyArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{created[0]}"
    second = kms("ListKeys", Limit=2, Marker=first["NextMarker"])
    assert [entry["KeyId"] for entry in second["Keys"]] == created[2:4]
    last = kms("ListKeys", Limit=2, Marker=second["NextMarker"])
    assert [entry["KeyId"] for entry in last["Keys"]] == created[4:]
    assert last["Truncated"] is False
    assert "NextMarker" not in last
    everything = kms("ListKeys")
    assert [entry["KeyId"] for entry in everything["Keys"]] == created
    assert everything["Truncated"] is False


def test_list_keys_exact_page_has_no_next_marker(kms: Kms) -> None:
    for _ in range(2):
        kms.create_key()
    page = kms("ListKeys", Limit=2)
    assert page["Truncated"] is False
    assert "NextMarker" not in page


@pytest.mark.parametrize("marker", ["garbage", encode_marker("aliases", "alias/x"), "%%%"])
def test_list_keys_bad_marker(kms: Kms, marker: str) -> None:
    with aws_error(
        "InvalidMarkerException",
        "The request was rejected because the marker that specifies where pagination should next begin is not valid.",
    ):
        kms("ListKeys", Marker=marker)


def test_disable_and_enable_key(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    assert kms("DisableKey", KeyId=key_id) == {}
    metadata = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (metadata["KeyState"], metadata["Enabled"]) == ("Disabled", False)
    kms("DisableKey", KeyId=key_id)  # AWS accepts disabling a disabled key
    assert kms("EnableKey", KeyId=key_id) == {}
    metadata = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert (metadata["KeyState"], metadata["Enabled"]) == ("Enabled", True)


def test_update_key_description(kms: Kms) -> None:
    key_id = kms.create_key(Description="before")["KeyId"]
    assert kms("UpdateKeyDescription", KeyId=key_id, Description="after") == {}
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["Description"] == "after"
    kms("UpdateKeyDescription", KeyId=key_id, Description="")
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["Description"] == ""


def test_lifecycle_operations_refuse_a_key_pending_deletion(kms: Kms) -> None:
    metadata = kms.create_key()
    kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"], PendingWindowInDays=7)
    for operation, extra in (
        ("EnableKey", {}),
        ("DisableKey", {}),
        ("UpdateKeyDescription", {"Description": "x"}),
    ):
        with aws_error("KMSInvalidStateException", f"{metadata['Arn']} is pending deletion."):
            kms(operation, KeyId=metadata["KeyId"], **extra)


def test_creation_date_comes_from_the_clock(kms: Kms, clock: ManualClock) -> None:
    clock.advance(timedelta(days=3))
    assert kms.create_key()["CreationDate"] == clock.now()
