"""HMAC keys through boto3 against a real ``kmsd serve``: GenerateMac and VerifyMac, KMSInvalidMacException,
the 4096-byte message limit, and a denied GenerateMac with AWS's text that a grant then allows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.authz_world import NO_IDENTITY_POLICY, World, denied, refused, running_world
from tests.integration.stores import Stores


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("kms-hmac")) as built:
        yield built


@pytest.mark.parametrize("bits", [224, 256, 384, 512])
def test_generate_and_verify_mac(world: World, bits: int) -> None:
    kms = world.a.kms()
    key = kms.create_key(KeySpec=f"HMAC_{bits}", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    assert key["MacAlgorithms"] == [f"HMAC_SHA_{bits}"]
    algorithm = f"HMAC_SHA_{bits}"
    mac = kms.generate_mac(KeyId=key["KeyId"], Message=b"m" * 4096, MacAlgorithm=algorithm)["Mac"]
    assert len(mac) == bits // 8
    verified = kms.verify_mac(KeyId=key["KeyId"], Message=b"m" * 4096, MacAlgorithm=algorithm, Mac=mac)
    assert verified["MacValid"] is True
    assert refused(kms.verify_mac, KeyId=key["KeyId"], Message=b"x", MacAlgorithm=algorithm, Mac=mac)[0] == (
        "KMSInvalidMacException"
    )
    # GenerateMac "Message": up to 4096 bytes.
    assert refused(kms.generate_mac, KeyId=key["KeyId"], Message=b"m" * 4097, MacAlgorithm=algorithm)[0] == (
        "ValidationException"
    )


def test_generate_mac_is_denied_with_aws_text_and_allowed_by_a_grant(world: World) -> None:
    key = world.a.kms().create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    user = world.a.user()
    call = {"KeyId": key["Arn"], "Message": b"m", "MacAlgorithm": "HMAC_SHA_256"}
    assert refused(user.kms().generate_mac, **call) == denied(
        user.arn, "kms:GenerateMac", key["Arn"], NO_IDENTITY_POLICY
    )
    token = world.a.kms().create_grant(KeyId=key["KeyId"], GranteePrincipal=user.arn, Operations=["GenerateMac"])[
        "GrantToken"
    ]
    mac = user.kms().generate_mac(**call, GrantTokens=[token])["Mac"]
    assert world.a.kms().verify_mac(**call, Mac=mac)["MacValid"] is True
    # HMAC keys cannot be rotated (EnableKeyRotation: symmetric encryption keys only).
    assert refused(world.a.kms().enable_key_rotation, KeyId=key["Arn"])[0] == "UnsupportedOperationException"
