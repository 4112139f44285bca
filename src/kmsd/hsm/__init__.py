"""PKCS#11 tokens as the home of key material: the keys of custom key stores (AWS_CLOUDHSM and EXTERNAL_KEY_STORE) live
and work inside them.

:mod:`~kmsd.hsm.tokens` opens a PKCS#11 module (any vendor's; SoftHSM2 in the
tests) through the maintained ``python-pkcs11`` binding, logs in to a token
named by its label, and generates, uses and destroys AES-256 keys inside it;
:mod:`~kmsd.hsm.token_key` makes such a key the AEAD under kmsd's ciphertext
blobs, running AES-GCM in the token, so the key never leaves it.  Every failure
to use a token is a :class:`~kmsd.hsm.tokens.TokenError` carrying the
``ConnectionErrorCode`` AWS would report; a blob that does not open is the
opaque :class:`~kmsd.crypto.CryptoError`, as for keys kmsd holds itself.
"""

from kmsd.hsm.token_key import TokenAead
from kmsd.hsm.tokens import (
    MISSING_BINDING,
    KeyFacts,
    Pkcs11Module,
    TokenDirectory,
    TokenError,
    TokenSession,
    binding_available,
)

__all__ = [
    "MISSING_BINDING",
    "KeyFacts",
    "Pkcs11Module",
    "TokenAead",
    "TokenDirectory",
    "TokenError",
    "TokenSession",
    "binding_available",
]
