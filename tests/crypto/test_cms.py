"""CiphertextForRecipient's CMS EnvelopedData: OpenSSL opens it, and its shape is the one AWS's SDK parses.

``openssl cms -decrypt`` (an implementation independent of kmsd) recovers the
plaintext; asn1crypto reads the structure back and finds what the AWS Nitro
Enclaves SDK's parser (aws-nitro-enclaves-sdk-c, ``source/cms.c``) requires:
EnvelopedData and recipient version 2, RSAES-OAEP with SHA-256 and MGF1-SHA-256,
AES-256-CBC, and outer structures with indefinite lengths.
"""

from __future__ import annotations

import os

import pytest
from asn1crypto import cms
from cryptography import x509

from kmsd.crypto.cms import envelope_to_recipient
from tests.helpers.enclave import Enclave, NitroPki


@pytest.fixture(scope="module")
def enclave() -> Enclave:
    return Enclave(NitroPki())


@pytest.mark.parametrize("plaintext", [b"", b"x", bytes(range(16)), os.urandom(4096)])
def test_openssl_decrypts_it(enclave: Enclave, plaintext: bytes) -> None:
    assert enclave.open(envelope_to_recipient(plaintext, enclave.key.public_key(), os.urandom)) == plaintext


def test_the_structure_is_the_one_the_nitro_enclaves_sdk_reads(enclave: Enclave) -> None:
    encoded = envelope_to_recipient(b"secret", enclave.key.public_key(), os.urandom)
    # ContentInfo, its [0] content, EnvelopedData: constructed, indefinite length (the SDK reads them header by header).
    assert encoded[:2] == b"\x30\x80"
    info = cms.ContentInfo.load(encoded)
    assert info["content_type"].native == "enveloped_data"
    enveloped = info["content"]
    assert enveloped["version"].native == "v2"
    (recipient,) = enveloped["recipient_infos"]
    ktri = recipient.chosen
    assert ktri["version"].native == "v2"
    assert ktri["rid"].name == "subject_key_identifier"
    assert ktri["rid"].native == x509.SubjectKeyIdentifier.from_public_key(enclave.key.public_key()).digest
    algorithm = ktri["key_encryption_algorithm"].native
    assert algorithm["algorithm"] == "rsaes_oaep"
    assert algorithm["parameters"]["hash_algorithm"]["algorithm"] == "sha256"
    assert algorithm["parameters"]["mask_gen_algorithm"]["parameters"]["algorithm"] == "sha256"
    content = enveloped["encrypted_content_info"]
    assert content["content_type"].native == "data"
    assert content["content_encryption_algorithm"]["algorithm"].native == "aes256_cbc"
    assert len(content["content_encryption_algorithm"]["parameters"].native) == 16
    # AES-CBC with PKCS#7 padding: "secret" fills one block.
    assert len(content["encrypted_content"].native) == 16


def test_each_envelope_has_a_fresh_content_key(enclave: Enclave) -> None:
    first = envelope_to_recipient(b"same", enclave.key.public_key(), os.urandom)
    second = envelope_to_recipient(b"same", enclave.key.public_key(), os.urandom)
    assert first != second
