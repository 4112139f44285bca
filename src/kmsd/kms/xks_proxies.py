"""External key stores on PKCS#11 tokens: kmsd's meaning of the XKS proxy settings, their checks and answers.

kmsd has no XKS proxy: the "external key manager" of an external key store is
a token of ``kmsd serve --pkcs11-module``, as for AWS_CLOUDHSM key stores
(README, "Custom key stores").  The proxy settings map onto it so:

- ``XksProxyUriPath`` names the token: its prefix before ``/kms/xks/v<n>``
  (``/kmsd-xks-1/kms/xks/v1`` is token ``kmsd-xks-1``; the prefix may hold
  slashes, which are part of the label).  A path with no prefix
  (``/kms/xks/v1``) names the token by the endpoint's host name
  (``https://xks.example`` is token ``xks.example``).
- ``XksProxyUriEndpoint`` is kept and shown, and counts in AWS's uniqueness
  rules; nothing is sent to it.
- ``XksProxyAuthenticationCredential``: ``AccessKeyId`` is kept and shown;
  ``RawSecretAccessKey`` is the token's user PIN, kept wrapped under the root
  key like a KeyStorePassword, never logged or shown.
- ``XksProxyConnectivity``, ``XksProxyVpcEndpointServiceName`` and
  ``XksProxyVpcEndpointServiceOwner`` are checked as AWS checks them (the
  name is required with VPC_ENDPOINT_SERVICE and refused with
  PUBLIC_ENDPOINT; the owner defaults to the caller's account), kept and shown.

AWS talks to a public endpoint's proxy when the store is created or its
proxy settings change, and to a VPC endpoint service's only when connecting;
kmsd logs in to the token at those same moments.  A missing token is
``XksProxyUriUnreachableException`` there and ConnectionErrorCode
``XKS_PROXY_NOT_REACHABLE`` when connecting; a wrong PIN is
``XksProxyIncorrectAuthenticationCredentialException`` and
``INVALID_CREDENTIALS``; a locked PIN ``XKS_PROXY_ACCESS_DENIED``; a token
without a user PIN ``XKS_PROXY_INVALID_CONFIGURATION``.

Guessed wording (AWS documents the exceptions, not their messages; these take
the first sentence of each exception's documentation where one fits):
XksProxyUriInUseException, XksProxyUriEndpointInUseException,
XksProxyVpcEndpointServiceInUseException, XksProxyUriUnreachableException and
XksProxyIncorrectAuthenticationCredentialException (first sentences);
ValidationException "<Member> is required for a custom key store of type
EXTERNAL_KEY_STORE.", "<Member> is not valid for a custom key store of type
EXTERNAL_KEY_STORE.", "XksProxyVpcEndpointServiceName is required when
XksProxyConnectivity is VPC_ENDPOINT_SERVICE." and "<Member> is not valid when
XksProxyConnectivity is PUBLIC_ENDPOINT.".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from kmsd.errors import AwsError, ValidationError
from kmsd.hsm import TokenError
from kmsd.hsm.tokens import CLUSTER_NOT_FOUND, INVALID_CREDENTIALS, USER_LOCKED_OUT, USER_NOT_FOUND
from kmsd.kms.context import KmsContext
from kmsd.store.models import CustomKeyStoreRecord

EXTERNAL_KEY_STORE = "EXTERNAL_KEY_STORE"
PUBLIC_ENDPOINT = "PUBLIC_ENDPOINT"
VPC_ENDPOINT_SERVICE = "VPC_ENDPOINT_SERVICE"
CREATE_MEMBERS = (
    "XksProxyUriEndpoint",
    "XksProxyUriPath",
    "XksProxyAuthenticationCredential",
    "XksProxyConnectivity",
)
CLOUDHSM_MEMBERS = ("CloudHsmClusterId", "TrustAnchorCertificate", "KeyStorePassword")
# The token's failure (hsm.tokens) -> AWS's ConnectionErrorCode for the like failure of an XKS proxy.
_CONNECTION_ERROR_CODES = {
    CLUSTER_NOT_FOUND: "XKS_PROXY_NOT_REACHABLE",
    INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
    USER_LOCKED_OUT: "XKS_PROXY_ACCESS_DENIED",
    USER_NOT_FOUND: "XKS_PROXY_INVALID_CONFIGURATION",
}
_PATH = re.compile(r"^(?:/(?P<prefix>.+))?/kms/xks/v\d{1,2}$")


def token_label(uri_endpoint: str, uri_path: str) -> str:
    """The token an external key store's proxy URI names (module docstring)."""
    match = _PATH.match(uri_path)
    if match is not None and match.group("prefix"):
        return match.group("prefix")
    return uri_endpoint.removeprefix("https://")


def connection_error_code(token_code: str) -> str:
    return _CONNECTION_ERROR_CODES.get(token_code, token_code)


def refuse_cloudhsm_members(params: Mapping[str, Any]) -> None:
    for member in CLOUDHSM_MEMBERS:
        if params.get(member) is not None:
            raise ValidationError(f"{member} is not valid for a custom key store of type {EXTERNAL_KEY_STORE}.")


def new_settings(blank: CustomKeyStoreRecord, params: Mapping[str, Any], account_id: str) -> CustomKeyStoreRecord:
    """``blank`` with the proxy settings of CreateCustomKeyStore's members (the caller fills in the rest)."""
    for member in CREATE_MEMBERS:
        if params.get(member) is None:
            raise ValidationError(f"{member} is required for a custom key store of type {EXTERNAL_KEY_STORE}.")
    refuse_cloudhsm_members(params)
    return _apply(blank, params, account_id)


def updated_settings(store: CustomKeyStoreRecord, params: Mapping[str, Any]) -> CustomKeyStoreRecord:
    """The store with UpdateCustomKeyStore's proxy members applied (the secret is wrapped by the caller)."""
    refuse_cloudhsm_members(params)
    return _apply(store, params, store.account_id)


def secret(params: Mapping[str, Any]) -> str | None:
    credential = params.get("XksProxyAuthenticationCredential")
    return None if credential is None else str(credential["RawSecretAccessKey"])


def changes_while_disconnected_only(params: Mapping[str, Any]) -> bool:
    """UpdateCustomKeyStore: the name, credential and path may change while connected, the rest only while
    disconnected ("To change this value, the external key store must be disconnected")."""
    return any(
        params.get(member) is not None
        for member in (
            "XksProxyUriEndpoint",
            "XksProxyConnectivity",
            "XksProxyVpcEndpointServiceName",
            "XksProxyVpcEndpointServiceOwner",
        )
    )


def require_unique(candidate: CustomKeyStoreRecord, others: Sequence[CustomKeyStoreRecord]) -> None:
    """AWS's uniqueness rules in an account and Region ("Uniqueness requirements", CreateCustomKeyStore)."""
    externals = [
        other
        for other in others
        if other.custom_key_store_type == EXTERNAL_KEY_STORE
        and other.custom_key_store_id != candidate.custom_key_store_id
    ]
    endpoint = candidate.xks_proxy_uri_endpoint
    if any(
        (other.xks_proxy_uri_endpoint, other.xks_proxy_uri_path) == (endpoint, candidate.xks_proxy_uri_path)
        for other in externals
    ):
        raise uri_in_use()
    vpc = candidate.xks_proxy_connectivity == VPC_ENDPOINT_SERVICE
    for other in externals:
        if other.xks_proxy_uri_endpoint != endpoint:
            continue
        # A VPC store needs its own private DNS name; a public store cannot share one with a VPC store.
        if vpc or other.xks_proxy_connectivity == VPC_ENDPOINT_SERVICE:
            raise AwsError(
                "XksProxyUriEndpointInUseException",
                "The request was rejected because the XksProxyUriEndpoint is already associated with another "
                "external key store in this Amazon Web Services Region.",
            )
    name = candidate.xks_proxy_vpc_endpoint_service_name
    if vpc and any(other.xks_proxy_vpc_endpoint_service_name == name for other in externals):
        raise AwsError(
            "XksProxyVpcEndpointServiceInUseException",
            "The request was rejected because the specified Amazon VPC endpoint service is already associated "
            "with another external key store in this Amazon Web Services Region.",
        )


def check_proxy(ctx: KmsContext, label: str, pin: str, credential_tag: bytes, *, stay_connected: bool) -> None:
    """Log in to the token as AWS tests a proxy (a GetHealthStatus request).

    The login replaces this process's session on the token; it is kept (under ``credential_tag``, the wrapped
    secret about to be stored) for a store that stays connected, and closed otherwise.
    """
    try:
        ctx.tokens.check_login(label, pin, credential_tag)
    except TokenError as error:
        if error.connection_error_code == INVALID_CREDENTIALS:
            raise AwsError(
                "XksProxyIncorrectAuthenticationCredentialException",
                "The request was rejected because the proxy credentials failed to authenticate to the specified "
                "external key store proxy.",
            ) from None
        raise AwsError(
            "XksProxyUriUnreachableException",
            "KMS was unable to reach the specified XksProxyUriPath. The path must be reachable before you create "
            "the external key store or update its settings.",
        ) from None
    if not stay_connected:
        ctx.tokens.close(label)


def configuration(store: CustomKeyStoreRecord) -> dict[str, Any]:
    """XksProxyConfiguration of DescribeCustomKeyStores (XksProxyConfigurationType); never the secret."""
    shown: dict[str, Any] = {
        "Connectivity": store.xks_proxy_connectivity,
        "AccessKeyId": store.xks_proxy_access_key_id,
        "UriEndpoint": store.xks_proxy_uri_endpoint,
        "UriPath": store.xks_proxy_uri_path,
    }
    if store.xks_proxy_connectivity == VPC_ENDPOINT_SERVICE:
        shown["VpcEndpointServiceName"] = store.xks_proxy_vpc_endpoint_service_name
        shown["VpcEndpointServiceOwner"] = store.xks_proxy_vpc_endpoint_service_owner
    return shown


def uri_in_use() -> AwsError:
    return AwsError(
        "XksProxyUriInUseException",
        "The request was rejected because the concatenation of the XksProxyUriEndpoint and XksProxyUriPath is "
        "already associated with another external key store in this Amazon Web Services Region.",
    )


# --- helpers ---------------------------------------------------------------------------------------------


def _apply(store: CustomKeyStoreRecord, params: Mapping[str, Any], account_id: str) -> CustomKeyStoreRecord:
    """The store with the request's proxy members set, the VPC members checked against the connectivity."""
    credential = params.get("XksProxyAuthenticationCredential")
    updated = replace(
        store,
        xks_proxy_uri_endpoint=str(params.get("XksProxyUriEndpoint") or store.xks_proxy_uri_endpoint),
        xks_proxy_uri_path=str(params.get("XksProxyUriPath") or store.xks_proxy_uri_path),
        xks_proxy_connectivity=str(params.get("XksProxyConnectivity") or store.xks_proxy_connectivity),
        xks_proxy_access_key_id=(
            str(credential["AccessKeyId"]) if credential is not None else store.xks_proxy_access_key_id
        ),
    )
    name = params.get("XksProxyVpcEndpointServiceName")
    owner = params.get("XksProxyVpcEndpointServiceOwner")
    if updated.xks_proxy_connectivity == PUBLIC_ENDPOINT:
        for member, value in (("XksProxyVpcEndpointServiceName", name), ("XksProxyVpcEndpointServiceOwner", owner)):
            if value is not None:
                raise ValidationError(f"{member} is not valid when XksProxyConnectivity is {PUBLIC_ENDPOINT}.")
        updated = replace(updated, xks_proxy_vpc_endpoint_service_name=None, xks_proxy_vpc_endpoint_service_owner=None)
    else:
        name = name if name is not None else updated.xks_proxy_vpc_endpoint_service_name
        if name is None:
            raise ValidationError(
                f"XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is {VPC_ENDPOINT_SERVICE}."
            )
        # XksProxyVpcEndpointServiceOwner: "If you omit this parameter, it defaults to the callers AWS account ID."
        owner = owner if owner is not None else updated.xks_proxy_vpc_endpoint_service_owner or account_id
        updated = replace(
            updated, xks_proxy_vpc_endpoint_service_name=str(name), xks_proxy_vpc_endpoint_service_owner=str(owner)
        )
    label = token_label(str(updated.xks_proxy_uri_endpoint), str(updated.xks_proxy_uri_path))
    return replace(updated, cloud_hsm_cluster_id=label)
