"""Multi-Region primary keys (issue 11): CreateKey with MultiRegion, ``mrk-`` key ids, their ciphertexts."""

from __future__ import annotations

import re

import pytest

from kmsd.crypto.blob import CiphertextBlob

from .aws_errors import aws_error
from .conftest import ACCOUNT, REGION, Kms, caller_for

_MRK = re.compile(r"^mrk-[0-9a-f]{32}$")


def test_a_multi_region_key_has_an_mrk_id_and_its_configuration(kms: Kms) -> None:
    metadata = kms.create_key(MultiRegion=True, Description="global")
    key_id = metadata["KeyId"]
    assert _MRK.match(key_id)
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    assert metadata["Arn"] == arn
    assert metadata["MultiRegion"] is True
    assert metadata["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": arn, "Region": REGION},
        "ReplicaKeys": [],
    }
    described = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert described == metadata
    assert kms("DescribeKey", KeyId=arn)["KeyMetadata"]["KeyId"] == key_id


def test_a_single_region_key_has_no_multi_region_configuration(kms: Kms) -> None:
    metadata = kms.create_key(MultiRegion=False)
    assert metadata["MultiRegion"] is False
    assert "MultiRegionConfiguration" not in metadata


@pytest.mark.parametrize(
    ("spec", "usage"),
    [("RSA_2048", "SIGN_VERIFY"), ("ECC_NIST_P256", "SIGN_VERIFY"), ("HMAC_256", "GENERATE_VERIFY_MAC")],
)
def test_asymmetric_and_hmac_keys_can_be_multi_region(kms: Kms, spec: str, usage: str) -> None:
    metadata = kms.create_key(MultiRegion=True, KeySpec=spec, KeyUsage=usage)
    assert _MRK.match(metadata["KeyId"])
    assert metadata["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"


def test_a_multi_region_key_for_imported_material_waits_for_it(kms: Kms) -> None:
    # "Importing key material into multi-Region keys": multi-Region keys may have imported material.
    metadata = kms.create_key(MultiRegion=True, Origin="EXTERNAL")
    assert _MRK.match(metadata["KeyId"])
    assert metadata["KeyState"] == "PendingImport"


def test_ciphertexts_of_a_multi_region_key_name_it_and_decrypt(kms: Kms) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyId"]
    blob = kms("Encrypt", KeyId=key_id, Plaintext=b"secret", EncryptionContext={"a": "b"})["CiphertextBlob"]
    assert CiphertextBlob.decode(blob).key_id == key_id
    decrypted = kms("Decrypt", CiphertextBlob=blob, EncryptionContext={"a": "b"})
    assert decrypted["Plaintext"] == b"secret"
    assert decrypted["KeyId"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    assert kms("Decrypt", CiphertextBlob=blob, KeyId=key_id, EncryptionContext={"a": "b"})["Plaintext"] == b"secret"


def test_an_unknown_mrk_id_is_not_found_not_malformed(kms: Kms) -> None:
    # Issue 11: "a bare mrk- id ... for an unknown one AWS answers NotFound "Key '<arn>' does not exist"".
    key_id = "mrk-" + "0" * 32
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}' does not exist"):
        kms("DescribeKey", KeyId=key_id)
    arn = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}"
    with aws_error("NotFoundException", f"Key '{arn}' does not exist"):
        kms("DescribeKey", KeyId=arn)


def test_a_multi_region_key_is_regional_like_any_other(kms: Kms) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyId"]
    elsewhere = kms.as_caller(caller_for(region="eu-west-1"))
    with aws_error("NotFoundException", f"Key 'arn:aws:kms:eu-west-1:{ACCOUNT}:key/{key_id}' does not exist"):
        elsewhere("DescribeKey", KeyId=key_id)


def test_multi_region_blobs_round_trip_and_stay_distinct_from_uuid_blobs() -> None:
    mrk = "mrk-" + "ab" * 16
    blob = CiphertextBlob(key_id=mrk, material_version=3, nonce=b"\0" * 12, ciphertext=b"x", tag=b"\1" * 16)
    encoded = blob.encode()
    assert encoded[0] == 2
    assert CiphertextBlob.decode(encoded) == blob
    uuid_blob = CiphertextBlob.decode(b"\x01" + encoded[1:])
    assert uuid_blob.key_id != mrk and not uuid_blob.key_id.startswith("mrk-")
    with pytest.raises(ValueError):
        CiphertextBlob(key_id="mrk-ABAB", material_version=1, nonce=b"\0" * 12, ciphertext=b"", tag=b"\1" * 16)


def test_a_rotated_multi_region_key_decrypts_its_older_ciphertexts(kms: Kms) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyId"]
    old = kms("Encrypt", KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    kms("RotateKeyOnDemand", KeyId=key_id)
    new = kms("Encrypt", KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert CiphertextBlob.decode(new).material_version == CiphertextBlob.decode(old).material_version + 1
    assert kms("Decrypt", CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms("Decrypt", CiphertextBlob=new)["Plaintext"] == b"after"


def test_a_multi_region_primary_without_replicas_can_be_scheduled_for_deletion(kms: Kms) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyId"]
    scheduled = kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    assert (scheduled["KeyId"], scheduled["KeyState"]) == (
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key_id}",
        "PendingDeletion",
    )
    kms("CancelKeyDeletion", KeyId=key_id)
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_aliases_and_grants_name_a_multi_region_key(kms: Kms) -> None:
    key_id = kms.create_key(MultiRegion=True)["KeyId"]
    kms("CreateAlias", AliasName="alias/global", TargetKeyId=key_id)
    blob = kms("Encrypt", KeyId="alias/global", Plaintext=b"p")["CiphertextBlob"]
    assert CiphertextBlob.decode(blob).key_id == key_id
    aliases = kms("ListAliases", KeyId=key_id)["Aliases"]
    assert [alias["AliasName"] for alias in aliases] == ["alias/global"]
    grant = kms("CreateGrant", KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:root", Operations=["Decrypt"])
    grants = kms("ListGrants", KeyId=key_id)["Grants"]
    assert [g["GrantId"] for g in grants] == [grant["GrantId"]]
