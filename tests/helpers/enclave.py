"""A stand-in for an AWS Nitro enclave: its PKI, its signed attestation documents, and its private key.

:class:`NitroPki` is a three-level chain built like AWS's (an EC P-384 root,
an intermediate, and a leaf that signs documents); the server is started with
``--attestation-root`` naming :meth:`NitroPki.root_pem`.  :class:`Enclave`
holds an RSA key pair and PCRs, and makes attestation documents as the Nitro
Secure Module does: a ``COSE_Sign1`` (RFC 9052) in CBOR, protected header
``{1: -35}`` (ES384), the payload map of the Nitro Enclaves attestation
document, and an ECDSA P-384 signature (r || s) over the ``Sig_structure``.
Each document is built here, with ``cbor2`` and ``cryptography``, and never by
the code under test.  :meth:`Enclave.open` decrypts a ``CiphertextForRecipient``
with the ``openssl cms`` command, an implementation independent of kmsd's.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

ES384 = -35


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "kmsd tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool,
    expired: bool = False,
) -> x509.Certificate:
    # Validity is a window around the present (or one that has ended), so no test depends on the exact time.
    now = datetime.now(UTC)
    not_before, not_after = (
        (now - timedelta(days=3), now - timedelta(days=1))
        if expired
        else (now - timedelta(days=1), now + timedelta(days=1))
    )
    issuer_name, issuer_key = issuer if issuer is not None else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA384())


@dataclass
class NitroPki:
    """A root, an intermediate and a document-signing leaf, all EC P-384, like AWS's Nitro Enclaves PKI."""

    expired_leaf: bool = False
    root_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    intermediate_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1())
    )
    leaf_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))

    def __post_init__(self) -> None:
        self.root = _certificate("test.nitro-enclaves", self.root_key, None, ca=True)
        self.intermediate = _certificate(
            "intermediate.test.nitro-enclaves", self.intermediate_key, (self.root.subject, self.root_key), ca=True
        )
        self.leaf = _certificate(
            "i-0123456789abcdef0-enc0123456789abcdef.test",
            self.leaf_key,
            (self.intermediate.subject, self.intermediate_key),
            ca=False,
            expired=self.expired_leaf,
        )

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def cabundle(self) -> list[bytes]:
        return [cert.public_bytes(serialization.Encoding.DER) for cert in (self.root, self.intermediate)]


def cose_sign1(payload: bytes, key: ec.EllipticCurvePrivateKey, *, tagged: bool = True) -> bytes:
    """``payload`` signed as a COSE_Sign1 with ES384, as the Nitro Secure Module signs it."""
    protected = cbor2.dumps({1: ES384})
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    r, s = decode_dss_signature(key.sign(to_be_signed, ec.ECDSA(hashes.SHA384())))
    signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
    structure = [protected, {}, payload, signature]
    return cbor2.dumps(cbor2.CBORTag(18, structure) if tagged else structure)


@dataclass
class Enclave:
    """An enclave image with its measurements (PCRs) and the RSA key pair it receives answers with."""

    pki: NitroPki
    image: bytes = b"enclave image"
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    @property
    def pcrs(self) -> dict[int, bytes]:
        # PCR0 is the image's SHA-384 (ImageSha384); PCR1 and PCR2 differ from it; PCR8 is all zeros, as for an
        # unsigned image.
        return {
            0: hashlib.sha384(self.image).digest(),
            1: hashlib.sha384(b"kernel " + self.image).digest(),
            2: hashlib.sha384(b"application " + self.image).digest(),
            8: bytes(48),
        }

    def public_key_der(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def payload(self, **overrides: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "module_id": "i-0123456789abcdef0-enc0123456789abcdef",
            "digest": "SHA384",
            "timestamp": int(datetime.now(UTC).timestamp() * 1000),
            "pcrs": self.pcrs,
            "certificate": self.pki.leaf.public_bytes(serialization.Encoding.DER),
            "cabundle": self.pki.cabundle(),
            "public_key": self.public_key_der(),
            "user_data": None,
            "nonce": None,
        }
        fields.update(overrides)
        # The Nitro Secure Module leaves absent optional fields out (None here means "leave it out").
        return {name: value for name, value in fields.items() if value is not None}

    def document(self, *, tagged: bool = True, **overrides: Any) -> bytes:
        return cose_sign1(cbor2.dumps(self.payload(**overrides)), self.pki.leaf_key, tagged=tagged)

    def recipient(self, document: bytes | None = None) -> dict[str, Any]:
        return {
            "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256",
            "AttestationDocument": self.document() if document is None else document,
        }

    def open(self, ciphertext_for_recipient: bytes) -> bytes:
        """The plaintext of a CiphertextForRecipient, decrypted by ``openssl cms`` with the enclave's key."""
        with tempfile.TemporaryDirectory() as directory:
            key_path, message_path = Path(directory) / "key.pem", Path(directory) / "message.ber"
            key_path.write_bytes(
                self.key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
            message_path.write_bytes(ciphertext_for_recipient)
            # Without -recip, openssl tries the key on each recipient (here the one, named by key identifier).
            opened = subprocess.run(
                ["openssl", "cms", "-decrypt", "-inform", "DER", "-in", str(message_path), "-inkey", str(key_path)],
                capture_output=True,
                check=True,
                timeout=30,
            )
        return opened.stdout
