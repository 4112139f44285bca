"""CiphertextForRecipient: a plaintext sealed to an enclave's RSA key as a CMS EnvelopedData (RFC 5652).

AWS KMS answers a request with ``Recipient`` by encrypting the plaintext to
the public key of the attestation document, as a CMS ``ContentInfo`` of type
``envelopedData``: one ``KeyTransRecipientInfo`` (version 2, identified by
subject key identifier) whose content-encryption key is wrapped with
RSAES-OAEP (SHA-256, MGF1 with SHA-256), and the content encrypted with
AES-256-CBC.  That shape is what the AWS Nitro Enclaves SDK's parser
(``aws_cms_parse_enveloped_data`` in aws-nitro-enclaves-sdk-c,
``source/cms.c``) reads: it expects EnvelopedData version 2, a version 2
recipient, RSA-OAEP with SHA-256 and AES-256-CBC.  That parser also walks
the outer structures (``ContentInfo``, its ``[0]`` content, ``EnvelopedData``
and ``EncryptedContentInfo``) header by header, which works only when they
are BER with indefinite lengths, as AWS sends them; so they are framed that
way here, and everything inside them (the recipient, the algorithms, the
encrypted content as ``[0] IMPLICIT OCTET STRING``) is DER from asn1crypto.
OpenSSL (``openssl cms -decrypt``) and asn1crypto read the result too.
The subject key identifier is RFC 5280's method 1 (the SHA-1 of the key), as
``cryptography`` computes it.  The content key and IV come from the caller's
randomness; all cryptography is ``cryptography``'s.
"""

from __future__ import annotations

from collections.abc import Callable

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric import padding as asymmetric_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_CONTENT_KEY_BYTES = 32  # AES-256
_IV_BYTES = 16
# BER: a constructed SEQUENCE and a constructed [0] with indefinite length, and the end-of-contents octets.
_SEQUENCE_INDEFINITE = b"\x30\x80"
_CONTEXT_0_INDEFINITE = b"\xa0\x80"
_END_OF_CONTENTS = b"\x00\x00"


def envelope_to_recipient(plaintext: bytes, recipient: rsa.RSAPublicKey, randomness: Callable[[int], bytes]) -> bytes:
    """``plaintext`` as a BER-encoded CMS ContentInfo of EnvelopedData that only ``recipient``'s private key opens."""
    content_key = randomness(_CONTENT_KEY_BYTES)
    iv = randomness(_IV_BYTES)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(content_key), modes.CBC(iv)).encryptor()
    encrypted_content = encryptor.update(padded) + encryptor.finalize()
    oaep = asymmetric_padding.OAEP(
        mgf=asymmetric_padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None
    )
    encrypted_key = recipient.encrypt(content_key, oaep)
    recipient_info = cms.RecipientInfo(
        name="ktri",
        value=cms.KeyTransRecipientInfo(
            {
                # RFC 5652, 6.2.1: version 2 when the recipient is named by subject key identifier.
                "version": "v2",
                "rid": cms.RecipientIdentifier(
                    name="subject_key_identifier",
                    value=core.OctetString(x509.SubjectKeyIdentifier.from_public_key(recipient).digest),
                ),
                "key_encryption_algorithm": cms.KeyEncryptionAlgorithm(
                    {
                        "algorithm": "rsaes_oaep",
                        # RFC 4055, 4.1: SHA-256 for the hash and for MGF1; the empty label is the default.
                        "parameters": algos.RSAESOAEPParams(
                            {
                                "hash_algorithm": {"algorithm": "sha256"},
                                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
                            }
                        ),
                    }
                ),
                "encrypted_key": encrypted_key,
            }
        ),
    )
    # RFC 5652, 6.1: EnvelopedData is version 2 when a recipient is (no originator info, no attributes).
    version = cms.CMSVersion("v2").dump()
    recipient_infos = cms.RecipientInfos([recipient_info]).dump()
    content_type = cms.ContentType("data").dump()
    content_algorithm = cms.EncryptionAlgorithm({"algorithm": "aes256_cbc", "parameters": core.OctetString(iv)}).dump()
    # EncryptedContentInfo.encryptedContent is [0] IMPLICIT OCTET STRING.
    content = core.OctetString(encrypted_content, implicit=0).dump()
    encrypted_content_info = _indefinite(_SEQUENCE_INDEFINITE, content_type + content_algorithm + content)
    enveloped_data = _indefinite(_SEQUENCE_INDEFINITE, version + recipient_infos + encrypted_content_info)
    enveloped_type = cms.ContentType("enveloped_data").dump()
    return _indefinite(_SEQUENCE_INDEFINITE, enveloped_type + _indefinite(_CONTEXT_0_INDEFINITE, enveloped_data))


def _indefinite(header: bytes, contents: bytes) -> bytes:
    return header + contents + _END_OF_CONTENTS
