"""The ciphertext blob format, checked against an independent decoder written from the documented layout.

The layout (kmsd.crypto.blob's docstring): version (1) || key id as 16 UUID bytes ||
material version (uint32, big-endian) || nonce (12) || ciphertext || tag (16).
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmsd.crypto import CiphertextBlob, CryptoError, SeededRandomSource, SymmetricKey

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def independent_decode(data: bytes) -> dict[str, object]:
    """A second, minimal reader of the layout; shares no code with kmsd.crypto.blob."""
    assert len(data) >= 1 + 16 + 4 + 12 + 16
    return {
        "version": data[0],
        "key_id": str(uuid.UUID(bytes=data[1:17])),
        "material_version": int.from_bytes(data[17:21], "big"),
        "nonce": data[21:33],
        "ciphertext": data[33:-16],
        "tag": data[-16:],
    }


blobs = st.builds(
    CiphertextBlob,
    key_id=st.uuids().map(str),
    material_version=st.integers(min_value=0, max_value=2**32 - 1),
    nonce=st.binary(min_size=12, max_size=12),
    ciphertext=st.binary(max_size=64),
    tag=st.binary(min_size=16, max_size=16),
)


@given(blobs)
def test_encode_matches_the_documented_layout(blob: CiphertextBlob) -> None:
    assert independent_decode(blob.encode()) == {
        "version": 1,
        "key_id": blob.key_id,
        "material_version": blob.material_version,
        "nonce": blob.nonce,
        "ciphertext": blob.ciphertext,
        "tag": blob.tag,
    }


@given(blobs)
def test_decode_round_trips(blob: CiphertextBlob) -> None:
    assert CiphertextBlob.decode(blob.encode()) == blob


@given(st.binary(max_size=600), st.integers(min_value=1, max_value=7))
def test_blobs_from_encryption_parse_with_the_independent_decoder(plaintext: bytes, version: int) -> None:
    data = SymmetricKey(bytes(32), KEY_ID, version).encrypt(plaintext, {"k": "v"}, SeededRandomSource(1))
    fields = independent_decode(data)
    assert (fields["version"], fields["key_id"], fields["material_version"]) == (1, KEY_ID, version)
    assert len(fields["ciphertext"]) == len(plaintext)  # type: ignore[arg-type]
    assert len(data) == len(plaintext) + 49


def test_known_header_bytes() -> None:
    blob = CiphertextBlob(KEY_ID, 3, nonce=bytes(range(12)), ciphertext=b"\xaa", tag=bytes(16))
    assert blob.encode().hex() == (
        "01" + "1234abcd12ab34cd56ef1234567890ab" + "00000003" + "000102030405060708090a0b" + "aa" + "00" * 16
    )


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        bytes(48),  # one byte short of the smallest blob
        b"\x03" + bytes(60),  # unknown format version (2 names a multi-Region key, issue 11)
        b"\x00" + bytes(60),
    ],
    ids=["empty", "version-only", "short", "version-3", "version-0"],
)
def test_malformed_blobs_raise_crypto_error(data: bytes) -> None:
    with pytest.raises(CryptoError) as excinfo:
        CiphertextBlob.decode(data)
    # Opaque: the same message whatever went wrong.
    assert str(excinfo.value) == str(CryptoError())


def test_smallest_blob_has_an_empty_ciphertext() -> None:
    assert CiphertextBlob.decode(b"\x01" + bytes(48)).ciphertext == b""


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("key_id", "not-a-uuid"),
        ("key_id", KEY_ID.upper()),
        ("material_version", -1),
        ("material_version", 2**32),
        ("nonce", bytes(11)),
        ("tag", bytes(15)),
    ],
)
def test_fields_that_cannot_be_encoded_are_a_value_error(field: str, value: object) -> None:
    fields: dict[str, object] = {
        "key_id": KEY_ID,
        "material_version": 1,
        "nonce": bytes(12),
        "ciphertext": b"",
        "tag": bytes(16),
    }
    fields[field] = value
    with pytest.raises(ValueError):
        CiphertextBlob(**fields)  # type: ignore[arg-type]
