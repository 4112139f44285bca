"""KMS keys in custom key stores: their AES-256 key is used inside the PKCS#11 token of their key store.

A key with Origin AWS_CLOUDHSM has a key kmsd made in the token; a key with
Origin EXTERNAL_KEY_STORE references a key the operator made there
(:mod:`kmsd.kms.xks_keys`).  Both are recorded in ``token_keys`` and used alike,
except that an external key store's key also has material of its own in kmsd,
which seals first (:class:`~kmsd.crypto.double_sealed.DoubleSealed`, AWS's
double encryption).

CreateKey in a connected key store generates the key in the token (private,
sensitive, not extractable, labelled with the key id) and records which
token object belongs to the key (``token_keys``).  Encrypt, Decrypt,
ReEncrypt and GenerateDataKey* seal and open kmsd's usual ciphertext blobs
with AES-GCM running in the token (a :class:`~kmsd.crypto.SymmetricKey` on a :class:`kmsd.hsm.TokenAead`), so a blob
names its key and Decrypt needs no KeyId.

"Key states of AWS KMS keys": a key in a custom key store that was
disconnected is ``Unavailable`` (cryptographic operations answer
KMSInvalidStateException "<key ARN> is unavailable.") and returns to its
previous state, Enabled or Disabled, when the store is connected again; a
key pending deletion stays PendingDeletion.  kmsd stores that state: the
disconnect sets it and remembers the previous one in ``token_keys``, the
connect restores it, and EnableKey / DisableKey on an unavailable key change
only the remembered state ("enabling and disabling an unavailable KMS key
does not change its key state. The enable or disable action takes effect
only when the key becomes available", "Troubleshooting a custom key store").

When a key's deletion window ends, the purge destroys the token object of an
AWS_CLOUDHSM key if the key store is connected (an external key is the
operator's, and AWS never deletes it); a disconnected store is not logged in to, and
its object stays in the token, as AWS leaves "orphaned key material" in a
cluster ("DeleteCustomKeyStore").

Guessed wording (no AWS text found): KMSInvalidStateException "<key ARN> is
unavailable: the token of its custom key store <id> cannot be used." when a
connected store's token cannot be used from this process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kmsd.crypto import CiphertextBlob, CryptoError, RandomSource, SymmetricKey, new_material_id
from kmsd.crypto.double_sealed import DoubleSealed
from kmsd.crypto.symmetric import BlobCipher
from kmsd.errors import AwsError
from kmsd.hsm import TokenAead, TokenError, TokenSession
from kmsd.kms.context import KmsContext
from kmsd.kms.materials import UnwrappedMaterial
from kmsd.store.models import CustomKeyStoreRecord, KeyRecord, TokenKeyRecord

AWS_CLOUDHSM = "AWS_CLOUDHSM"
EXTERNAL_KEY_STORE = "EXTERNAL_KEY_STORE"
# The origins (and custom key store types) whose keys live in a token.
TOKEN_ORIGINS = frozenset({AWS_CLOUDHSM, EXTERNAL_KEY_STORE})
CONNECTED = "CONNECTED"
UNAVAILABLE = "Unavailable"


class TokenCallOffLoop(Exception):
    """A call running on the event loop would wait for a PKCS#11 token; the API runs it again on a thread."""


def password_purpose(custom_key_store_id: str) -> bytes:
    """What a key store's wrapped password is bound to: its key store."""
    return f"kmsd/custom-key-store-password/{custom_key_store_id}".encode()


def token_session(ctx: KmsContext, store: CustomKeyStoreRecord) -> TokenSession:
    """This process's logged-in session on the store's token (TokenError when it cannot log in)."""
    pin = ctx.root_key.unwrap(store.wrapped_key_store_password, password_purpose(store.custom_key_store_id))
    return ctx.tokens.session(store.token_label, pin.decode(), store.wrapped_key_store_password)


def create_in_token(ctx: KmsContext, key: KeyRecord, store: CustomKeyStoreRecord) -> None:
    """Generate the key's AES-256 key in the store's token and record it; the caller holds the transaction."""
    try:
        session = token_session(ctx, store)
        session.generate_key(key.key_id)
    except TokenError:
        raise token_unusable(store) from None
    try:
        ctx.store.insert_token_key(
            TokenKeyRecord(
                key_id=key.key_id,
                region=key.region,
                custom_key_store_id=store.custom_key_store_id,
                object_label=key.key_id,
                material_id=new_material_id(ctx.rng),
            )
        )
    except BaseException:
        # The key is not created after all: its token object must not outlive the failed request.
        session.destroy_key(key.key_id)
        raise


def material(ctx: KmsContext, key: KeyRecord) -> UnwrappedMaterial:
    """The key's token object, ready to seal and open blobs; KMSInvalidStateException when it cannot be used."""
    record = ctx.store.get_token_key(key.key_id, key.region)
    store = None if record is None else ctx.store.get_custom_key_store(record.custom_key_store_id)
    if record is None or store is None:
        raise AwsError("KMSInternalException", "", 500)
    if store.connection_state != CONNECTED:
        raise AwsError("KMSInvalidStateException", f"{key.arn} is unavailable.")
    try:
        session = token_session(ctx, store)
    except TokenError:
        raise _unusable(key, store) from None
    cipher: BlobCipher = _AnsweringTokenKey(
        SymmetricKey(TokenAead(session, record.object_label), key.key_id, key.current_material_version), key, store
    )
    if key.origin == EXTERNAL_KEY_STORE:
        # Double encryption, as AWS's: kmsd's own material of the key seals first, the external key second.
        try:
            own = ctx.materials.get(key.key_id, key.current_material_version)
        except CryptoError:
            raise AwsError("KMSInternalException", "", 500) from None
        cipher = DoubleSealed(own.cipher, cipher)
    return UnwrappedMaterial(key.key_id, key.current_material_version, record.material_id, cipher)


def metadata_members(ctx: KmsContext, key: KeyRecord) -> dict[str, Any]:
    """CustomKeyStoreId, and CloudHsmClusterId or XksKeyConfiguration, of a key in a custom key store (no
    CurrentKeyMaterialId: "present for symmetric encryption keys with AWS_KMS or EXTERNAL origin")."""
    record = ctx.store.get_token_key(key.key_id, key.region)
    if record is None:
        return {}
    members: dict[str, Any] = {"CustomKeyStoreId": record.custom_key_store_id}
    if key.origin == EXTERNAL_KEY_STORE:
        # XksKeyConfigurationType: "Id": the ID of the external key in its external key manager.
        members["XksKeyConfiguration"] = {"Id": record.object_label}
        return members
    store = ctx.store.get_custom_key_store(record.custom_key_store_id)
    if store is not None:
        members["CloudHsmClusterId"] = store.cloud_hsm_cluster_id
    return members


def remember_state(ctx: KmsContext, key: KeyRecord, state: str) -> bool:
    """EnableKey / DisableKey on an Unavailable key: note ``state`` for when the key is available; whether it was."""
    if key.key_state != UNAVAILABLE:
        return False
    record = ctx.store.get_token_key(key.key_id, key.region)
    if record is not None:
        ctx.store.update_token_key(replace(record, state_when_available=state))
    return True


def state_after_cancel(ctx: KmsContext, key: KeyRecord, state: str) -> str:
    """The state CancelKeyDeletion leaves: ``state``, or Unavailable (remembering it) if the store is not connected."""
    if key.origin not in TOKEN_ORIGINS:
        return state
    record = ctx.store.get_token_key(key.key_id, key.region)
    store = None if record is None else ctx.store.get_custom_key_store(record.custom_key_store_id)
    if record is None or store is None or store.connection_state == CONNECTED:
        return state
    ctx.store.update_token_key(replace(record, state_when_available=state))
    return UNAVAILABLE


def make_unavailable(ctx: KmsContext, store: CustomKeyStoreRecord) -> None:
    """The store was disconnected: its Enabled and Disabled keys become Unavailable, remembering their state."""
    for record in ctx.store.list_token_keys(store.custom_key_store_id):
        key = ctx.store.get_key(record.key_id, record.region)
        if key is None or key.key_state not in ("Enabled", "Disabled"):
            continue
        ctx.store.update_token_key(replace(record, state_when_available=key.key_state))
        ctx.store.update_key(replace(key, key_state=UNAVAILABLE))


def make_available(ctx: KmsContext, store: CustomKeyStoreRecord) -> None:
    """The store is connected: its Unavailable keys return to the state they had (or were given meanwhile)."""
    for record in ctx.store.list_token_keys(store.custom_key_store_id):
        key = ctx.store.get_key(record.key_id, record.region)
        if key is None or key.key_state != UNAVAILABLE:
            continue
        ctx.store.update_key(replace(key, key_state=record.state_when_available or "Enabled"))
        ctx.store.update_token_key(replace(record, state_when_available=None))


def forget_key(ctx: KmsContext, key: KeyRecord) -> TokenKeyRecord | None:
    """Delete the key's token key row in the purge's transaction; the row, to destroy its object after the commit."""
    record = ctx.store.get_token_key(key.key_id, key.region)
    if record is not None:
        ctx.store.delete_token_key(key.key_id, key.region)
    return record


def destroy_object(ctx: KmsContext, record: TokenKeyRecord) -> None:
    """Destroy a purged AWS_CLOUDHSM key's token object when its store is connected (best effort, as AWS's).

    An external key store's object is the operator's: AWS "does not delete the external key" and neither does kmsd.
    """
    store = ctx.store.get_custom_key_store(record.custom_key_store_id)
    if store is None or store.connection_state != CONNECTED or store.custom_key_store_type != AWS_CLOUDHSM:
        return
    try:
        token_session(ctx, store).destroy_key(record.object_label)
    except TokenError:
        # The token cannot be used now: the object stays, as orphaned key material does in AWS.
        return


def close_disconnected_sessions(ctx: KmsContext) -> None:
    """Log out of the tokens whose key store is no longer connected (another process disconnected or deleted it)."""
    for label in ctx.tokens.labels():
        store = ctx.store.custom_key_store_of_cluster(label)  # the column holds either type's token label
        if store is None or store.connection_state != CONNECTED:
            ctx.tokens.close(label)


class _AnsweringTokenKey:
    """A token key (a :class:`~kmsd.crypto.SymmetricKey` on a :class:`~kmsd.hsm.TokenAead`) whose token
    failures are AWS's answer for an unusable key, not an internal error."""

    __slots__ = ("_inner", "_key", "_store")

    def __init__(self, inner: SymmetricKey, key: KeyRecord, store: CustomKeyStoreRecord) -> None:
        self._inner = inner
        self._key = key
        self._store = store

    def encrypt(self, plaintext: bytes, encryption_context: Mapping[str, str] | None, rng: RandomSource) -> bytes:
        try:
            return self._inner.encrypt(plaintext, encryption_context, rng)
        except TokenError:
            raise _unusable(self._key, self._store) from None

    def decrypt(self, blob: CiphertextBlob, encryption_context: Mapping[str, str] | None) -> bytes:
        try:
            return self._inner.decrypt(blob, encryption_context)
        except TokenError:
            raise _unusable(self._key, self._store) from None


def _unusable(key: KeyRecord, store: CustomKeyStoreRecord) -> AwsError:
    return AwsError(
        "KMSInvalidStateException",
        f"{key.arn} is unavailable: the token of its custom key store {store.custom_key_store_id} cannot be used.",
    )


def token_unusable(store: CustomKeyStoreRecord) -> AwsError:
    # CreateKey's answer when the token of a CONNECTED key store cannot make a key from this process.
    return AwsError(
        "CustomKeyStoreInvalidStateException",
        f"The token of custom key store {store.custom_key_store_id} cannot be used; "
        "disconnect and connect the custom key store, then try again.",
    )
