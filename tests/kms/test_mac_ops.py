"""GenerateMac and VerifyMac on HMAC keys: MACs equal the ones `cryptography` computes from the same key
material, a wrong MAC is KMSInvalidMacException, and AWS's refusals come in AWS's order."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, hmac

from kmsd.errors import AwsError
from tests.kms.conftest import Kms

_HASHES = {"224": hashes.SHA224, "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def refusal(kms: Kms, operation: str, **params: Any) -> tuple[str, str]:
    with pytest.raises(AwsError) as raised:
        kms(operation, **params)
    return raised.value.code, raised.value.message


@pytest.mark.parametrize("bits", ["224", "256", "384", "512"])
def test_macs_match_cryptography_under_the_key_material(kms: Kms, bits: str) -> None:
    key = kms.create_key(KeySpec=f"HMAC_{bits}", KeyUsage="GENERATE_VERIFY_MAC")
    assert key["MacAlgorithms"] == [f"HMAC_SHA_{bits}"]
    algorithm = f"HMAC_SHA_{bits}"
    response = kms("GenerateMac", KeyId=key["KeyId"], Message=b"message", MacAlgorithm=algorithm)
    assert (response["KeyId"], response["MacAlgorithm"]) == (key["Arn"], algorithm)
    material = kms.service.context.materials.plaintext(key["KeyId"], 1)
    assert len(material) == int(bits) // 8
    expected = hmac.HMAC(material, _HASHES[bits]())
    expected.update(b"message")
    assert response["Mac"] == expected.finalize()
    verified = kms("VerifyMac", KeyId=key["KeyId"], Message=b"message", MacAlgorithm=algorithm, Mac=response["Mac"])
    assert verified == {"KeyId": key["Arn"], "MacValid": True, "MacAlgorithm": algorithm}


def test_a_wrong_mac_is_kms_invalid_mac(kms: Kms) -> None:
    key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyId"]
    mac = kms("GenerateMac", KeyId=key_id, Message=b"m", MacAlgorithm="HMAC_SHA_256")["Mac"]
    params = {"KeyId": key_id, "MacAlgorithm": "HMAC_SHA_256"}
    assert refusal(kms, "VerifyMac", Message=b"other", Mac=mac, **params)[0] == "KMSInvalidMacException"
    assert refusal(kms, "VerifyMac", Message=b"m", Mac=mac[:-1], **params)[0] == "KMSInvalidMacException"


def test_mac_refusals_follow_aws_order(kms: Kms) -> None:
    arn = kms.create_key(KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")["Arn"]
    assert refusal(kms, "GenerateMac", KeyId=arn, Message=b"m", MacAlgorithm="HMAC_SHA_256") == (
        "InvalidKeyUsageException",
        "Algorithm HMAC_SHA_256 is incompatible with key spec HMAC_384.",
    )
    assert refusal(kms, "GenerateMac", KeyId=arn, Message=b"m", MacAlgorithm="HMAC_SHA_384", DryRun=True)[0] == (
        "DryRunOperationException"
    )
    kms("DisableKey", KeyId=arn)
    assert refusal(kms, "GenerateMac", KeyId=arn, Message=b"m", MacAlgorithm="HMAC_SHA_384") == (
        "DisabledException",
        f"{arn} is disabled.",
    )
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["Arn"]
    assert refusal(kms, "GenerateMac", KeyId=signing, Message=b"m", MacAlgorithm="HMAC_SHA_256") == (
        "InvalidKeyUsageException",
        f"{signing} key usage is SIGN_VERIFY which is not valid for GenerateMac.",
    )
    assert (
        refusal(
            kms,
            "Encrypt",
            KeyId=kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["Arn"],
            Plaintext=b"x",
        )[0]
        == "InvalidKeyUsageException"
    )


@pytest.mark.parametrize(
    ("spec", "usage"),
    [
        ("HMAC_256", "SIGN_VERIFY"),
        ("RSA_2048", "KEY_AGREEMENT"),
        ("ECC_SECG_P256K1", "KEY_AGREEMENT"),
        ("ECC_NIST_P256", "ENCRYPT_DECRYPT"),
        ("RSA_2048", "GENERATE_VERIFY_MAC"),
    ],
)
def test_create_key_refuses_a_usage_the_spec_does_not_have(kms: Kms, spec: str, usage: str) -> None:
    assert refusal(kms, "CreateKey", KeySpec=spec, KeyUsage=usage) == (
        "ValidationException",
        f"KeyUsage {usage} is not compatible with KeySpec {spec}",
    )
    assert kms("ListKeys")["Keys"] == []


@pytest.mark.parametrize("spec", ["RSA_2048", "ECC_NIST_P256", "HMAC_256"])
def test_create_key_needs_a_key_usage_for_a_key_that_is_not_symmetric(kms: Kms, spec: str) -> None:
    assert refusal(kms, "CreateKey", KeySpec=spec) == (
        "ValidationException",
        f"You must specify a KeyUsage value for a KMS key with KeySpec {spec}.",
    )


def test_key_material_of_new_keys_is_stored_wrapped(kms: Kms) -> None:
    key_id = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyId"]
    record = kms.service.context.store.get_key_material(key_id, 1)
    assert record is not None
    plaintext = kms.service.context.materials.plaintext(key_id, 1)
    assert plaintext not in record.wrapped_material
