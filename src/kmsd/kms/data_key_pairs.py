"""GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext.

Each generates a fresh asymmetric key pair of the requested ``KeyPairSpec``
(:mod:`kmsd.crypto.data_key_pair`) and seals its PKCS#8 DER private key under
a symmetric encryption KMS key exactly as Encrypt seals a plaintext, bound to
the request's EncryptionContext, so that Decrypt of ``PrivateKeyCiphertextBlob``
returns the same DER.  The checks come in the order of GenerateDataKey:
``Recipient``'s attestation document (:mod:`kmsd.kms.recipient`) before the
key is looked up; then the decision (``kms:DataKeyPairSpec`` and the encryption-context condition keys);
then the key's state, its usage (a SYMMETRIC_DEFAULT ENCRYPT_DECRYPT key, else
InvalidKeyUsageException), a KeyPairSpec kmsd cannot generate (SM2,
ML_KEM_512: answered as a spec unavailable in the Region), DryRun, and only
then the pair is generated.  The private key is never logged and appears in
no error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsd.crypto.data_key_pair import DATA_KEY_PAIR_SPECS, new_data_key_pair
from kmsd.errors import AwsError
from kmsd.iam.principal import Caller
from kmsd.kms.asymmetric_ops import answer_dry_run
from kmsd.kms.context import KmsContext
from kmsd.kms.crypto_ops import require_data_key_usable, seal_data_key
from kmsd.kms.resolve import Resolved, key_of


def resolve_generate_data_key_pair(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    return key_of(ctx, caller, params)


def generate_data_key_pair(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    private_der, response = _data_key_pair(ctx, params, resolved, "GenerateDataKeyPair")
    return {**response, "PrivateKeyPlaintext": private_der}


def generate_data_key_pair_without_plaintext(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    _, response = _data_key_pair(ctx, params, resolved, "GenerateDataKeyPairWithoutPlaintext")
    return response


def _data_key_pair(
    ctx: KmsContext, params: Mapping[str, Any], resolved: Resolved, operation: str
) -> tuple[bytes, dict[str, Any]]:
    key = resolved.key()
    require_data_key_usable(key, operation)
    spec = str(params["KeyPairSpec"])
    if spec not in DATA_KEY_PAIR_SPECS:
        # As CreateKey answers a KeySpec `cryptography` cannot do: unavailable in this Region (README).
        raise AwsError("UnsupportedOperationException", f"KeyPairSpec {spec} is not supported in this Region")
    answer_dry_run(params)
    private_der, public_der = new_data_key_pair(spec)
    blob, material_id = seal_data_key(ctx, key, private_der, params.get("EncryptionContext"))
    return private_der, {
        "PrivateKeyCiphertextBlob": blob,
        "PublicKey": public_der,
        "KeyId": key.arn,
        "KeyPairSpec": spec,
        "KeyMaterialId": material_id,
    }
