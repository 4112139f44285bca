"""Custom key stores on PKCS#11 tokens: CreateCustomKeyStore, ConnectCustomKeyStore, DisconnectCustomKeyStore,
DescribeCustomKeyStores, UpdateCustomKeyStore and DeleteCustomKeyStore.

kmsd's mapping of an AWS CloudHSM key store (README, "Custom key stores"):
the PKCS#11 module is ``kmsd serve --pkcs11-module PATH``; ``CloudHsmClusterId``
is the label of a token of that module (so it must look like a cluster id,
``cluster-`` and 11 to 16 letters or digits 2-7); ``KeyStorePassword`` is the
token's user PIN, kept wrapped under the root key and never in a log or an
answer; ``TrustAnchorCertificate`` must be a PEM X.509 certificate and is
kept and shown.  A token backs one key store in the whole service.  Every
operation is authorized by IAM policies alone, on ``*``, for the caller's own
account and Region ("Cross-account use: No").

An external key store (EXTERNAL_KEY_STORE) is a token too: :mod:`kmsd.kms.xks_proxies`
maps its proxy settings onto a token label and PIN, and this module runs the
same life cycle for both types (the token label is kept in the same column,
so a token backs one key store of either type).

Connecting logs in to the token within the request: where AWS answers at
once and moves through CONNECTING, kmsd answers when the store is CONNECTED
or FAILED (with the ConnectionErrorCode: CLUSTER_NOT_FOUND for a missing
token, INVALID_CREDENTIALS for a wrong PIN, USER_LOCKED_OUT, USER_NOT_FOUND,
INTERNAL_ERROR), so CONNECTING and DISCONNECTING are never seen.  The states
each operation accepts are AWS's (CustomKeyStoreInvalidStateException):
Connect refuses DISCONNECTING and FAILED; Disconnect refuses DISCONNECTING
and DISCONNECTED; Delete needs DISCONNECTED; Update needs DISCONNECTED except
for a new name alone (for an external key store: except for the name, the
credential and the path).

Guessed wording (AWS documents the exceptions, not their messages; these take
the first sentence of each exception's documentation where one fits):
CustomKeyStoreNotFoundException "The request was rejected because KMS cannot
find a custom key store with the specified key store name or ID.";
CustomKeyStoreNameInUseException, CloudHsmClusterNotFoundException,
CloudHsmClusterInUseException, IncorrectTrustAnchorException,
CustomKeyStoreHasCMKsException and CloudHsmClusterNotRelatedException (the
first sentences of their documentation); CustomKeyStoreInvalidStateException
"<Operation> is not valid for custom key store <id> in ConnectionState
<STATE>."; LimitExceededException "The request was rejected because you have
reached the limit of 10 custom key stores in this account and Region.";
UnsupportedOperationException "kmsd serve was started without
--pkcs11-module, so it has no PKCS#11 tokens for custom key stores.",
"External key store IDs are not valid for GenerateRandom." (GenerateRandom's
documentation: "If you specify the ID of an external key store,
GenerateRandom throws an UnsupportedOperationException")
and "kmsd cannot use PKCS#11 here: custom key stores need the python-pkcs11
package: pip install 'kmsd[hsm]'.";
ValidationException "<Member> is required for a custom key store of type
AWS_CLOUDHSM.", "<Member> is not valid for a custom key store of type
AWS_CLOUDHSM." and "Specify either CustomKeyStoreId or CustomKeyStoreName,
not both."; KMSInternalException with the token's error for a module that
cannot be used; ValidationException "Origin <origin> cannot make a key in
custom key store <id> of type <type>.".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from kmsd.crypto.certificates import is_pem_certificate
from kmsd.errors import AwsError, ValidationError
from kmsd.hsm import MISSING_BINDING, Pkcs11Module, TokenError, binding_available
from kmsd.iam.principal import Caller
from kmsd.kms import xks_proxies
from kmsd.kms.context import KmsContext
from kmsd.kms.paging import paginate
from kmsd.kms.resolve import Resolved
from kmsd.kms.token_keys import (
    AWS_CLOUDHSM,
    CONNECTED,
    EXTERNAL_KEY_STORE,
    make_available,
    make_unavailable,
    password_purpose,
    token_session,
)
from kmsd.store.base import Conflict
from kmsd.store.models import CustomKeyStoreRecord

DISCONNECTED = "DISCONNECTED"
DISCONNECTING = "DISCONNECTING"
FAILED = "FAILED"
# "Resource quotas": 10 custom key stores per account and Region.
MAX_CUSTOM_KEY_STORES = 10
_XKS_MEMBERS = (
    "XksProxyUriEndpoint",
    "XksProxyUriPath",
    "XksProxyVpcEndpointServiceName",
    "XksProxyVpcEndpointServiceOwner",
    "XksProxyAuthenticationCredential",
    "XksProxyConnectivity",
)
_CLOUDHSM_MEMBERS = xks_proxies.CLOUDHSM_MEMBERS


def not_found() -> AwsError:
    return AwsError(
        "CustomKeyStoreNotFoundException",
        "The request was rejected because KMS cannot find a custom key store with the specified key store name or ID.",
    )


def invalid_state(operation: str, store: CustomKeyStoreRecord) -> AwsError:
    return AwsError(
        "CustomKeyStoreInvalidStateException",
        f"{operation} is not valid for custom key store {store.custom_key_store_id} "
        f"in ConnectionState {store.connection_state}.",
    )


def own_store(ctx: KmsContext, caller: Caller, custom_key_store_id: str) -> CustomKeyStoreRecord:
    """The caller's key store with this id, in its account and Region; CustomKeyStoreNotFoundException otherwise."""
    store = ctx.store.get_custom_key_store(custom_key_store_id)
    if store is None or store.account_id != caller.principal.account_id or store.region != caller.region:
        raise not_found()
    return store


def custom_key_store_for_new_key(
    ctx: KmsContext, caller: Caller, custom_key_store_id: str, origin: str
) -> CustomKeyStoreRecord:
    """The key store CreateKey makes a key in: the caller's, of the origin's type, and CONNECTED."""
    store = own_store(ctx, caller, custom_key_store_id)
    if origin != store.custom_key_store_type:
        raise ValidationError(
            f"Origin {origin} cannot make a key in custom key store {custom_key_store_id} "
            f"of type {store.custom_key_store_type}."
        )
    # CustomKeyStoreInvalidStateException: "You requested the CreateKey operation in a custom key store that is
    # not connected. This operations is valid only when the custom key store ConnectionState is CONNECTED."
    if store.connection_state != CONNECTED:
        raise invalid_state("CreateKey", store)
    return store


def random_bytes(ctx: KmsContext, caller: Caller, custom_key_store_id: str, number_of_bytes: int) -> bytes:
    """GenerateRandom with a CustomKeyStoreId: bytes from the key store's token, which must be connected."""
    store = own_store(ctx, caller, custom_key_store_id)
    if store.custom_key_store_type == EXTERNAL_KEY_STORE:
        raise AwsError("UnsupportedOperationException", "External key store IDs are not valid for GenerateRandom.")
    if store.connection_state != CONNECTED:
        raise invalid_state("GenerateRandom", store)
    try:
        return token_session(ctx, store).random(number_of_bytes)
    except TokenError:
        raise invalid_state("GenerateRandom", replace(store, connection_state=FAILED)) from None


# --- the operations -----------------------------------------------------------------------------------


def create_custom_key_store(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    account_id, region = caller.principal.account_id, caller.region
    external = params.get("CustomKeyStoreType") == EXTERNAL_KEY_STORE
    # The type's own members first: the record's token label and, for an external key store, proxy settings.
    blank = _blank(EXTERNAL_KEY_STORE if external else AWS_CLOUDHSM)
    settings = xks_proxies.new_settings(blank, params, account_id) if external else _cloudhsm_settings(blank, params)
    name, label = str(params["CustomKeyStoreName"]), settings.token_label
    password = str(xks_proxies.secret(params) if external else params["KeyStorePassword"])
    existing = ctx.store.list_custom_key_stores(account_id, region)
    if any(store.custom_key_store_name == name for store in existing):
        raise _name_in_use()
    _module(ctx)
    store_id = _new_store_id(ctx)
    wrapped = _wrap_password(ctx, store_id, password)
    if external:
        xks_proxies.require_unique(settings, existing)
        if ctx.store.custom_key_store_of_cluster(label) is not None:
            # The token already backs a key store: its proxy URI is in use.
            raise xks_proxies.uri_in_use()
        if settings.xks_proxy_connectivity == xks_proxies.PUBLIC_ENDPOINT:
            xks_proxies.check_proxy(ctx, label, password, wrapped, stay_connected=False)
    else:
        _require_token(ctx, label)
        if ctx.store.custom_key_store_of_cluster(label) is not None:
            raise _cluster_in_use()
        if not is_pem_certificate(settings.trust_anchor_certificate):
            raise AwsError(
                "IncorrectTrustAnchorException",
                "The request was rejected because the trust anchor certificate in the request to create an AWS "
                "CloudHSM key store is not the trust anchor certificate for the specified AWS CloudHSM cluster.",
            )
    if len(existing) >= MAX_CUSTOM_KEY_STORES:
        raise AwsError(
            "LimitExceededException",
            f"The request was rejected because you have reached the limit of {MAX_CUSTOM_KEY_STORES} custom key "
            "stores in this account and Region.",
        )
    record = replace(
        settings,
        custom_key_store_id=store_id,
        account_id=account_id,
        region=region,
        custom_key_store_name=name,
        wrapped_key_store_password=wrapped,
        connection_state=DISCONNECTED,
        creation_date=ctx.clock.now(),
    )
    try:
        ctx.store.insert_custom_key_store(record)
    except Conflict:
        # Another request took the name or the token meanwhile.
        raise _name_in_use() from None
    return {"CustomKeyStoreId": store_id}


def _cloudhsm_settings(blank: CustomKeyStoreRecord, params: Mapping[str, Any]) -> CustomKeyStoreRecord:
    """``blank`` with the members of an AWS_CLOUDHSM key store, checked (the caller fills in the rest)."""
    for member in _CLOUDHSM_MEMBERS:
        if params.get(member) is None:
            raise ValidationError(f"{member} is required for a custom key store of type {AWS_CLOUDHSM}.")
    _refuse_xks_members(params)
    return replace(
        blank,
        cloud_hsm_cluster_id=str(params["CloudHsmClusterId"]),
        trust_anchor_certificate=str(params["TrustAnchorCertificate"]),
    )


def _blank(store_type: str) -> CustomKeyStoreRecord:
    """A record of ``store_type`` that carries only what the request's checks fill in."""
    return CustomKeyStoreRecord(
        custom_key_store_id="",
        account_id="",
        region="",
        custom_key_store_name="",
        custom_key_store_type=store_type,
        cloud_hsm_cluster_id="",
        trust_anchor_certificate="",
        wrapped_key_store_password=b"",
        connection_state=DISCONNECTED,
        creation_date=datetime.fromtimestamp(0, UTC),
    )


def connect_custom_key_store(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    store = own_store(ctx, caller, str(params["CustomKeyStoreId"]))
    if store.connection_state in (DISCONNECTING, FAILED):
        raise invalid_state("ConnectCustomKeyStore", store)
    if store.connection_state == CONNECTED:
        return {}
    pin = ctx.root_key.unwrap(store.wrapped_key_store_password, password_purpose(store.custom_key_store_id))
    try:
        if ctx.tokens.module is None:
            # A server without a PKCS#11 module finds no token at all.
            raise TokenError("CLUSTER_NOT_FOUND", "no PKCS#11 module")
        ctx.tokens.check_login(store.token_label, pin.decode(), store.wrapped_key_store_password)
    except TokenError as error:
        code = error.connection_error_code
        if store.custom_key_store_type == EXTERNAL_KEY_STORE:
            code = xks_proxies.connection_error_code(code)
        ctx.store.update_custom_key_store(replace(store, connection_state=FAILED, connection_error_code=code))
        return {}
    connected = replace(store, connection_state=CONNECTED, connection_error_code=None)
    ctx.store.update_custom_key_store(connected)
    make_available(ctx, connected)
    return {}


def disconnect_custom_key_store(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    store = own_store(ctx, caller, str(params["CustomKeyStoreId"]))
    if store.connection_state in (DISCONNECTING, DISCONNECTED):
        raise invalid_state("DisconnectCustomKeyStore", store)
    disconnected = replace(store, connection_state=DISCONNECTED, connection_error_code=None)
    ctx.store.update_custom_key_store(disconnected)
    make_unavailable(ctx, disconnected)
    ctx.tokens.close(store.token_label)
    return {}


def delete_custom_key_store(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    store = own_store(ctx, caller, str(params["CustomKeyStoreId"]))
    if store.connection_state != DISCONNECTED:
        raise invalid_state("DeleteCustomKeyStore", store)
    if ctx.store.list_token_keys(store.custom_key_store_id):
        # Keys pending deletion count too: they are still in the key store until their window ends.
        raise AwsError(
            "CustomKeyStoreHasCMKsException",
            "The request was rejected because the custom key store contains KMS keys.",
        )
    ctx.store.delete_custom_key_store(store.custom_key_store_id)
    return {}


def update_custom_key_store(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    store = own_store(ctx, caller, str(params["CustomKeyStoreId"]))
    if store.custom_key_store_type == EXTERNAL_KEY_STORE:
        return _update_external_key_store(ctx, store, params)
    _refuse_xks_members(params)
    new_name, password, cluster_id = (
        params.get("NewCustomKeyStoreName"),
        params.get("KeyStorePassword"),
        params.get("CloudHsmClusterId"),
    )
    # UpdateCustomKeyStore: the name may change while CONNECTED or DISCONNECTED, everything else only DISCONNECTED.
    if (password is not None or cluster_id is not None) and store.connection_state != DISCONNECTED:
        raise invalid_state("UpdateCustomKeyStore", store)
    if new_name is not None and store.connection_state not in (CONNECTED, DISCONNECTED):
        raise invalid_state("UpdateCustomKeyStore", store)
    updated = _renamed(ctx, store, new_name)
    if password is not None:
        updated = replace(
            updated, wrapped_key_store_password=_wrap_password(ctx, store.custom_key_store_id, str(password))
        )
    if cluster_id is not None and cluster_id != store.cloud_hsm_cluster_id:
        module = _module(ctx)
        _require_token(ctx, str(cluster_id))
        if ctx.store.custom_key_store_of_cluster(str(cluster_id)) is not None:
            raise _cluster_in_use()
        pin = password if password is not None else _password(ctx, store)
        _require_related(ctx, module, store, str(cluster_id), str(pin))
        updated = replace(updated, cloud_hsm_cluster_id=str(cluster_id))
    _save(ctx, store, updated)
    return {}


def _update_external_key_store(
    ctx: KmsContext, store: CustomKeyStoreRecord, params: Mapping[str, Any]
) -> dict[str, Any]:
    """UpdateCustomKeyStore of an external key store: the name, credential and path may change while CONNECTED
    or DISCONNECTED, the endpoint, connectivity and VPC endpoint service only while DISCONNECTED."""
    allowed = (DISCONNECTED,) if xks_proxies.changes_while_disconnected_only(params) else (CONNECTED, DISCONNECTED)
    if store.connection_state not in allowed:
        raise invalid_state("UpdateCustomKeyStore", store)
    updated = xks_proxies.updated_settings(_renamed(ctx, store, params.get("NewCustomKeyStoreName")), params)
    new_secret = xks_proxies.secret(params)
    if new_secret is not None:
        updated = replace(
            updated, wrapped_key_store_password=_wrap_password(ctx, store.custom_key_store_id, new_secret)
        )
    proxy_changed = replace(updated, custom_key_store_name=store.custom_key_store_name) != store
    if proxy_changed:
        _module(ctx)
        others = ctx.store.list_custom_key_stores(store.account_id, store.region)
        xks_proxies.require_unique(updated, others)
        holder = ctx.store.custom_key_store_of_cluster(updated.token_label)
        if holder is not None and holder.custom_key_store_id != store.custom_key_store_id:
            raise xks_proxies.uri_in_use()
        # AWS tests the proxy when a public endpoint's settings change, or any store's while it is connected.
        if updated.xks_proxy_connectivity == xks_proxies.PUBLIC_ENDPOINT or store.connection_state == CONNECTED:
            xks_proxies.check_proxy(
                ctx,
                updated.token_label,
                _password(ctx, updated),
                updated.wrapped_key_store_password,
                stay_connected=store.connection_state == CONNECTED,
            )
    _save(ctx, store, updated)
    return {}


def _renamed(ctx: KmsContext, store: CustomKeyStoreRecord, new_name: object) -> CustomKeyStoreRecord:
    """The store with NewCustomKeyStoreName, which no other key store of the account and Region may have."""
    if new_name is None or new_name == store.custom_key_store_name:
        return store
    others = ctx.store.list_custom_key_stores(store.account_id, store.region)
    if any(other.custom_key_store_name == new_name for other in others):
        raise _name_in_use()
    return replace(store, custom_key_store_name=str(new_name))


def _save(ctx: KmsContext, store: CustomKeyStoreRecord, updated: CustomKeyStoreRecord) -> None:
    if updated != store:
        try:
            ctx.store.update_custom_key_store(updated)
        except Conflict:
            raise _name_in_use() from None


def describe_custom_key_stores(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    store_id, name = params.get("CustomKeyStoreId"), params.get("CustomKeyStoreName")
    if store_id is not None and name is not None:
        # DescribeCustomKeyStores: "use either the CustomKeyStoreName or CustomKeyStoreId parameter (but not both)".
        raise ValidationError("Specify either CustomKeyStoreId or CustomKeyStoreName, not both.")
    stores = ctx.store.list_custom_key_stores(caller.principal.account_id, caller.region)
    if store_id is not None:
        stores = [store for store in stores if store.custom_key_store_id == store_id]
    elif name is not None:
        stores = [store for store in stores if store.custom_key_store_name == name]
    if (store_id is not None or name is not None) and not stores:
        raise not_found()
    scope = f"custom-key-stores:{caller.principal.account_id}:{caller.region}"
    page = paginate(stores, lambda store: store.custom_key_store_id, scope, params)
    return {"CustomKeyStores": [_entry(store) for store in page.items], **page.response_members()}


# --- helpers ---------------------------------------------------------------------------------------------


def _entry(store: CustomKeyStoreRecord) -> dict[str, Any]:
    """One CustomKeyStoresListEntry (DescribeCustomKeyStores API reference); never the password."""
    entry: dict[str, Any] = {
        "CustomKeyStoreId": store.custom_key_store_id,
        "CustomKeyStoreName": store.custom_key_store_name,
        "ConnectionState": store.connection_state,
        "CreationDate": store.creation_date,
        "CustomKeyStoreType": store.custom_key_store_type,
    }
    if store.custom_key_store_type == EXTERNAL_KEY_STORE:
        entry["XksProxyConfiguration"] = xks_proxies.configuration(store)
    else:
        entry["CloudHsmClusterId"] = store.cloud_hsm_cluster_id
        entry["TrustAnchorCertificate"] = store.trust_anchor_certificate
    if store.connection_state == FAILED and store.connection_error_code is not None:
        entry["ConnectionErrorCode"] = store.connection_error_code
    return entry


def _refuse_xks_members(params: Mapping[str, Any]) -> None:
    for member in _XKS_MEMBERS:
        if params.get(member) is not None:
            raise ValidationError(f"{member} is not valid for a custom key store of type {AWS_CLOUDHSM}.")


def _module(ctx: KmsContext) -> Pkcs11Module:
    if ctx.tokens.module is None:
        raise AwsError(
            "UnsupportedOperationException",
            "kmsd serve was started without --pkcs11-module, so it has no PKCS#11 tokens for custom key stores.",
        )
    if not binding_available():
        raise AwsError("UnsupportedOperationException", f"kmsd cannot use PKCS#11 here: {MISSING_BINDING}.")
    return ctx.tokens.module


def _require_token(ctx: KmsContext, cluster_id: str) -> None:
    try:
        present = ctx.tokens.has_token(cluster_id)
    except TokenError as error:
        raise AwsError("KMSInternalException", str(error), 500) from None
    if not present:
        raise AwsError(
            "CloudHsmClusterNotFoundException",
            "The request was rejected because KMS cannot find the AWS CloudHSM cluster with the specified cluster ID.",
        )


def _require_related(ctx: KmsContext, module: Pkcs11Module, store: CustomKeyStoreRecord, label: str, pin: str) -> None:
    """A token can replace the store's own only if it holds every key of the store (a backup of the token):
    kmsd's meaning of AWS's "shares a backup history with the original cluster"."""
    keys = ctx.store.list_token_keys(store.custom_key_store_id)
    if not keys:
        return
    related = True
    try:
        session = module.login(label, pin)
    except TokenError:
        related = False
    else:
        try:
            related = all(session.has_key(key.object_label) for key in keys)
        except TokenError:
            related = False
        finally:
            session.close()
    if not related:
        raise AwsError(
            "CloudHsmClusterNotRelatedException",
            "The request was rejected because the specified AWS CloudHSM cluster has a different cluster "
            "certificate than the original cluster.",
        )


def _new_store_id(ctx: KmsContext) -> str:
    """``cks-`` and 17 hex digits, as AWS's custom key store ids, unused in the store."""
    while True:
        store_id = "cks-" + ctx.rng.bytes(9).hex()[:17]
        if ctx.store.get_custom_key_store(store_id) is None:
            return store_id


def _wrap_password(ctx: KmsContext, store_id: str, password: str) -> bytes:
    return ctx.root_key.wrap(password.encode(), password_purpose(store_id))


def _password(ctx: KmsContext, store: CustomKeyStoreRecord) -> str:
    return ctx.root_key.unwrap(store.wrapped_key_store_password, password_purpose(store.custom_key_store_id)).decode()


def _name_in_use() -> AwsError:
    return AwsError(
        "CustomKeyStoreNameInUseException",
        "The request was rejected because the specified custom key store name is already assigned to another "
        "custom key store in the account.",
    )


def _cluster_in_use() -> AwsError:
    return AwsError(
        "CloudHsmClusterInUseException",
        "The request was rejected because the specified AWS CloudHSM cluster is already associated with an AWS "
        "CloudHSM key store in the account, or it shares a backup history with an AWS CloudHSM key store in the "
        "account.",
    )
