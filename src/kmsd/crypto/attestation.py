"""AWS Nitro Enclaves attestation documents: decode, verify against a trust root, and read what they attest.

An attestation document is a ``COSE_Sign1`` structure (RFC 9052) in CBOR,
tagged 18 or not: ``[protected, unprotected, payload, signature]``, where the
protected header says ES384 (``{1: -35}``), the payload is a CBOR map
(``module_id``, ``digest``, ``timestamp``, ``pcrs``, ``certificate``,
``cabundle`` and optionally ``public_key``, ``user_data``, ``nonce``) and the
signature is ECDSA P-384 over the ``Sig_structure``
``["Signature1", protected, b"", payload]`` by the key of ``certificate``.
``cabundle`` lists the chain from the root down (``[ROOT, INTERM_1, ...,
INTERM_N]``).  :func:`verify_attestation_document` follows the validation
process AWS publishes for these documents (aws-nitro-enclaves-nsm-api,
``docs/attestation_process.md``): the syntactic checks of section 3.2.2
(mandatory fields, types, sizes, PCR indexes and lengths), then section
3.2.3: every certificate of ``[certificate, INTERM_N, ..., INTERM_1, ROOT]``
valid at the time given, each issued by the next, CA certificates marked CA
with ``keyCertSign`` and within their path length; and the COSE signature.
The root must be the configured :class:`TrustRoot`: by default AWS's public
Nitro Enclaves root (below), or one the operator names, so that documents can
be made without Nitro hardware.  Every failure raises the one opaque
:class:`AttestationError`, whose text is for logs and tests only and never
contains a secret (a document holds none).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.utils import CryptographyDeprecationWarning

# AWS Nitro Enclaves Root-G1 (CN=aws.nitro-enclaves, O=Amazon, OU=AWS, C=US; valid 2019-10-28 to 2049-10-28),
# published by AWS at https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip and named in
# the AWS Nitro Enclaves User Guide ("Verifying the root of trust").  Its SHA-256 fingerprint is
# 64:1A:03:21:A3:E2:44:EF:E4:56:46:31:95:D6:06:31:7E:D7:CD:CC:3C:17:56:E0:98:93:F3:C6:8F:79:BB:5B
# (tests/crypto/test_attestation.py checks it, and that the certificate signs itself).
AWS_NITRO_ENCLAVES_ROOT_PEM = b"""-----BEGIN CERTIFICATE-----
MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
IwLz3/Y=
-----END CERTIFICATE-----
"""

# RFC 9052 COSE_Sign1's CBOR tag, and RFC 9053's algorithm id for ECDSA with SHA-384 (ES384).
_COSE_SIGN1_TAG = 18
_ES384 = -35
_COSE_ALG = 1
_P384_COORDINATE_BYTES = 48
# Section 3.2.2.2 of the validation process: the sizes each field may have.
_PCR_LENGTHS = frozenset({32, 48, 64})
_PCR_COUNT = 32
_MAX_CERT_BYTES = 1024
_MAX_PUBLIC_KEY_BYTES = 1024
_MAX_USER_DATA_BYTES = 512
_MANDATORY = ("module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle")
_OPTIONAL = ("public_key", "user_data", "nonce")
# The recipient key must be RSA of at least this size (AWS asks the enclave for RSA_2048 in the Nitro
# Enclaves SDK's RecipientRequest documentation).
_MIN_RSA_BITS = 2048


class AttestationError(Exception):
    """The attestation document is malformed, unsigned, signed by a chain that does not verify, or expired."""


@dataclass(frozen=True)
class TrustRoot:
    """The certificate every attestation document's chain must start from."""

    certificate: x509.Certificate

    @classmethod
    def from_pem(cls, pem: bytes) -> TrustRoot:
        """The root in ``pem``; AttestationError unless it is one CA certificate with an EC P-384 key."""
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise AttestationError("the trust root is not a PEM certificate") from None
        _require_ca(certificate)
        _require_p384(certificate)
        return cls(certificate)

    @classmethod
    def aws_nitro_enclaves(cls) -> TrustRoot:
        """AWS's public Nitro Enclaves root certificate, the default."""
        return cls.from_pem(AWS_NITRO_ENCLAVES_ROOT_PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True)
class Attestation:
    """What a verified attestation document says."""

    module_id: str
    timestamp_ms: int
    pcrs: Mapping[int, bytes]
    public_key: bytes | None  # DER SubjectPublicKeyInfo, when the enclave put one in
    user_data: bytes | None
    nonce: bytes | None

    def recipient_key(self) -> rsa.RSAPublicKey:
        """The RSA key to encrypt responses to; AttestationError when the document has none that can be one."""
        if self.public_key is None:
            raise AttestationError("the attestation document has no public_key")
        try:
            key = serialization.load_der_public_key(self.public_key)
        except (ValueError, TypeError):
            raise AttestationError("public_key is not a DER SubjectPublicKeyInfo") from None
        if not isinstance(key, rsa.RSAPublicKey) or key.key_size < _MIN_RSA_BITS:
            raise AttestationError(f"public_key is not an RSA key of at least {_MIN_RSA_BITS} bits")
        return key


def verify_attestation_document(document: bytes, root: TrustRoot, now: datetime) -> Attestation:
    """The attestation in ``document`` if it verifies against ``root`` at ``now``; else AttestationError."""
    protected, payload, signature = _cose_sign1(document)
    fields = _payload_fields(payload)
    leaf = _verified_chain(fields["certificate"], fields["cabundle"], root, now)
    _verify_signature(leaf, protected, payload, signature)
    return Attestation(
        module_id=fields["module_id"],
        timestamp_ms=fields["timestamp"],
        pcrs=dict(fields["pcrs"]),
        public_key=fields.get("public_key"),
        user_data=fields.get("user_data"),
        nonce=fields.get("nonce"),
    )


# --- COSE_Sign1 ------------------------------------------------------------------------------------------


def _decode_cbor(data: bytes, what: str) -> Any:
    """One CBOR item that is all of ``data``; trailing bytes are refused, so nothing unsigned rides along."""
    stream = io.BytesIO(data)
    try:
        item = cbor2.CBORDecoder(stream).decode()
    except (cbor2.CBORDecodeError, ValueError, TypeError, OverflowError, RecursionError, EOFError):
        raise AttestationError(f"{what} is not valid CBOR") from None
    if stream.tell() != len(data):
        raise AttestationError(f"{what} has trailing bytes")
    return item


def _cose_sign1(document: bytes) -> tuple[bytes, bytes, bytes]:
    item = _decode_cbor(document, "the attestation document")
    if isinstance(item, cbor2.CBORTag):
        if item.tag != _COSE_SIGN1_TAG:
            raise AttestationError("the attestation document is not a COSE_Sign1 structure")
        item = item.value
    # cbor2 decodes the arrays and maps inside a tag as immutable ones (tuple, frozendict).
    if not isinstance(item, (list, tuple)) or len(item) != 4:
        raise AttestationError("the attestation document is not a COSE_Sign1 structure")
    protected, unprotected, payload, signature = item
    if not (isinstance(protected, bytes) and isinstance(unprotected, Mapping)):
        raise AttestationError("the COSE_Sign1 headers are malformed")
    if not (isinstance(payload, bytes) and isinstance(signature, bytes)):
        raise AttestationError("the COSE_Sign1 payload or signature is not a byte string")
    header = _decode_cbor(protected, "the protected header")
    if not isinstance(header, dict) or header.get(_COSE_ALG) != _ES384:
        raise AttestationError("the attestation document is not signed with ES384")
    if len(signature) != 2 * _P384_COORDINATE_BYTES:
        raise AttestationError("the signature is not an ES384 signature")
    return protected, payload, signature


def _verify_signature(leaf: x509.Certificate, protected: bytes, payload: bytes, signature: bytes) -> None:
    # RFC 9052, section 4.4: the signed bytes are the Sig_structure, with empty external_aad for COSE_Sign1.
    to_be_signed = cbor2.dumps(["Signature1", protected, b"", payload])
    # RFC 9053, section 2.1: an ECDSA signature is r and s, each as long as the curve's coordinates.
    r = int.from_bytes(signature[:_P384_COORDINATE_BYTES], "big")
    s = int.from_bytes(signature[_P384_COORDINATE_BYTES:], "big")
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise AttestationError("the signing certificate has no EC key")
    try:
        key.verify(encode_dss_signature(r, s), to_be_signed, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise AttestationError("the attestation document's signature does not verify") from None


# --- the payload -----------------------------------------------------------------------------------------


def _payload_fields(payload: bytes) -> dict[str, Any]:
    """The payload's fields after the checks of section 3.2.2 (every field typed and sized)."""
    fields = _decode_cbor(payload, "the attestation payload")
    if not isinstance(fields, dict) or not all(isinstance(name, str) for name in fields):
        raise AttestationError("the attestation payload is not a map of named fields")
    for name in _MANDATORY:
        if fields.get(name) is None:
            raise AttestationError(f"the attestation payload has no {name}")
    module_id, digest, timestamp = fields["module_id"], fields["digest"], fields["timestamp"]
    if not isinstance(module_id, str) or not module_id:
        raise AttestationError("module_id must be a non-empty text string")
    if digest != "SHA384":
        raise AttestationError("digest must be SHA384")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool) or timestamp <= 0:
        raise AttestationError("timestamp must be a positive integer")
    _check_pcrs(fields["pcrs"])
    certificate, cabundle = fields["certificate"], fields["cabundle"]
    if not _is_cert_bytes(certificate):
        raise AttestationError("certificate must be 1 to 1024 bytes")
    if not isinstance(cabundle, list) or not cabundle or not all(_is_cert_bytes(entry) for entry in cabundle):
        raise AttestationError("cabundle must list 1 or more certificates of 1 to 1024 bytes")
    limits = {"public_key": _MAX_PUBLIC_KEY_BYTES, "user_data": _MAX_USER_DATA_BYTES, "nonce": _MAX_USER_DATA_BYTES}
    for name in _OPTIONAL:
        if name not in fields:
            continue
        value = fields[name]
        minimum = 1 if name == "public_key" else 0
        # "No field content can be null": an optional field is absent or a byte string of its size.
        if not isinstance(value, bytes) or not minimum <= len(value) <= limits[name]:
            raise AttestationError(f"{name} must be {minimum} to {limits[name]} bytes")
    return fields


def _check_pcrs(pcrs: Any) -> None:
    if not isinstance(pcrs, dict) or not 1 <= len(pcrs) <= _PCR_COUNT:
        raise AttestationError("pcrs must map 1 to 32 registers")
    for index, value in pcrs.items():
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < _PCR_COUNT:
            raise AttestationError("a PCR index must be an integer from 0 to 31")
        if not isinstance(value, bytes) or len(value) not in _PCR_LENGTHS:
            raise AttestationError("a PCR must be 32, 48 or 64 bytes")


def _is_cert_bytes(value: Any) -> bool:
    return isinstance(value, bytes) and 1 <= len(value) <= _MAX_CERT_BYTES


# --- the certificate chain -------------------------------------------------------------------------------


def _verified_chain(certificate: bytes, cabundle: list[bytes], root: TrustRoot, now: datetime) -> x509.Certificate:
    """The signing certificate, once ``[ROOT, INTERM_1, ..., INTERM_N, certificate]`` verifies down from ``root``."""
    # The bundle starts with the root it was issued under, which must be the one this server trusts.
    if cabundle[0] != root.der:
        raise AttestationError("the cabundle does not start with the trusted root certificate")
    try:
        intermediates = [x509.load_der_x509_certificate(entry) for entry in cabundle[1:]]
        leaf = x509.load_der_x509_certificate(certificate)
    except (ValueError, CryptographyDeprecationWarning):
        # The warning is what cryptography (>= 51) says of a certificate RFC 5280 forbids, such as one with a
        # serial number that is not positive; where warnings are errors it is raised, and is a refusal too.
        raise AttestationError("a certificate of the attestation document is not DER") from None
    chain = [root.certificate, *intermediates, leaf]
    for position, current in enumerate(chain):
        # 3.2.3.1: every certificate, the root included, is within its validity period now.
        if not current.not_valid_before_utc <= now <= current.not_valid_after_utc:
            raise AttestationError("a certificate of the attestation document is not valid at this time")
        if current is leaf:
            break
        _require_ca(current, cas_below=len(chain) - position - 2)
        issued = chain[position + 1]
        try:
            issued.verify_directly_issued_by(current)
        except (ValueError, TypeError, InvalidSignature):
            raise AttestationError("the certificate chain of the attestation document does not verify") from None
    _require_signing_leaf(leaf)
    _require_p384(leaf)
    return leaf


def _require_ca(certificate: x509.Certificate, cas_below: int = 0) -> None:
    """3.2.3.2-3: a CA certificate is marked CA, may sign certificates, and allows the CAs below it."""
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise AttestationError("a CA certificate lacks basic constraints or key usage") from None
    if not constraints.ca or not usage.key_cert_sign:
        raise AttestationError("a certificate that issues others is not a CA certificate")
    if constraints.path_length is not None and cas_below > constraints.path_length:
        raise AttestationError("a CA certificate's path length constraint is exceeded")


def _require_signing_leaf(leaf: x509.Certificate) -> None:
    """3.2.3.2-3: the signing certificate is an end entity whose key may make digital signatures."""
    extensions = leaf.extensions
    try:
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise AttestationError("the signing certificate is a CA certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        if not extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            raise AttestationError("the signing certificate may not make digital signatures")
    except x509.ExtensionNotFound:
        pass


def _require_p384(certificate: x509.Certificate) -> None:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise AttestationError("a certificate of the chain does not have an EC P-384 key")
