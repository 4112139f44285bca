"""A key in a PKCS#11 token makes exactly the blobs a key kmsd holds makes, and opens theirs.

Checked twice: against a stand-in session that runs AES-GCM with ``cryptography`` (the blob layout, the
nonce, the AAD), and against SoftHSM2 itself with an AES key of known value created in the token, so that
``CKM_AES_GCM`` as kmsd drives it (nonce, AAD, 128-bit tag) is the AES-GCM ``cryptography`` computes.  The
SoftHSM2 half runs in a child process with its own SOFTHSM2_CONF, because a PKCS#11 module reads its
configuration once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kmsd.crypto import CiphertextBlob, CryptoError, SeededRandomSource, SymmetricKey
from kmsd.hsm import TokenAead, TokenSession
from tests.helpers.softhsm import new_softhsm

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
MATERIAL = bytes(range(32))
PIN = "kmsd-user-pin"


class StandInSession(TokenSession):
    """A TokenSession whose "token" is ``cryptography``'s AES-GCM under a known key."""

    def __init__(self, material: bytes) -> None:
        self._aead = AESGCM(material)

    def encrypt(self, object_label: str, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        assert object_label == KEY_ID
        return self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, object_label: str, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, sealed, aad)
        except Exception:
            raise CryptoError() from None


def test_token_blobs_and_kmsd_blobs_are_one_format() -> None:
    token_key = SymmetricKey(TokenAead(StandInSession(MATERIAL), KEY_ID), KEY_ID, 1)
    held_key = SymmetricKey(MATERIAL, KEY_ID, 1)
    rng = SeededRandomSource(3)
    context = {"tenant": "t-1"}
    from_token = token_key.encrypt(b"payload", context, rng)
    assert held_key.decrypt(CiphertextBlob.decode(from_token), context) == b"payload"
    from_kmsd = held_key.encrypt(b"payload", context, rng)
    assert token_key.decrypt(CiphertextBlob.decode(from_kmsd), context) == b"payload"
    with pytest.raises(CryptoError):
        token_key.decrypt(CiphertextBlob.decode(from_kmsd), {"tenant": "t-2"})
    other_version = SymmetricKey(MATERIAL, KEY_ID, 2).encrypt(b"payload", context, rng)
    with pytest.raises(CryptoError):
        token_key.decrypt(CiphertextBlob.decode(other_version), context)


_IN_SOFTHSM = """
import sys
import pkcs11
from pkcs11 import Attribute, KeyType, ObjectClass
from kmsd.crypto import CiphertextBlob, CryptoError, SystemRandomSource, SymmetricKey
from kmsd.hsm import TokenAead, TokenSession

module, label, pin, key_id = sys.argv[1:5]
material = bytes(range(32))
raw = pkcs11.lib(module).get_token(token_label=label).open(rw=True, user_pin=pin)
raw.create_object({
    Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES, Attribute.VALUE: material,
    Attribute.LABEL: key_id, Attribute.TOKEN: False, Attribute.ENCRYPT: True, Attribute.DECRYPT: True,
})
session = TokenSession(raw, label)
token_key, held_key = SymmetricKey(TokenAead(session, key_id), key_id, 1), SymmetricKey(material, key_id, 1)
rng, context = SystemRandomSource(), {"purpose": "known answer"}
for size in (0, 1, 16, 4096):
    plaintext = bytes(size)
    assert held_key.decrypt(CiphertextBlob.decode(token_key.encrypt(plaintext, context, rng)), context) == plaintext
    assert token_key.decrypt(CiphertextBlob.decode(held_key.encrypt(plaintext, context, rng)), context) == plaintext
tampered = bytearray(held_key.encrypt(b"x", context, rng))
tampered[-1] ^= 1
try:
    token_key.decrypt(CiphertextBlob.decode(bytes(tampered)), context)
except CryptoError:
    pass
else:
    raise AssertionError("a tampered blob opened in the token")
session.close()
print("same AES-GCM")
"""


def test_softhsm_runs_the_aes_gcm_cryptography_runs(tmp_path: Path) -> None:
    softhsm = new_softhsm(tmp_path)
    softhsm.init_token("cluster-kmsdtokenkat", PIN)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, **softhsm.env, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", _IN_SOFTHSM, softhsm.module, "cluster-kmsdtokenkat", PIN, KEY_ID],
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "same AES-GCM"
