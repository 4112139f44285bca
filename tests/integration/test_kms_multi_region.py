"""Multi-Region primary keys through boto3 against a real ``kmsd serve`` (issue 11): CreateKey with
MultiRegion, ``mrk-`` ids in DescribeKey and in ciphertexts, the Region a key lives in, and
``kms:MultiRegion`` on CreateKey."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.integration.authz_world import NO_IDENTITY_POLICY, World, allow, denied, refused, running_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with running_world(tmp_path_factory.mktemp("kms-multi-region")) as built:
        yield built


def test_a_multi_region_primary_key_encrypts_and_decrypts(world: World) -> None:
    kms = world.a.kms("us-east-1")
    key = kms.create_key(MultiRegion=True)["KeyMetadata"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key["KeyId"])
    assert key["Arn"] == f"arn:aws:kms:us-east-1:{world.a.account_id}:key/{key['KeyId']}"
    assert key["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": key["Arn"], "Region": "us-east-1"},
        "ReplicaKeys": [],
    }
    assert (
        kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
        == (key["MultiRegionConfiguration"])
    )
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"across Regions")["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob)
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"across Regions", key["Arn"])
    # Without a replica, the key does not exist in another Region.
    elsewhere = world.a.kms("eu-west-1")
    assert refused(elsewhere.describe_key, KeyId=key["KeyId"]) == (
        "NotFoundException",
        f"Key 'arn:aws:kms:eu-west-1:{world.a.account_id}:key/{key['KeyId']}' does not exist",
        400,
    )
    assert refused(elsewhere.decrypt, CiphertextBlob=blob)[0] == "InvalidCiphertextException"


def test_an_unknown_mrk_id_is_not_found(world: World) -> None:
    key_id = "mrk-" + "1" * 32
    assert refused(world.a.kms("us-east-1").describe_key, KeyId=key_id) == (
        "NotFoundException",
        f"Key 'arn:aws:kms:us-east-1:{world.a.account_id}:key/{key_id}' does not exist",
        400,
    )


def test_kms_multi_region_decides_create_key(world: World) -> None:
    multi_region_only = world.a.user(allow("kms:CreateKey", condition={"Bool": {"kms:MultiRegion": "true"}}))
    assert multi_region_only.kms().create_key(MultiRegion=True)["KeyMetadata"]["MultiRegion"] is True
    assert refused(multi_region_only.kms().create_key) == denied(
        multi_region_only.arn, "kms:CreateKey", "*", NO_IDENTITY_POLICY
    )
    single_region_only = world.a.user(allow("kms:CreateKey", condition={"Bool": {"kms:MultiRegion": "false"}}))
    assert refused(single_region_only.kms().create_key, MultiRegion=True) == denied(
        single_region_only.arn, "kms:CreateKey", "*", NO_IDENTITY_POLICY
    )


def test_kms_multi_region_key_type_names_a_primary_key(world: World) -> None:
    meta = world.a.kms().create_key(MultiRegion=True)["KeyMetadata"]
    primary_arn = meta["Arn"]
    single = world.a.key()
    condition = {"StringEquals": {"kms:MultiRegionKeyType": "PRIMARY"}}
    user = world.a.user(allow("kms:Encrypt", "*", condition=condition))
    assert user.kms().encrypt(KeyId=primary_arn, Plaintext=b"p")["KeyId"] == primary_arn
    assert refused(user.kms().encrypt, KeyId=single.arn, Plaintext=b"p") == denied(
        user.arn, "kms:Encrypt", single.arn, NO_IDENTITY_POLICY
    )
