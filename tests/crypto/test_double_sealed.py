"""DoubleSealed: the inner cipher seals first, the outer seals the inner blob, and both are needed to open."""

from __future__ import annotations

import pytest

from kmsd.crypto import CiphertextBlob, CryptoError, SymmetricKey
from kmsd.crypto.double_sealed import DoubleSealed
from kmsd.crypto.randomness import SystemRandomSource

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
CONTEXT = {"purpose": "test"}


def test_both_layers_are_needed_and_bind_the_context() -> None:
    rng = SystemRandomSource()
    inner, outer = SymmetricKey(b"\x01" * 32, KEY_ID, 1), SymmetricKey(b"\x02" * 32, KEY_ID, 1)
    sealed = DoubleSealed(inner, outer).encrypt(b"secret", CONTEXT, rng)
    blob = CiphertextBlob.decode(sealed)
    assert blob.key_id == KEY_ID and blob.material_version == 1
    assert DoubleSealed(inner, outer).decrypt(blob, CONTEXT) == b"secret"
    # The outer layer alone gives the inner blob, not the plaintext.
    inner_blob = CiphertextBlob.decode(outer.decrypt(blob, CONTEXT))
    assert b"secret" not in inner_blob.encode()
    assert inner.decrypt(inner_blob, CONTEXT) == b"secret"
    for wrong in (DoubleSealed(outer, outer), DoubleSealed(inner, inner)):
        with pytest.raises(CryptoError):
            wrong.decrypt(blob, CONTEXT)
    with pytest.raises(CryptoError):
        DoubleSealed(inner, outer).decrypt(blob, {"purpose": "other"})
