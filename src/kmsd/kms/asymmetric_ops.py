"""The operations of asymmetric keys: GetPublicKey, Sign, Verify and DeriveSharedSecret.

Each is a handler run by :mod:`kmsd.kms.service` after the key is resolved
(``key_of``: all four work across accounts) and the call decided.  The
handler checks, in the order AWS answers them, the key's state (the
"cryptographic" row of the key state table), its usage, the algorithm
against the key's :class:`~kmsd.crypto.key_spec.KeySpec`, the message, then
DryRun, and only then unwraps the private key (afresh on every call: the
material cache holds symmetric keys only) and asks
:class:`~kmsd.crypto.asymmetric.AsymmetricKey` to act.  No private key ever
leaves this module, and no error names one.

Edwards25519 keys sign a RAW message with ``ED25519_SHA_512`` (pure
Ed25519).  ``ED25519_PH_SHA_512`` takes only a DIGEST (a 64-byte SHA-512
hash); such a request passes every check and is then refused with
UnsupportedOperationException, because ``cryptography`` has no Ed25519ph.
GetPublicKey of an ML-KEM key lists its ``EncapsulationAlgorithms``.
Wordings AWS does not document, so modelled on its others: "Message type
<type> is incompatible with algorithm <algorithm>." (as others report AWS
answering it) and "SigningAlgorithm ED25519_PH_SHA_512 is not supported in
this Region" (guessed, without a full stop like AWS's "KeySpec SM2 is not supported in this Region").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsd.crypto import CryptoError
from kmsd.crypto.asymmetric import (
    DIGEST,
    ED25519_PH_SHA_512,
    ED25519_SHA_512,
    EXTERNAL_MU,
    MU_BYTES,
    RAW,
    AsymmetricKey,
    signing_scheme,
)
from kmsd.crypto.key_spec import (
    ENCAPSULATE_DECAPSULATE,
    ENCRYPT_DECRYPT,
    KEY_AGREEMENT,
    SIGN_VERIFY,
    KeySpec,
    key_spec,
)
from kmsd.errors import AwsError, ValidationError, internal
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_checks import require_algorithm, require_usage
from kmsd.kms.key_states import require_state
from kmsd.kms.resolve import Resolved
from kmsd.store.models import KeyRecord

DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."
ML_DSA_SHAKE_256 = "ML_DSA_SHAKE_256"
# The usages of asymmetric keys: the keys that have a public key.
_PUBLIC_KEY_USAGES = (ENCRYPT_DECRYPT, SIGN_VERIFY, KEY_AGREEMENT, ENCAPSULATE_DECAPSULATE)
# Sign "MessageType": "ED25519_SHA_512 signing algorithm requires KMS MessageType:RAW; ED25519_PH_SHA_512
# signing algorithm requires KMS MessageType:DIGEST".
_ED25519_MESSAGE_TYPES = {ED25519_SHA_512: RAW, ED25519_PH_SHA_512: DIGEST}
_SHA_512_BYTES = 64


def get_public_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    require_state("GetPublicKey", key)
    spec = key_spec(key.key_spec)
    if key.key_usage not in _PUBLIC_KEY_USAGES or spec.is_symmetric_encryption:
        # GetPublicKey API reference: there is no public key of a symmetric encryption or HMAC key.
        raise AwsError(
            "UnsupportedOperationException",
            f"{key.arn} key usage is {key.key_usage} which is not valid for GetPublicKey.",
        )
    response: dict[str, Any] = {
        "KeyId": key.arn,
        "PublicKey": private_key(ctx, key).public_key_der(),
        "KeySpec": key.key_spec,
        "KeyUsage": key.key_usage,
    }
    if spec.in_legacy_enum:
        response["CustomerMasterKeySpec"] = key.key_spec
    # Only the algorithms of the key's usage are returned (GetPublicKey API reference, response elements).
    if key.key_usage == ENCRYPT_DECRYPT:
        response["EncryptionAlgorithms"] = list(spec.encryption_algorithms)
    elif key.key_usage == SIGN_VERIFY:
        response["SigningAlgorithms"] = list(spec.signing_algorithms)
    elif key.key_usage == ENCAPSULATE_DECAPSULATE:
        response["EncapsulationAlgorithms"] = list(spec.encapsulation_algorithms)
    else:
        response["KeyAgreementAlgorithms"] = list(spec.key_agreement_algorithms)
    return response


def sign(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key, algorithm, message_type = _signing_request(resolved.key(), params, "Sign")
    answer_dry_run(params)
    signature = private_key(ctx, key).sign(params["Message"], message_type, algorithm)
    return {"KeyId": key.arn, "Signature": signature, "SigningAlgorithm": algorithm}


def verify(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key, algorithm, message_type = _signing_request(resolved.key(), params, "Verify")
    answer_dry_run(params)
    try:
        private_key(ctx, key).verify(params["Message"], message_type, algorithm, params["Signature"])
    except CryptoError:
        # Verify API reference: "If the signature is not verified, the Verify operation fails with a
        # KMSInvalidSignatureException exception."
        raise AwsError("KMSInvalidSignatureException") from None
    return {"KeyId": key.arn, "SignatureValid": True, "SigningAlgorithm": algorithm}


def derive_shared_secret(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    key = resolved.key()
    require_state("DeriveSharedSecret", key)
    require_usage(key, KEY_AGREEMENT, "DeriveSharedSecret")
    algorithm = str(params["KeyAgreementAlgorithm"])
    require_algorithm(key, algorithm, key_spec(key.key_spec).key_agreement_algorithms)
    answer_dry_run(params)
    try:
        secret = private_key(ctx, key).derive_shared_secret(params["PublicKey"])
    except CryptoError:
        # DeriveSharedSecret "PublicKey": a DER SubjectPublicKeyInfo on the key's own curve.
        raise ValidationError(f"PublicKey is not a valid public key for KeySpec {key.key_spec}.") from None
    return {
        "KeyId": key.arn,
        "SharedSecret": secret,
        "KeyAgreementAlgorithm": algorithm,
        "KeyOrigin": key.origin,
    }


# --- checks shared by the asymmetric and HMAC operations -------------------------------------------------


def answer_dry_run(params: Mapping[str, Any]) -> None:
    # "Testing your permissions": a DryRun call that would succeed fails with DryRunOperationException.
    if params.get("DryRun"):
        raise AwsError("DryRunOperationException", DRY_RUN_MESSAGE)


def private_key(ctx: KmsContext, key: KeyRecord) -> AsymmetricKey:
    try:
        return AsymmetricKey(ctx.materials.plaintext(key.key_id, key.current_material_version))
    except CryptoError:
        # A key's current material must exist and unwrap; if not, the store or the root key is wrong.
        raise internal() from None


def _signing_request(key: KeyRecord, params: Mapping[str, Any], operation: str) -> tuple[KeyRecord, str, str]:
    """The checks Sign and Verify share: state, usage, algorithm, message type and digest length."""
    require_state(operation, key)
    require_usage(key, SIGN_VERIFY, operation)
    spec: KeySpec = key_spec(key.key_spec)
    algorithm = str(params["SigningAlgorithm"])
    require_algorithm(key, algorithm, spec.signing_algorithms)
    # Sign "MessageType": "The default value is RAW."  ML-DSA keys take RAW or EXTERNAL_MU (a 64-byte mu),
    # the others RAW or DIGEST.
    message_type = str(params.get("MessageType") or RAW)
    if algorithm in _ED25519_MESSAGE_TYPES:
        _check_ed25519(params["Message"], message_type, algorithm)
        return key, algorithm, message_type
    ml_dsa = ML_DSA_SHAKE_256 in spec.signing_algorithms
    if message_type not in ((RAW, EXTERNAL_MU) if ml_dsa else (RAW, DIGEST)):
        raise ValidationError(f"MessageType {message_type} is not valid for key spec {key.key_spec}.")
    if message_type == EXTERNAL_MU and len(params["Message"]) != MU_BYTES:
        raise ValidationError(f"EXTERNAL_MU message must be {MU_BYTES} bytes for algorithm {algorithm}.")
    # Sign "Message": with DIGEST, "the length of the Message value must match the length of hashed
    # messages for the specified signing algorithm".  RAW messages are at most 4096 bytes (the model's max).
    if message_type == DIGEST and len(params["Message"]) != signing_scheme(algorithm).digest_bytes:
        raise ValidationError(f"Digest is invalid length for algorithm {algorithm}.")
    return key, algorithm, message_type


def _check_ed25519(message: bytes, message_type: str, algorithm: str) -> None:
    if message_type != _ED25519_MESSAGE_TYPES[algorithm]:
        raise ValidationError(f"Message type {message_type} is incompatible with algorithm {algorithm}.")
    if algorithm == ED25519_PH_SHA_512:
        # The digest ED25519_PH_SHA_512 takes is a SHA-512 hash (Sign "MessageType", DIGEST).
        if len(message) != _SHA_512_BYTES:
            raise ValidationError(f"Digest is invalid length for algorithm {algorithm}.")
        # Ed25519ph (RFC 8032 HashEdDSA) is not in `cryptography` 51, and kmsd builds no primitive itself.
        raise AwsError("UnsupportedOperationException", f"SigningAlgorithm {algorithm} is not supported in this Region")
