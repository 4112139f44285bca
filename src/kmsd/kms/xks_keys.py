"""KMS keys in external key stores (Origin EXTERNAL_KEY_STORE): a reference to a key the operator made in the token.

AWS's rule: an external key is created in the external key manager, and
CreateKey only names it (``XksKeyId``).  In kmsd the external key manager is
the store's PKCS#11 token, so the operator makes the key there (with
``pkcs11-tool``, python-pkcs11 or the HSM's own tools) and labels it with the
XksKeyId.  CreateKey checks, in a CONNECTED store, that the token holds
exactly one secret key with that label, that it is AES-256 with encrypt and
decrypt allowed (AWS: "an AES-256 symmetric key that is enabled and performs
encryption and decryption"), and that no other KMS key of the store uses it.
The key is then used as an AWS_CLOUDHSM key is (:mod:`kmsd.kms.token_keys`),
with AWS's double encryption: CreateKey also gives the KMS key symmetric
material of its own in kmsd, which seals first, and the external key seals
the result.  kmsd never destroys the external key.

Guessed wording: XksKeyNotFoundException, XksKeyInvalidConfigurationException
and XksKeyAlreadyInUseException take the first sentence of their
documentation; ValidationException "XksKeyId is required when Origin is
EXTERNAL_KEY_STORE." and "XksKeyId is valid only when Origin is
EXTERNAL_KEY_STORE.".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsd.crypto import new_material_id
from kmsd.errors import AwsError, ValidationError
from kmsd.hsm import TokenError
from kmsd.kms.context import KmsContext
from kmsd.kms.token_keys import EXTERNAL_KEY_STORE, token_session, token_unusable
from kmsd.store.models import CustomKeyStoreRecord, KeyRecord, TokenKeyRecord


def check_request(params: Mapping[str, Any], origin: str) -> None:
    """CreateKey "XksKeyId": "required for KMS keys with an Origin value of EXTERNAL_KEY_STORE. It is not valid
    for KMS keys with any other Origin value"."""
    given = params.get("XksKeyId") is not None
    if origin == EXTERNAL_KEY_STORE and not given:
        raise ValidationError(f"XksKeyId is required when Origin is {EXTERNAL_KEY_STORE}.")
    if origin != EXTERNAL_KEY_STORE and given:
        raise ValidationError(f"XksKeyId is valid only when Origin is {EXTERNAL_KEY_STORE}.")


def reference_external_key(ctx: KmsContext, key: KeyRecord, store: CustomKeyStoreRecord, xks_key_id: str) -> None:
    """Check the external key in the store's token and record it as the key's; the caller holds the transaction."""
    if any(record.object_label == xks_key_id for record in ctx.store.list_token_keys(store.custom_key_store_id)):
        raise AwsError(
            "XksKeyAlreadyInUseException",
            "The request was rejected because the (XksKeyId) is already associated with another KMS key in this "
            "external key store.",
        )
    try:
        facts = token_session(ctx, store).key_facts(xks_key_id)
    except TokenError:
        raise token_unusable(store) from None
    if facts is None:
        raise AwsError(
            "XksKeyNotFoundException",
            "The request was rejected because the external key store proxy could not find the external key.",
        )
    if not facts.fits_aes_gcm_256:
        raise AwsError(
            "XksKeyInvalidConfigurationException",
            "The request was rejected because the external key specified by the XksKeyId parameter did not meet "
            "the configuration requirements for an external key store.",
        )
    ctx.store.insert_token_key(
        TokenKeyRecord(
            key_id=key.key_id,
            region=key.region,
            custom_key_store_id=store.custom_key_store_id,
            object_label=xks_key_id,
            material_id=new_material_id(ctx.rng),
        )
    )
