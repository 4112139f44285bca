"""The cryptographic KMS operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom.

Each operation is a resolver and a handler, run by :mod:`kmsd.kms.service`
after the API layer has checked the request against botocore's model (types,
required members, lengths, enums, ranges).  The resolver checks what AWS
checks before the key and finds the key (for Decrypt and ReEncrypt without
a key id, from the blob); the call is then decided; the handler checks the
key's state and usage, refuses an algorithm the key cannot use, answers
DryRun, then seals or opens a ciphertext blob with the key's cached material.  The order of the checks follows what
AWS answers first.  Every failure to open a blob (malformed, tampered, wrong
encryption context, unknown key or material generation) is the same
``InvalidCiphertextException`` with no message, as AWS answers it.

A blob that names a key which no longer exists in the caller's region (never
existed, deleted, another region) is also ``InvalidCiphertextException``:
the ciphertext cannot be decrypted here, and the answer does not depend on
why.

RSA keys with usage ENCRYPT_DECRYPT encrypt with RSAES-OAEP (SHA-1 or SHA-256):
the ciphertext is the bare OAEP output, as AWS returns it, so that anyone with
the public key from GetPublicKey can make one; Decrypt of such a ciphertext
needs the KeyId (the ciphertext names no key), takes no encryption context,
and fails as ``InvalidCiphertextException`` like any other.

ReEncrypt takes an RSA key as its source, its destination or both (ReEncrypt
API reference): the source needs ``SourceKeyId`` and its
``SourceEncryptionAlgorithm``, the destination its
``DestinationEncryptionAlgorithm`` (else InvalidKeyUsageException, as the
default SYMMETRIC_DEFAULT does not fit the key); neither takes an encryption
context (ValidationException), the plaintext must fit the destination's OAEP
limit (ValidationException), and the KeyMaterialIds are reported only for the
symmetric side.

``Recipient`` (AWS Nitro Enclaves) is verified before the call and answered
after the handler, by :mod:`kmsd.kms.recipient`.

Keys of custom key stores (origin AWS_CLOUDHSM or EXTERNAL_KEY_STORE) seal and open the same blobs
inside their PKCS#11 token (:mod:`kmsd.kms.token_keys`), and GenerateRandom
with a ``CustomKeyStoreId`` takes its bytes from that key store's token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsd.authz.authorizer import NamedKey
from kmsd.authz.permissions import Target
from kmsd.call_notes import note_event_data
from kmsd.crypto import CiphertextBlob, CryptoError
from kmsd.crypto.asymmetric import AsymmetricKey
from kmsd.crypto.key_spec import ENCRYPT_DECRYPT, default_encryption_algorithm, key_spec
from kmsd.errors import AwsError, ValidationError, constraint_violation, internal, invalid_ciphertext
from kmsd.iam.principal import Caller
from kmsd.kms import custom_key_stores, token_keys
from kmsd.kms.context import KmsContext
from kmsd.kms.key_checks import require_algorithm, require_usage
from kmsd.kms.materials import UnwrappedMaterial
from kmsd.kms.resolve import Resolved, find_key, find_key_for_ciphertext, key_of, require_enabled
from kmsd.kms.token_keys import TOKEN_ORIGINS
from kmsd.store.models import KeyRecord

# GenerateDataKey KeySpec → data key length (API reference, GenerateDataKey "KeySpec").
_DATA_KEY_BYTES = {"AES_128": 16, "AES_256": 32}

_DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."
_IGNORE_CIPHERTEXT = "IGNORE_CIPHERTEXT"


# --- resolving what each operation names -----------------------------------------------------------------


def resolve_decrypt(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    blob, key = _resolve_source(ctx, caller, params.get("CiphertextBlob"), params.get("KeyId"), params, "keyId")
    return Resolved(params, {Target.KEY: key}, blob=blob)


def resolve_re_encrypt(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    # The destination is looked up first, so that both keys are known -- and both permissions decided
    # (kms:ReEncryptOnSameKey needs both) -- before anything about the source or the ciphertext is told.
    destination = find_key(ctx, caller, params["DestinationKeyId"])
    blob, source = _resolve_source(
        ctx, caller, params.get("CiphertextBlob"), params.get("SourceKeyId"), params, "sourceKeyId"
    )
    return Resolved(params, {Target.DESTINATION_KEY: destination, Target.SOURCE_KEY: source}, blob=blob)


def resolve_generate_data_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    _data_key_length(params)
    return key_of(ctx, caller, params)


def resolve_generate_data_key_without_plaintext(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    _data_key_length(params)
    return key_of(ctx, caller, params)


# --- the operations ----------------------------------------------------------------------------------


def encrypt(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = _usable_key(resolved.key(), "Encrypt")
    algorithm = _encryption_algorithm(key, params.get("EncryptionAlgorithm"))
    if not key_spec(key.key_spec).is_symmetric_encryption:
        return _rsa_encrypt(ctx, key, algorithm, params)
    _answer_dry_run(params)
    current = _current_material(ctx, key)
    blob = current.cipher.encrypt(params["Plaintext"], params.get("EncryptionContext"), ctx.rng)
    note_event_data("keyMaterialId", current.material_id)
    return {"CiphertextBlob": blob, "KeyId": key.arn, "EncryptionAlgorithm": algorithm}


def decrypt(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    if not key_spec(key.key_spec).is_symmetric_encryption:
        return _rsa_decrypt(ctx, key, params)
    blob = _source_blob(params.get("CiphertextBlob"), resolved.blob, key)
    require_enabled(key)
    _require_encrypt_decrypt(key, "Decrypt")
    algorithm = _encryption_algorithm(key, params.get("EncryptionAlgorithm"))
    if blob is None:
        _answer_dry_run(params)
    material, plaintext = _open(ctx, key, blob, params.get("EncryptionContext"))
    _answer_dry_run(params)
    note_event_data("keyMaterialId", material.material_id)
    return {
        "KeyId": key.arn,
        "Plaintext": plaintext,
        "EncryptionAlgorithm": algorithm,
        "KeyMaterialId": material.material_id,
    }


def re_encrypt(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    destination, source = resolved.key(Target.DESTINATION_KEY), resolved.key(Target.SOURCE_KEY)
    source_symmetric = key_spec(source.key_spec).is_symmetric_encryption
    destination_symmetric = key_spec(destination.key_spec).is_symmetric_encryption
    # An RSA ciphertext is bare RSAES-OAEP output that names no key: there is no blob to read or compare.
    blob = _source_blob(params.get("CiphertextBlob"), resolved.blob, source) if source_symmetric else None
    require_enabled(source)
    _require_encrypt_decrypt(source, "ReEncrypt")
    source_algorithm = _encryption_algorithm(source, params.get("SourceEncryptionAlgorithm"))
    if not source_symmetric:
        _refuse_encryption_context(params.get("SourceEncryptionContext"))
    require_enabled(destination)
    _require_encrypt_decrypt(destination, "ReEncrypt")
    destination_algorithm = _encryption_algorithm(destination, params.get("DestinationEncryptionAlgorithm"))
    if not destination_symmetric:
        # ReEncrypt "DestinationEncryptionContext": "valid only when the destination KMS key is a symmetric
        # encryption KMS key".
        _refuse_encryption_context(params.get("DestinationEncryptionContext"))
    response: dict[str, Any] = {
        "SourceKeyId": source.arn,
        "KeyId": destination.arn,
        "SourceEncryptionAlgorithm": source_algorithm,
        "DestinationEncryptionAlgorithm": destination_algorithm,
    }
    if source_symmetric:
        if blob is None:
            _answer_dry_run(params)
        source_material, plaintext = _open(ctx, source, blob, params.get("SourceEncryptionContext"))
        # SourceKeyMaterialId: "present only when the original encryption used a symmetric encryption KMS key".
        response["SourceKeyMaterialId"] = source_material.material_id
        note_event_data("sourceKeyMaterialId", source_material.material_id)
    else:
        plaintext = _rsa_open(ctx, source, params, source_algorithm)
    if destination_symmetric:
        _answer_dry_run(params)
        current = _current_material(ctx, destination)
        response["CiphertextBlob"] = current.cipher.encrypt(
            plaintext, params.get("DestinationEncryptionContext"), ctx.rng
        )
        response["DestinationKeyMaterialId"] = current.material_id
        note_event_data("destinationKeyMaterialId", current.material_id)
    else:
        _check_rsa_plaintext(destination, destination_algorithm, plaintext)
        _answer_dry_run(params)
        response["CiphertextBlob"] = _rsa_key(ctx, destination).encrypt(plaintext, destination_algorithm)
    return response


def generate_data_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    plaintext, response = _data_key(ctx, resolved.key(), params, "GenerateDataKey")
    return {**response, "Plaintext": plaintext}


def generate_data_key_without_plaintext(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    _, response = _data_key(ctx, resolved.key(), params, "GenerateDataKeyWithoutPlaintext")
    return response


def generate_random(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    number_of_bytes = params.get("NumberOfBytes")
    if number_of_bytes is None:
        # Optional in the model, yet required by the service (API reference, GenerateRandom "NumberOfBytes").
        raise ValidationError("NumberOfBytes is required.")
    custom_key_store_id = params.get("CustomKeyStoreId")
    if custom_key_store_id is not None:
        # GenerateRandom "CustomKeyStoreId": the bytes come from the key store's HSM, which must be connected.
        return {"Plaintext": custom_key_stores.random_bytes(ctx, caller, str(custom_key_store_id), number_of_bytes)}
    return {"Plaintext": ctx.rng.bytes(number_of_bytes)}


# --- keys and their checks -----------------------------------------------------------------------------


def _usable_key(key: KeyRecord, operation: str) -> KeyRecord:
    require_enabled(key)
    _require_encrypt_decrypt(key, operation)
    return key


def _require_encrypt_decrypt(key: KeyRecord, operation: str) -> None:
    # Encrypt, Decrypt, ReEncrypt and GenerateDataKey* need a key whose KeyUsage is ENCRYPT_DECRYPT
    # (API reference, Encrypt "KeyId").
    require_usage(key, ENCRYPT_DECRYPT, operation)


def _encryption_algorithm(key: KeyRecord, requested: str | None) -> str:
    """The algorithm to use (the symmetric one when none is requested), or AWS's refusal."""
    algorithm = requested or default_encryption_algorithm()
    require_algorithm(key, algorithm, key_spec(key.key_spec).max_plaintext_bytes)
    return algorithm


# --- RSA keys ---------------------------------------------------------------------------------------------


def _rsa_encrypt(ctx: KmsContext, key: KeyRecord, algorithm: str, params: Mapping[str, Any]) -> dict[str, Any]:
    _refuse_encryption_context(params.get("EncryptionContext"))
    plaintext: bytes = params["Plaintext"]
    _check_rsa_plaintext(key, algorithm, plaintext)
    _answer_dry_run(params)
    ciphertext = _rsa_key(ctx, key).encrypt(plaintext, algorithm)
    return {"CiphertextBlob": ciphertext, "KeyId": key.arn, "EncryptionAlgorithm": algorithm}


def _check_rsa_plaintext(key: KeyRecord, algorithm: str, plaintext: bytes) -> None:
    # "Asymmetric key specs": RSAES_OAEP takes at most the modulus size - 2 * hash size - 2 bytes.
    limit = key_spec(key.key_spec).max_plaintext_bytes[algorithm]
    if len(plaintext) > limit:
        raise ValidationError(
            f"Plaintext is too long: {algorithm} with key spec {key.key_spec} takes at most {limit} bytes."
        )


def _rsa_decrypt(ctx: KmsContext, key: KeyRecord, params: Mapping[str, Any]) -> dict[str, Any]:
    require_enabled(key)
    _require_encrypt_decrypt(key, "Decrypt")
    algorithm = _encryption_algorithm(key, params.get("EncryptionAlgorithm"))
    _refuse_encryption_context(params.get("EncryptionContext"))
    plaintext = _rsa_open(ctx, key, params, algorithm)
    _answer_dry_run(params)
    return {"KeyId": key.arn, "Plaintext": plaintext, "EncryptionAlgorithm": algorithm}


def _rsa_open(ctx: KmsContext, key: KeyRecord, params: Mapping[str, Any], algorithm: str) -> bytes:
    """The plaintext of the request's RSA ciphertext; a dry run without one (IGNORE_CIPHERTEXT) is answered."""
    ciphertext: bytes | None = params.get("CiphertextBlob")
    if ciphertext is None:
        _answer_dry_run(params)
        raise invalid_ciphertext()
    try:
        return _rsa_key(ctx, key).decrypt(ciphertext, algorithm)
    except CryptoError:
        raise invalid_ciphertext() from None


def _refuse_encryption_context(encryption_context: Mapping[str, str] | None) -> None:
    # Encrypt "EncryptionContext": "An encryption context is supported only on operations with symmetric
    # encryption KMS keys."
    if encryption_context:
        raise ValidationError("EncryptionContext is not supported for asymmetric KMS keys.")


def _rsa_key(ctx: KmsContext, key: KeyRecord) -> AsymmetricKey:
    try:
        return AsymmetricKey(ctx.materials.plaintext(key.key_id, key.current_material_version))
    except CryptoError:
        raise internal() from None


def _resolve_source(
    ctx: KmsContext,
    caller: Caller,
    blob_bytes: bytes | None,
    requested_key_id: str | None,
    params: Mapping[str, Any],
    key_id_member: str,
) -> tuple[CiphertextBlob | None, NamedKey]:
    """The key that opens the blob, for Decrypt (``KeyId``) and ReEncrypt (``SourceKeyId``), and the blob if read.

    A requested key is found before the blob is read, and the blob is read only after the decision
    (:func:`_source_blob`), so that nothing about the ciphertext is told to a caller who may not use the
    key.  Without a key id, the key is the one the ciphertext names, and that is the key authorized.  A
    dry run with the IGNORE_CIPHERTEXT modifier may omit the blob and name the key.
    """
    if blob_bytes is None:
        if not (params.get("DryRun") and _IGNORE_CIPHERTEXT in (params.get("DryRunModifiers") or ())):
            raise ValidationError([constraint_violation(None, "ciphertextBlob", "Member must not be null")])
        if requested_key_id is None:
            raise ValidationError([constraint_violation(None, key_id_member, "Member must not be null")])
        return None, find_key(ctx, caller, requested_key_id)
    if requested_key_id is not None:
        return None, find_key(ctx, caller, requested_key_id)
    blob = _decode(blob_bytes)
    return blob, find_key_for_ciphertext(ctx, caller, blob.key_id)


def _source_blob(blob_bytes: bytes | None, read: CiphertextBlob | None, key: KeyRecord) -> CiphertextBlob | None:
    """The blob to open with ``key``: the one resolving read, or the request's, which must name ``key``."""
    if blob_bytes is None or read is not None:
        return read
    blob = _decode(blob_bytes)
    if key.key_id != blob.key_id:
        # API reference, Decrypt "KeyId": "If you identify a different KMS key, the Decrypt
        # operation throws an IncorrectKeyException."
        raise AwsError(
            "IncorrectKeyException",
            "The key ID in the request does not identify a CMK that can perform this operation.",
        )
    return blob


def _decode(blob_bytes: bytes) -> CiphertextBlob:
    try:
        return CiphertextBlob.decode(blob_bytes)
    except CryptoError:
        raise invalid_ciphertext() from None


def _answer_dry_run(params: Mapping[str, Any]) -> None:
    # KMS Developer Guide, "Testing your permissions": a call with DryRun always fails; when
    # everything else would have succeeded it fails with DryRunOperationException.  Decrypt and
    # ReEncrypt check the ciphertext too, unless the DryRunModifiers say IGNORE_CIPHERTEXT and no
    # ciphertext is sent (API reference, Decrypt "CiphertextBlob").
    if params.get("DryRun"):
        raise AwsError("DryRunOperationException", _DRY_RUN_MESSAGE)


# --- material and blobs ----------------------------------------------------------------------------------


def _current_material(ctx: KmsContext, key: KeyRecord) -> UnwrappedMaterial:
    if key.origin in TOKEN_ORIGINS:
        # The key lives in a PKCS#11 token and is used there.
        return token_keys.material(ctx, key)
    try:
        return ctx.materials.get(key.key_id, key.current_material_version)
    except CryptoError:
        # The key's current material must exist and unwrap; if not, the store or root key is wrong.
        raise internal() from None


def _open(
    ctx: KmsContext, key: KeyRecord, blob: CiphertextBlob | None, encryption_context: Mapping[str, str] | None
) -> tuple[UnwrappedMaterial, bytes]:
    """Open ``blob``, which names ``key`` (the resolver or :func:`_source_blob` made sure of it)."""
    if blob is None:
        # Only a DryRun with IGNORE_CIPHERTEXT comes without a blob, and it is answered before this.
        raise invalid_ciphertext()
    if key.origin in TOKEN_ORIGINS:
        token_material = token_keys.material(ctx, key)
        try:
            return token_material, token_material.cipher.decrypt(blob, encryption_context)
        except CryptoError:
            raise invalid_ciphertext() from None
    try:
        material = ctx.materials.get(blob.key_id, blob.material_version)
        return material, material.cipher.decrypt(blob, encryption_context)
    except CryptoError:
        raise invalid_ciphertext() from None


def _data_key(
    ctx: KmsContext, key: KeyRecord, params: Mapping[str, Any], operation: str
) -> tuple[bytes, dict[str, Any]]:
    length = _data_key_length(params)
    require_data_key_usable(key, operation)
    _answer_dry_run(params)
    plaintext = ctx.rng.bytes(length)
    blob, material_id = seal_data_key(ctx, key, plaintext, params.get("EncryptionContext"))
    return plaintext, {"CiphertextBlob": blob, "KeyId": key.arn, "KeyMaterialId": material_id}


def require_data_key_usable(key: KeyRecord, operation: str) -> None:
    """The key checks of GenerateDataKey* and GenerateDataKeyPair*: enabled, ENCRYPT_DECRYPT, symmetric."""
    require_enabled(key)
    _require_encrypt_decrypt(key, operation)
    if not key_spec(key.key_spec).is_symmetric_encryption:
        raise AwsError("InvalidKeyUsageException", "You cannot generate a data key with an asymmetric CMK")


def seal_data_key(
    ctx: KmsContext, key: KeyRecord, plaintext: bytes, encryption_context: Mapping[str, str] | None
) -> tuple[bytes, str]:
    """``plaintext`` sealed under the key's current material exactly as Encrypt seals it, and that material's id."""
    current = _current_material(ctx, key)
    note_event_data("keyMaterialId", current.material_id)
    return current.cipher.encrypt(plaintext, encryption_context, ctx.rng), current.material_id


def _data_key_length(params: Mapping[str, Any]) -> int:
    key_spec: str | None = params.get("KeySpec")
    number_of_bytes: int | None = params.get("NumberOfBytes")
    # API reference, GenerateDataKey: "You must also specify the length of the data key. Use either
    # the KeySpec or NumberOfBytes parameters (but not both)."
    if key_spec is not None and number_of_bytes is None:
        return _DATA_KEY_BYTES[key_spec]
    if number_of_bytes is not None and key_spec is None:
        return number_of_bytes
    raise ValidationError("Please specify either number of bytes or key spec.")
