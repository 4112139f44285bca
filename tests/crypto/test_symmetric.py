"""Sealing and opening blobs with a symmetric key: round trips, and every kind of tampering fails opaquely."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmsd.crypto import (
    CiphertextBlob,
    CryptoError,
    SeededRandomSource,
    SymmetricKey,
    decrypt_symmetric,
    encrypt_symmetric,
    new_material_id,
    new_symmetric_material,
)

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KEY_ID = "0b8e4ac9-5b5d-4c1e-9f0e-7c2d3a4b5c6d"
MATERIAL = bytes(range(32))
contexts = st.dictionaries(st.text(max_size=6), st.text(max_size=6), max_size=4)


@given(st.binary(min_size=1, max_size=4096), contexts, st.integers(min_value=1, max_value=2**32 - 1))
def test_round_trip(plaintext: bytes, ctx: dict[str, str], version: int) -> None:
    data = encrypt_symmetric(MATERIAL, KEY_ID, version, plaintext, ctx, SeededRandomSource(0))
    blob = CiphertextBlob.decode(data)
    assert (blob.key_id, blob.material_version) == (KEY_ID, version)
    assert decrypt_symmetric(MATERIAL, blob, ctx) == plaintext


@given(st.binary(min_size=1, max_size=64), contexts, st.data())
def test_any_single_bit_flip_fails(plaintext: bytes, ctx: dict[str, str], data: st.DataObject) -> None:
    key = SymmetricKey(MATERIAL, KEY_ID, 1)
    sealed = bytearray(key.encrypt(plaintext, ctx, SeededRandomSource(3)))
    bit = data.draw(st.integers(min_value=0, max_value=len(sealed) * 8 - 1))
    sealed[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CryptoError):
        key.decrypt(CiphertextBlob.decode(bytes(sealed)), ctx)


@given(contexts, contexts)
def test_a_different_context_fails(encrypted_with: dict[str, str], decrypted_with: dict[str, str]) -> None:
    data = encrypt_symmetric(MATERIAL, KEY_ID, 1, b"secret", encrypted_with, SeededRandomSource(0))
    blob = CiphertextBlob.decode(data)
    if encrypted_with == decrypted_with:
        assert decrypt_symmetric(MATERIAL, blob, decrypted_with) == b"secret"
    else:
        with pytest.raises(CryptoError):
            decrypt_symmetric(MATERIAL, blob, decrypted_with)


def test_moved_boundary_context_fails() -> None:
    data = encrypt_symmetric(MATERIAL, KEY_ID, 1, b"x", {"ab": "c"}, SeededRandomSource(0))
    with pytest.raises(CryptoError):
        decrypt_symmetric(MATERIAL, CiphertextBlob.decode(data), {"a": "bc"})


def test_no_context_and_empty_context_are_interchangeable() -> None:
    data = encrypt_symmetric(MATERIAL, KEY_ID, 1, b"x", None, SeededRandomSource(0))
    assert decrypt_symmetric(MATERIAL, CiphertextBlob.decode(data), {}) == b"x"


def test_the_header_is_authenticated() -> None:
    # Re-pointing a blob at another material version (or key) with the same material must fail:
    # the header is part of the AAD, not just a lookup hint.
    blob = CiphertextBlob.decode(encrypt_symmetric(MATERIAL, KEY_ID, 2, b"x", None, SeededRandomSource(0)))
    for forged in (
        CiphertextBlob(KEY_ID, 1, blob.nonce, blob.ciphertext, blob.tag),
        CiphertextBlob(OTHER_KEY_ID, 2, blob.nonce, blob.ciphertext, blob.tag),
    ):
        with pytest.raises(CryptoError):
            decrypt_symmetric(MATERIAL, forged, None)


def test_a_key_refuses_blobs_of_another_generation() -> None:
    blob = CiphertextBlob.decode(encrypt_symmetric(MATERIAL, KEY_ID, 2, b"x", None, SeededRandomSource(0)))
    with pytest.raises(CryptoError):
        SymmetricKey(MATERIAL, KEY_ID, 1).decrypt(blob, None)


def test_wrong_material_fails() -> None:
    blob = CiphertextBlob.decode(encrypt_symmetric(MATERIAL, KEY_ID, 1, b"x", None, SeededRandomSource(0)))
    with pytest.raises(CryptoError):
        decrypt_symmetric(bytes(32), blob, None)


def test_fresh_nonce_per_encryption() -> None:
    key, rng = SymmetricKey(MATERIAL, KEY_ID, 1), SeededRandomSource(0)
    nonces = {CiphertextBlob.decode(key.encrypt(b"same", None, rng)).nonce for _ in range(50)}
    assert len(nonces) == 50


def test_new_material_and_material_id() -> None:
    rng = SeededRandomSource(5)
    assert len(new_symmetric_material(rng)) == 32
    material_id = new_material_id(rng)
    assert len(material_id) == 64 and set(material_id) <= set("0123456789abcdef")


def test_material_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        SymmetricKey(bytes(16), KEY_ID, 1)
