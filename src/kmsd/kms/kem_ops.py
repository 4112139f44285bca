"""Key encapsulation with ML-KEM keys: Encapsulate and Decapsulate.

Both are handlers run by :mod:`kmsd.kms.service` after the key is resolved
(``key_of``: "Cross-account use: Yes") and the call decided (``kms:Encapsulate``
/ ``kms:Decapsulate`` in the key policy, or a grant for the operation).  The
handler checks, in the order of the other cryptographic operations, the key's
state, its usage (``ENCAPSULATE_DECAPSULATE``, else InvalidKeyUsageException),
the algorithm against the key's spec (``ML_KEM``, the only value botocore's
model allows), for Decapsulate the ciphertext's length, then DryRun, and only
then unwraps the private key (afresh, as for the other asymmetric keys).

Encapsulate returns a fresh 32-byte shared secret and its ciphertext, made
with the key's public key, exactly what anyone holding the public key from
GetPublicKey can make outside.  Decapsulate API reference: it "returns an
InvalidCiphertextException when the length of the SharedSecretCiphertextBlob
is inconsistent with the ML-KEM key spec.  In all other cases, Decapsulate
returns a 32-byte pseudo-random value" (FIPS 203's implicit rejection), so
a ciphertext altered or made for another key is no error.  The shared
secret appears in no log and no error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsd.crypto import CryptoError
from kmsd.crypto.key_spec import ENCAPSULATE_DECAPSULATE, key_spec
from kmsd.errors import internal, invalid_ciphertext
from kmsd.iam.principal import Caller
from kmsd.kms.asymmetric_ops import answer_dry_run, private_key
from kmsd.kms.context import KmsContext
from kmsd.kms.key_checks import require_algorithm, require_usage
from kmsd.kms.key_states import require_state
from kmsd.kms.resolve import Resolved
from kmsd.store.models import KeyRecord

# Encapsulate "SharedSecretCiphertextBlob": "the encapsulated shared secret is 768 bytes for ML_KEM_512, 1088
# bytes for ML_KEM_768, and 1568 bytes for ML_KEM_1024".
CIPHERTEXT_BYTES = {"ML_KEM_512": 768, "ML_KEM_768": 1088, "ML_KEM_1024": 1568}


def encapsulate(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key, algorithm = _kem_request(resolved.key(), params, "Encapsulate")
    answer_dry_run(params)
    try:
        secret, ciphertext = private_key(ctx, key).encapsulate()
    except CryptoError:
        # The material of an ML-KEM key is an ML-KEM private key; anything else is a damaged store.
        raise internal() from None
    return {
        "KeyId": key.arn,
        "SharedSecret": secret,
        "SharedSecretCiphertextBlob": ciphertext,
        "EncapsulationAlgorithm": algorithm,
    }


def decapsulate(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key, algorithm = _kem_request(resolved.key(), params, "Decapsulate")
    ciphertext: bytes = params["SharedSecretCiphertextBlob"]
    if len(ciphertext) != CIPHERTEXT_BYTES[key.key_spec]:
        raise invalid_ciphertext()
    answer_dry_run(params)
    try:
        secret = private_key(ctx, key).decapsulate(ciphertext)
    except CryptoError:
        raise invalid_ciphertext() from None
    return {"KeyId": key.arn, "SharedSecret": secret, "EncapsulationAlgorithm": algorithm}


def _kem_request(key: KeyRecord, params: Mapping[str, Any], operation: str) -> tuple[KeyRecord, str]:
    """The checks Encapsulate and Decapsulate share: state, usage, algorithm."""
    require_state(operation, key)
    require_usage(key, ENCAPSULATE_DECAPSULATE, operation)
    algorithm = str(params["EncapsulationAlgorithm"])
    require_algorithm(key, algorithm, key_spec(key.key_spec).encapsulation_algorithms)
    return key, algorithm
