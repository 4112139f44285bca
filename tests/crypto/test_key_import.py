"""The import wrapping of :mod:`kmsd.crypto.key_import`: material wrapped outside with `cryptography`, the way
AWS's "Encrypt the key material" steps do it, unwraps to the same bytes, and every bad token or ciphertext is
the one opaque CryptoError."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kmsd.crypto import CryptoError, FileRootKey
from kmsd.crypto.key_import import WRAPPING_ALGORITHMS, new_import_parameters, open_import_token
from tests.crypto.import_wrapping import wrap_outside

VALID_TO = datetime(2027, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
# Tokens are bound to the key's ARN: account, Region and key id.
KEY_ARN = f"arn:aws:kms:us-east-1:111122223333:key/{KEY_ID}"


@pytest.fixture(scope="module")
def root_key() -> FileRootKey:
    return FileRootKey(os.urandom(32))


@pytest.mark.parametrize("algorithm", sorted(WRAPPING_ALGORITHMS))
def test_material_wrapped_outside_unwraps_to_the_same_bytes(root_key: FileRootKey, algorithm: str) -> None:
    parameters = new_import_parameters(root_key, KEY_ARN, algorithm, "RSA_2048", VALID_TO)
    material = os.urandom(32)
    token = open_import_token(root_key, KEY_ARN, parameters.import_token)
    assert token.valid_to == VALID_TO and token.wrapping_algorithm == algorithm
    assert token.unwrap(wrap_outside(parameters.public_key, algorithm, material)) == material


@pytest.mark.parametrize(("spec", "bits"), [("RSA_3072", 3072), ("RSA_4096", 4096)])
def test_each_wrapping_key_spec_gives_its_modulus(root_key: FileRootKey, spec: str, bits: int) -> None:
    parameters = new_import_parameters(root_key, KEY_ARN, "RSAES_OAEP_SHA_256", spec, VALID_TO)
    public_key = serialization.load_der_public_key(parameters.public_key)
    assert isinstance(public_key, rsa.RSAPublicKey) and public_key.key_size == bits
    material = os.urandom(32)
    wrapped = wrap_outside(parameters.public_key, "RSAES_OAEP_SHA_256", material)
    assert open_import_token(root_key, KEY_ARN, parameters.import_token).unwrap(wrapped) == material


def test_a_token_opens_only_for_its_key_and_root_key(root_key: FileRootKey) -> None:
    parameters = new_import_parameters(root_key, KEY_ARN, "RSAES_OAEP_SHA_256", "RSA_2048", VALID_TO)
    others = [
        KEY_ARN.replace(KEY_ID, "another-key"),
        # The same key id in another Region (a multi-Region replica) or in another account.
        KEY_ARN.replace("us-east-1", "eu-west-1"),
        KEY_ARN.replace("111122223333", "444455556666"),
        KEY_ID,
    ]
    for other in others:
        with pytest.raises(CryptoError):
            open_import_token(root_key, other, parameters.import_token)
    with pytest.raises(CryptoError):
        open_import_token(FileRootKey(os.urandom(32)), KEY_ARN, parameters.import_token)
    with pytest.raises(CryptoError):
        open_import_token(root_key, KEY_ARN, parameters.import_token[:-1] + b"\x00")


def test_a_token_does_not_show_its_private_key(root_key: FileRootKey) -> None:
    parameters = new_import_parameters(root_key, KEY_ARN, "RSAES_OAEP_SHA_256", "RSA_2048", VALID_TO)
    token = open_import_token(root_key, KEY_ARN, parameters.import_token)
    assert "private" not in repr(token) and "MII" not in repr(token)


@pytest.mark.parametrize("algorithm", sorted(WRAPPING_ALGORITHMS))
def test_material_wrapped_for_another_token_is_opaque_crypto_error(root_key: FileRootKey, algorithm: str) -> None:
    mine = new_import_parameters(root_key, KEY_ARN, algorithm, "RSA_2048", VALID_TO)
    theirs = new_import_parameters(root_key, KEY_ARN, algorithm, "RSA_2048", VALID_TO)
    wrapped = wrap_outside(theirs.public_key, algorithm, os.urandom(32))
    token = open_import_token(root_key, KEY_ARN, mine.import_token)
    for ciphertext in (wrapped, b"", b"\x00" * 300, wrapped[:256]):
        with pytest.raises(CryptoError):
            token.unwrap(ciphertext)


def test_unknown_wrapping_parameters_are_refused(root_key: FileRootKey) -> None:
    with pytest.raises(ValueError):
        new_import_parameters(root_key, KEY_ARN, "RSAES_PKCS1_V1_5", "RSA_2048", VALID_TO)
    with pytest.raises(ValueError):
        new_import_parameters(root_key, KEY_ARN, "RSAES_OAEP_SHA_256", "SM2", VALID_TO)
