"""The key spec table (kmsd.crypto.key_spec) against botocore's KMS model and AWS's "Key spec reference"."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from kmsd.crypto.key_spec import (
    ENCRYPTION_ALGORITHMS,
    KEY_SPECS,
    SYMMETRIC_DEFAULT,
    default_encryption_algorithm,
    default_key_spec,
    key_spec,
)

# botocore's KMS model, as kmsd ships it.
MODEL = json.loads(resources.files("kmsd.api").joinpath("models/kms.json").read_text("utf-8"))


def _enum(shape: str) -> set[str]:
    return set(MODEL["shapes"][shape]["enum"])


def test_there_is_one_spec_per_key_spec_of_the_model() -> None:
    assert set(KEY_SPECS) == _enum("KeySpec")
    assert {name for name, spec in KEY_SPECS.items() if spec.in_legacy_enum} == _enum("CustomerMasterKeySpec")


def test_the_encryption_algorithms_are_the_models() -> None:
    assert _enum("EncryptionAlgorithmSpec") == ENCRYPTION_ALGORITHMS


def test_every_signing_mac_and_key_agreement_algorithm_of_the_model_belongs_to_a_spec() -> None:
    specs = KEY_SPECS.values()
    assert {name for spec in specs for name in spec.signing_algorithms} == _enum("SigningAlgorithmSpec")
    assert {name for spec in specs for name in spec.mac_algorithms} == _enum("MacAlgorithmSpec")
    assert {name for spec in specs for name in spec.key_agreement_algorithms} == _enum("KeyAgreementAlgorithmSpec")
    assert {name for spec in specs for name in spec.encapsulation_algorithms} == _enum("EncapsulationAlgorithmSpec")


def test_every_usage_is_a_usage_of_the_model() -> None:
    usages = {usage for spec in KEY_SPECS.values() for usage in spec.key_usages}
    assert usages == _enum("KeyUsageType")


def test_each_usage_comes_with_its_algorithms() -> None:
    # "Key spec reference": a usage is only offered with the algorithms that serve it.
    for spec in KEY_SPECS.values():
        assert ("ENCRYPT_DECRYPT" in spec.key_usages) == bool(spec.encryption_algorithms), spec.name
        assert ("SIGN_VERIFY" in spec.key_usages) == bool(spec.signing_algorithms), spec.name
        assert ("GENERATE_VERIFY_MAC" in spec.key_usages) == bool(spec.mac_algorithms), spec.name
        assert ("KEY_AGREEMENT" in spec.key_usages) == bool(spec.key_agreement_algorithms), spec.name
        assert ("ENCAPSULATE_DECAPSULATE" in spec.key_usages) == bool(spec.encapsulation_algorithms), spec.name


def test_symmetric_default_is_the_default_and_kmsd_creates_the_specs_cryptography_implements() -> None:
    assert default_key_spec() is SYMMETRIC_DEFAULT is key_spec("SYMMETRIC_DEFAULT")
    assert default_encryption_algorithm() == "SYMMETRIC_DEFAULT"
    # Issue 11: every spec `cryptography` 51 implements is created; the README lists the two that are not.
    assert [name for name, spec in KEY_SPECS.items() if not spec.creatable] == ["SM2", "ML_KEM_512"]
    assert SYMMETRIC_DEFAULT.key_usages == ("ENCRYPT_DECRYPT",)
    assert SYMMETRIC_DEFAULT.is_symmetric_encryption
    assert not key_spec("HMAC_256").is_symmetric_encryption


@pytest.mark.parametrize(
    ("name", "algorithm", "limit"),
    [
        # Encrypt API reference, "Plaintext": symmetric keys take up to 4096 bytes.
        ("SYMMETRIC_DEFAULT", "SYMMETRIC_DEFAULT", 4096),
        # "Asymmetric key specs", "RSA key specs for encryption and decryption".
        ("RSA_2048", "RSAES_OAEP_SHA_1", 214),
        ("RSA_2048", "RSAES_OAEP_SHA_256", 190),
        ("RSA_3072", "RSAES_OAEP_SHA_1", 342),
        ("RSA_3072", "RSAES_OAEP_SHA_256", 318),
        ("RSA_4096", "RSAES_OAEP_SHA_1", 470),
        ("RSA_4096", "RSAES_OAEP_SHA_256", 446),
        ("SM2", "SM2PKE", 1024),
    ],
)
def test_largest_plaintexts(name: str, algorithm: str, limit: int) -> None:
    assert key_spec(name).max_plaintext_bytes[algorithm] == limit
    assert key_spec(name).supports_encryption_algorithm(algorithm)


def test_algorithms_of_the_families() -> None:
    assert key_spec("ECC_NIST_P384").signing_algorithms == ("ECDSA_SHA_384",)
    assert key_spec("ECC_SECG_P256K1").key_usages == ("SIGN_VERIFY",)
    assert key_spec("HMAC_512").mac_algorithms == ("HMAC_SHA_512",)
    assert key_spec("ML_DSA_65").signing_algorithms == ("ML_DSA_SHAKE_256",)
    assert key_spec("SM2").key_usages == ("ENCRYPT_DECRYPT", "SIGN_VERIFY", "KEY_AGREEMENT")
    assert not key_spec("RSA_2048").supports_encryption_algorithm("SYMMETRIC_DEFAULT")


def test_only_symmetric_encryption_keys_rotate_and_the_kinds_of_update_alias() -> None:
    # "Rotate AWS KMS keys": automatic and on-demand rotation are for symmetric encryption keys only.
    assert [name for name, spec in KEY_SPECS.items() if spec.rotatable] == ["SYMMETRIC_DEFAULT"]
    # UpdateAlias: both symmetric encryption keys, or neither.
    assert SYMMETRIC_DEFAULT.same_kind(SYMMETRIC_DEFAULT)
    assert not SYMMETRIC_DEFAULT.same_kind(key_spec("RSA_2048"))
    assert key_spec("RSA_2048").same_kind(key_spec("ECC_NIST_P256"))
