"""Nitro Enclaves attestation documents: what verifies, and every way a document fails (one AttestationError).

The documents come from :mod:`tests.helpers.enclave`, which signs them with a
test PKI exactly as the Nitro Secure Module signs them (COSE_Sign1, ES384);
the checks follow AWS's published validation process
(aws-nitro-enclaves-nsm-api, ``docs/attestation_process.md``), section by
section.  A real document of an AWS Nitro enclave
(``vectors/nitro_attestation_document_2024-09-10.b64``) verifies under the
embedded AWS root at its own time.
"""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kmsd.crypto.attestation import AttestationError, TrustRoot, verify_attestation_document
from tests.helpers.enclave import Enclave, NitroPki, cose_sign1


@pytest.fixture(scope="module")
def pki() -> NitroPki:
    return NitroPki()


@pytest.fixture(scope="module")
def enclave(pki: NitroPki) -> Enclave:
    return Enclave(pki)


def verify(document: bytes, pki: NitroPki) -> object:
    return verify_attestation_document(document, TrustRoot.from_pem(pki.root_pem()), datetime.now(UTC))


def test_the_embedded_aws_root_is_the_published_one() -> None:
    # AWS Nitro Enclaves User Guide, "Verifying the root of trust": the root's SHA-256 fingerprint.
    root = TrustRoot.aws_nitro_enclaves().certificate
    assert root.fingerprint(hashes.SHA256()).hex().upper() == (
        "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B"
    )
    root.verify_directly_issued_by(root)
    assert root.subject.rfc4514_string() == "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"


@pytest.mark.parametrize("tagged", [True, False])
def test_a_signed_document_verifies_tagged_or_not(pki: NitroPki, enclave: Enclave, tagged: bool) -> None:
    attestation = verify_attestation_document(
        enclave.document(tagged=tagged, nonce=b"n" * 16), TrustRoot.from_pem(pki.root_pem()), datetime.now(UTC)
    )
    assert attestation.pcrs == enclave.pcrs
    assert attestation.module_id.startswith("i-")
    assert attestation.nonce == b"n" * 16
    assert attestation.user_data is None
    assert attestation.public_key == enclave.public_key_der()
    assert attestation.recipient_key().public_numbers() == enclave.key.public_key().public_numbers()


def test_a_tampered_payload_or_signature_fails(pki: NitroPki, enclave: Enclave) -> None:
    document = bytearray(enclave.document())
    # The signature is the last 96 bytes; the payload ends just before its 2-byte header.
    for index in (len(document) - 1, len(document) - 100):
        tampered = bytearray(document)
        tampered[index] ^= 0x01
        with pytest.raises(AttestationError):
            verify(bytes(tampered), pki)
    # A payload with other PCRs, under the original signature.
    structure = cbor2.loads(bytes(document)).value
    forged = cbor2.dumps(enclave.payload(pcrs={0: bytes(48)}))
    with pytest.raises(AttestationError):
        verify(cbor2.dumps([structure[0], {}, forged, structure[3]]), pki)


def test_another_root_fails(enclave: Enclave) -> None:
    with pytest.raises(AttestationError, match="trusted root"):
        verify(enclave.document(), NitroPki())
    with pytest.raises(AttestationError, match="trusted root"):
        verify_attestation_document(enclave.document(), TrustRoot.aws_nitro_enclaves(), datetime.now(UTC))


def test_a_chain_signed_by_another_key_fails(pki: NitroPki, enclave: Enclave) -> None:
    # The bundle names the trusted root, but the intermediate was issued by another PKI's root.
    other = NitroPki()
    bundle = [pki.cabundle()[0], other.cabundle()[1]]
    document = cose_sign1(
        cbor2.dumps(enclave.payload(cabundle=bundle, certificate=other.leaf.public_bytes(serialization.Encoding.DER))),
        other.leaf_key,
    )
    with pytest.raises(AttestationError, match="does not verify"):
        verify(document, pki)


def test_an_expired_certificate_fails() -> None:
    expired = NitroPki(expired_leaf=True)
    with pytest.raises(AttestationError, match="not valid at this time"):
        verify(Enclave(expired).document(), expired)


@pytest.mark.parametrize(
    "overrides",
    [
        {"digest": "SHA256"},
        {"module_id": ""},
        {"timestamp": 0},
        {"pcrs": {}},
        {"pcrs": {32: bytes(48)}},
        {"pcrs": {0: bytes(47)}},
        {"cabundle": []},
        {"public_key": b""},
        {"user_data": bytes(513)},
        {"nonce": "text"},
    ],
)
def test_fields_out_of_their_bounds_fail(pki: NitroPki, enclave: Enclave, overrides: dict[str, object]) -> None:
    with pytest.raises(AttestationError):
        verify(enclave.document(**overrides), pki)


def test_malformed_structures_fail(pki: NitroPki, enclave: Enclave) -> None:
    document = enclave.document()
    for malformed in (b"", b"doc", document + b"\x00", cbor2.dumps([1, 2, 3]), cbor2.dumps(cbor2.CBORTag(98, []))):
        with pytest.raises(AttestationError):
            verify(malformed, pki)
    # Signed with another algorithm than ES384 in the protected header.
    structure = list(cbor2.loads(document).value)
    structure[0] = cbor2.dumps({1: -7})
    with pytest.raises(AttestationError, match="ES384"):
        verify(cbor2.dumps(structure), pki)


def test_a_document_without_a_usable_rsa_key_has_no_recipient_key(pki: NitroPki, enclave: Enclave) -> None:
    without = verify_attestation_document(
        enclave.document(public_key=None), TrustRoot.from_pem(pki.root_pem()), datetime.now(UTC)
    )
    with pytest.raises(AttestationError):
        without.recipient_key()
    ec_key = ec.generate_private_key(ec.SECP384R1()).public_key()
    der = ec_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(AttestationError):
        verify_attestation_document(
            enclave.document(public_key=der), TrustRoot.from_pem(pki.root_pem()), datetime.now(UTC)
        ).recipient_key()


def test_a_trust_root_must_be_a_p384_ca_certificate(pki: NitroPki) -> None:
    with pytest.raises(AttestationError):
        TrustRoot.from_pem(b"not a certificate")
    with pytest.raises(AttestationError):
        TrustRoot.from_pem(pki.leaf.public_bytes(serialization.Encoding.PEM))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_to_a_document_is_one_attestation_error(
    pki: NitroPki, enclave: Enclave, data: st.DataObject
) -> None:
    # Whatever the bytes, the answer is a verified attestation or AttestationError, never another exception.
    document = bytearray(enclave.document())
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        index = data.draw(st.integers(min_value=0, max_value=len(document) - 1))
        document[index] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(document)))
    with contextlib.suppress(AttestationError):
        verify(bytes(document[:cut]), pki)


@settings(max_examples=300, deadline=None)
@given(document=st.binary(max_size=512))
def test_arbitrary_bytes_are_one_attestation_error(document: bytes) -> None:
    with pytest.raises(AttestationError):
        verify_attestation_document(document, TrustRoot.aws_nitro_enclaves(), datetime.now(UTC))


def test_a_real_document_of_an_aws_nitro_enclave_verifies_under_the_aws_root() -> None:
    # A document an enclave in us-east-1 obtained from the Nitro Secure Module on 2024-09-10 (published by open-source
    # verifiers as a test vector): AWS's four-level chain (root, regional, zonal, instance CA) and leaf pass every
    # check, at the document's own time, and its certificates have expired since.
    vector = Path(__file__).parent / "vectors" / "nitro_attestation_document_2024-09-10.b64"
    document = base64.b64decode(vector.read_text())
    at = datetime(2024, 9, 10, 18, 7, 58, tzinfo=UTC)
    attestation = verify_attestation_document(document, TrustRoot.aws_nitro_enclaves(), at)
    assert attestation.module_id == "i-0bbf1bfe232b8c2ce-enc0191ba35c9d1b77a"
    assert sorted(attestation.pcrs) == list(range(16))
    assert attestation.pcrs[3].hex().startswith("671ca1e328f75015b2ae")
    # Its public_key is the placeholder b"dummy": no key to answer a Recipient with.
    with pytest.raises(AttestationError):
        attestation.recipient_key()
    with pytest.raises(AttestationError, match="not valid at this time"):
        verify_attestation_document(document, TrustRoot.aws_nitro_enclaves(), datetime.now(UTC))


def test_a_certificate_with_a_negative_serial_number_is_one_attestation_error(pki: NitroPki, enclave: Enclave) -> None:
    # cryptography 51 warns (CryptographyDeprecationWarning) of a certificate RFC 5280 forbids; the tests make warnings
    # errors, so this is what a damaged document met in the property test above, and it must be AttestationError.
    leaf = bytearray(pki.leaf.public_bytes(serialization.Encoding.DER))
    version = leaf.index(bytes.fromhex("a003020102"))  # [0] EXPLICIT INTEGER 2 (v3), then the serial number
    serial_tag = version + 5
    assert leaf[serial_tag] == 0x02
    leaf[serial_tag + 2] |= 0x80  # the serial's first content byte: now negative
    with pytest.raises(AttestationError):
        verify(enclave.document(certificate=bytes(leaf)), pki)
