"""CiphertextForRecipient's CMS EnvelopedData: OpenSSL opens it, and its shape is the one AWS's SDK parses.

``openssl cms -decrypt`` (an implementation independent of kmsd) recovers the
plaintext; asn1crypto reads the structure back and finds what the AWS Nitro
Enclaves SDK's parser (aws-nitro-enclaves-sdk-c, ``source/cms.c``) requires:
EnvelopedData and recipient version 2, RSAES-OAEP with SHA-256 and MGF1-SHA-256,
AES-256-CBC, and outer structures with indefinite lengths; and a reader that
takes the bytes exactly as that parser does recovers the plaintext too.
"""

from __future__ import annotations

import os

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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


def _header(data: bytes, pos: int) -> tuple[int, int, int | None]:
    """The tag byte at ``pos``, the header's length, and the content length (None: indefinite)."""
    tag, first = data[pos], data[pos + 1]
    if first == 0x80:
        return tag, 2, None
    if first < 0x80:
        return tag, 2, first
    count = first & 0x7F
    return tag, 2 + count, int.from_bytes(data[pos + 2 : pos + 2 + count], "big")


def _read_like_the_nitro_enclaves_sdk(data: bytes) -> tuple[bytes, bytes, bytes]:
    """The encrypted key, IV and ciphertext, read in the order and manner of ``aws_cms_parse_enveloped_data``.

    That parser (aws-nitro-enclaves-sdk-c, ``source/cms.c``) takes the ContentInfo SEQUENCE, its [0] and the
    EnvelopedData SEQUENCE header by header (which only an indefinite length allows), then reads whole elements.
    """
    pos = 0

    def header_only(tag: int) -> None:
        nonlocal pos
        found, header, length = _header(data, pos)
        assert (found, length) == (tag, None), "the SDK reads this element header by header"
        pos += header

    def whole(tag: int) -> bytes:
        nonlocal pos
        found, header, length = _header(data, pos)
        assert found == tag and length is not None
        contents = data[pos + header : pos + header + length]
        pos += header + length
        return contents

    header_only(0x30)  # ContentInfo
    assert whole(0x06) == bytes.fromhex("2a864886f70d010703")  # id-envelopedData
    header_only(0xA0)  # [0] content
    header_only(0x30)  # EnvelopedData
    assert whole(0x02) == b"\x02"  # ENVELOPED_DATA_VERSION
    recipient_infos = whole(0x31)
    _, header, _ = _header(recipient_infos, 0)  # the one KeyTransRecipientInfo
    ktri, inner = recipient_infos[header:], 0
    fields = []
    while inner < len(ktri):
        tag, header, length = _header(ktri, inner)
        assert length is not None
        fields.append((tag, ktri[inner + header : inner + header + length]))
        inner += header + length
    (version_tag, version), (rid_tag, _), (algorithm_tag, _), (key_tag, encrypted_key) = fields
    assert (version_tag, version, rid_tag, algorithm_tag, key_tag) == (0x02, b"\x02", 0x80, 0x30, 0x04)
    header_only(0x30)  # EncryptedContentInfo
    assert whole(0x06) == bytes.fromhex("2a864886f70d010701")  # id-data
    algorithm = whole(0x30)
    assert algorithm[:11] == bytes.fromhex("060960864801650304012a")  # aes256-CBC (2.16.840.1.101.3.4.1.42)
    iv = algorithm[11 + 2 :]
    return encrypted_key, iv, whole(0x80)  # [0] IMPLICIT OCTET STRING, primitive


def test_the_nitro_enclaves_sdks_reading_decrypts_it(enclave: Enclave) -> None:
    # The SDK's decryption: RSA-OAEP with SHA-256 and MGF1-SHA-256 for the key, then AES-256-CBC.
    plaintext = os.urandom(100)
    encrypted_key, iv, ciphertext = _read_like_the_nitro_enclaves_sdk(
        envelope_to_recipient(plaintext, enclave.key.public_key(), os.urandom)
    )
    oaep = asymmetric_padding.OAEP(mgf=asymmetric_padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    content_key = enclave.key.decrypt(encrypted_key, oaep)
    decryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    assert unpadder.update(padded) + unpadder.finalize() == plaintext
