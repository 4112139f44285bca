"""External key stores on SoftHSM2 tokens through a real ``kmsd serve --pkcs11-module`` and boto3.

The tests play the operator: they initialise SoftHSM2 tokens (the external key managers), make the external
keys in them with python-pkcs11 from outside kmsd, and name a token by the prefix of XksProxyUriPath
(``/<token label>/kms/xks/v1``) with its user PIN as the proxy credential's RawSecretAccessKey.  They drive the
external key store life cycle, CreateKey with Origin EXTERNAL_KEY_STORE and an XksKeyId, the cryptographic
operations in the token, the connection errors, and check that kmsd never deletes an external key.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.aws_errors import error_from
from tests.helpers.softhsm import SoftHsm, new_softhsm
from tests.integration.server import KmsdServer, in_process_server
from tests.integration.store_contents import stored_contents
from tests.integration.stores import Stores

# RawSecretAccessKey is 43 to 64 characters of [a-zA-Z0-9/+=]: the tokens' user PINs are of that form.
PIN = "kmsdXksProxySecretAccessKeyIsTheTokenUserPin0123"
WRONG_PIN = "kmsdXksProxySecretAccessKeyThatIsNotTheUserPin999"
ACCESS_KEY_ID = "KMSDXKSACCESSKEYID234"
ENDPOINT = "https://xks.kmsd.example"
MAIN, FAILING, SPARE, PURGE = "xks-main", "xks-failing", "xks-spare", "xks-purge"
EXTERNAL_KEY = "external-key-1"
SECOND_KEY = "external-key-2"
SHORT_KEY = "aes-128-key"
ENCRYPT_ONLY_KEY = "encrypt-only-key"
POLICY_KEY = "policy-key"


def path_of(token: str) -> str:
    return f"/{token}/kms/xks/v1"


def credential(secret: str = PIN) -> dict[str, str]:
    return {"AccessKeyId": ACCESS_KEY_ID, "RawSecretAccessKey": secret}


def public_store(kms: Any, name: str, token: str, secret: str = PIN) -> str:
    return str(
        kms.create_custom_key_store(
            CustomKeyStoreName=name,
            CustomKeyStoreType="EXTERNAL_KEY_STORE",
            XksProxyConnectivity="PUBLIC_ENDPOINT",
            XksProxyUriEndpoint=ENDPOINT,
            XksProxyUriPath=path_of(token),
            XksProxyAuthenticationCredential=credential(secret),
        )["CustomKeyStoreId"]
    )


def describe(kms: Any, store_id: str) -> dict[str, Any]:
    (entry,) = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    return dict(entry)


def xks_key(kms: Any, store_id: str, xks_key_id: str) -> dict[str, Any]:
    return dict(
        kms.create_key(Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=store_id, XksKeyId=xks_key_id)["KeyMetadata"]
    )


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    hsm = new_softhsm(tmp_path_factory.mktemp("softhsm-xks"))
    # SoftHSM2 reads its token directory when a process loads it: every token exists before kmsd starts.
    for label in (MAIN, FAILING, SPARE, PURGE):
        hsm.init_token(label, PIN)
    for key in (EXTERNAL_KEY, SECOND_KEY, POLICY_KEY):
        hsm.make_key(MAIN, PIN, key)
    hsm.make_key(MAIN, PIN, SHORT_KEY, bits=128)
    hsm.make_key(MAIN, PIN, ENCRYPT_ONLY_KEY, decrypt=False)
    hsm.make_key(PURGE, PIN, EXTERNAL_KEY)
    return hsm


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, stores: Stores, softhsm: SoftHsm) -> Iterator[KmsdServer]:
    data_dir = tmp_path_factory.mktemp("kmsd-xks")
    running = softhsm.server(data_dir, stores.new(data_dir)).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def kms(server: KmsdServer) -> Any:
    return server.root_client()


@pytest.fixture(scope="module")
def main_store(kms: Any) -> str:
    store_id = public_store(kms, "main", MAIN)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
    return store_id


def test_the_life_cycle_of_an_external_key_store(kms: Any, softhsm: SoftHsm) -> None:
    store_id = public_store(kms, "life", SPARE)
    entry = describe(kms, store_id)
    assert entry["CustomKeyStoreType"] == "EXTERNAL_KEY_STORE"
    assert entry["ConnectionState"] == "DISCONNECTED"
    assert entry["XksProxyConfiguration"] == {
        "Connectivity": "PUBLIC_ENDPOINT",
        "AccessKeyId": ACCESS_KEY_ID,
        "UriEndpoint": ENDPOINT,
        "UriPath": path_of(SPARE),
    }
    assert "CloudHsmClusterId" not in entry and "TrustAnchorCertificate" not in entry
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
    # The name and the credential may change while connected; the endpoint only while disconnected.
    kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName="life-renamed")
    kms.update_custom_key_store(CustomKeyStoreId=store_id, XksProxyAuthenticationCredential=credential())
    assert error_from(
        kms.update_custom_key_store, CustomKeyStoreId=store_id, XksProxyUriEndpoint="https://other.kmsd.example"
    )[0] == ("CustomKeyStoreInvalidStateException")
    assert error_from(kms.delete_custom_key_store, CustomKeyStoreId=store_id)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.update_custom_key_store(CustomKeyStoreId=store_id, XksProxyUriEndpoint="https://other.kmsd.example")
    entry = describe(kms, store_id)
    assert entry["CustomKeyStoreName"] == "life-renamed"
    assert entry["XksProxyConfiguration"]["UriEndpoint"] == "https://other.kmsd.example"
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_from(kms.describe_custom_key_stores, CustomKeyStoreId=store_id)[0] == (
        "CustomKeyStoreNotFoundException"
    )


def test_the_errors_of_creating_an_external_key_store(kms: Any, main_store: str) -> None:
    base = {
        "CustomKeyStoreType": "EXTERNAL_KEY_STORE",
        "XksProxyConnectivity": "PUBLIC_ENDPOINT",
        "XksProxyUriEndpoint": ENDPOINT,
    }
    # A public endpoint's proxy is tested at creation: a wrong secret, then a path naming no token.
    assert error_from(
        kms.create_custom_key_store,
        CustomKeyStoreName="wrong",
        XksProxyUriPath=path_of(SPARE),
        XksProxyAuthenticationCredential=credential(WRONG_PIN),
        **base,
    )[0] == ("XksProxyIncorrectAuthenticationCredentialException")
    assert error_from(
        kms.create_custom_key_store,
        CustomKeyStoreName="lost",
        XksProxyUriPath=path_of("no-such-token"),
        XksProxyAuthenticationCredential=credential(),
        **base,
    )[0] == ("XksProxyUriUnreachableException")
    assert error_from(
        kms.create_custom_key_store,
        CustomKeyStoreName="again",
        XksProxyUriPath=path_of(MAIN),
        XksProxyAuthenticationCredential=credential(),
        **base,
    )[0] == ("XksProxyUriInUseException")
    code, message, _ = error_from(
        kms.create_custom_key_store, CustomKeyStoreName="incomplete", XksProxyUriPath=path_of(SPARE), **base
    )
    assert (code, message) == (
        "ValidationException",
        "XksProxyAuthenticationCredential is required for a custom key store of type EXTERNAL_KEY_STORE.",
    )
    code, message, _ = error_from(
        kms.create_custom_key_store,
        CustomKeyStoreName="vpc-without-service",
        CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyConnectivity="VPC_ENDPOINT_SERVICE",
        XksProxyUriEndpoint="https://vpc.kmsd.example",
        XksProxyUriPath=path_of(SPARE),
        XksProxyAuthenticationCredential=credential(),
    )
    assert (code, message) == (
        "ValidationException",
        "XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is VPC_ENDPOINT_SERVICE.",
    )
    assert error_from(
        kms.create_custom_key_store,
        CustomKeyStoreName="mixed",
        XksProxyUriPath=path_of(SPARE),
        XksProxyAuthenticationCredential=credential(),
        KeyStorePassword=PIN,
        **base,
    )[0] == ("ValidationException")


def test_a_wrong_credential_fails_the_connection_with_invalid_credentials(kms: Any) -> None:
    # A VPC endpoint service's proxy is first reached when connecting, so a wrong secret is accepted at creation.
    service = "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0"
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName="failing",
        CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyConnectivity="VPC_ENDPOINT_SERVICE",
        XksProxyUriEndpoint="https://vpc.kmsd.example",
        XksProxyUriPath=path_of(FAILING),
        XksProxyVpcEndpointServiceName=service,
        XksProxyAuthenticationCredential=credential(WRONG_PIN),
    )["CustomKeyStoreId"]
    configuration = describe(kms, store_id)["XksProxyConfiguration"]
    assert configuration["VpcEndpointServiceName"] == service
    # XksProxyVpcEndpointServiceOwner defaults to the caller's account.
    owner = configuration["VpcEndpointServiceOwner"]
    assert len(owner) == 12 and owner.isdigit()
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    entry = describe(kms, store_id)
    assert (entry["ConnectionState"], entry["ConnectionErrorCode"]) == ("FAILED", "INVALID_CREDENTIALS")
    assert error_from(kms.connect_custom_key_store, CustomKeyStoreId=store_id)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.update_custom_key_store(CustomKeyStoreId=store_id, XksProxyAuthenticationCredential=credential())
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    # A path naming no token: the proxy is not reachable.
    kms.update_custom_key_store(CustomKeyStoreId=store_id, XksProxyUriPath=path_of("no-such-token"))
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    entry = describe(kms, store_id)
    assert (entry["ConnectionState"], entry["ConnectionErrorCode"]) == ("FAILED", "XKS_PROXY_NOT_REACHABLE")
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)


def test_keys_reference_external_keys_and_use_them_in_the_token(kms: Any, main_store: str) -> None:
    metadata = xks_key(kms, main_store, EXTERNAL_KEY)
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    assert metadata["Origin"] == "EXTERNAL_KEY_STORE"
    assert metadata["CustomKeyStoreId"] == main_store
    assert metadata["XksKeyConfiguration"] == {"Id": EXTERNAL_KEY}
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT" and metadata["KeyState"] == "Enabled"
    assert "CloudHsmClusterId" not in metadata and "CurrentKeyMaterialId" not in metadata
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["XksKeyConfiguration"] == {"Id": EXTERNAL_KEY}

    context = {"purpose": "xks"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret", EncryptionContext=context)["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"secret", arn)
    assert error_from(kms.decrypt, CiphertextBlob=blob)[0] == "InvalidCiphertextException"
    # Double encryption: a blob of kmsd's material sealed again in the token is one blob's overhead longer.
    plain_key = kms.create_key()["KeyMetadata"]["KeyId"]
    single = kms.encrypt(KeyId=plain_key, Plaintext=b"secret", EncryptionContext=context)["CiphertextBlob"]
    assert len(blob) - len(single) == len(single) - len(b"secret")
    other = xks_key(kms, main_store, SECOND_KEY)["KeyId"]
    moved = kms.re_encrypt(
        CiphertextBlob=blob, SourceEncryptionContext=context, DestinationKeyId=other, DestinationEncryptionContext={}
    )
    assert kms.decrypt(CiphertextBlob=moved["CiphertextBlob"])["Plaintext"] == b"secret"
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    sealed = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=16)["CiphertextBlob"]
    assert len(kms.decrypt(CiphertextBlob=sealed)["Plaintext"]) == 16

    assert error_from(kms.enable_key_rotation, KeyId=key_id)[:2] == (
        "UnsupportedOperationException",
        f"{arn} origin is EXTERNAL_KEY_STORE which is not valid for this operation.",
    )
    assert error_from(kms.rotate_key_on_demand, KeyId=key_id)[0] == "UnsupportedOperationException"
    assert error_from(kms.generate_random, NumberOfBytes=8, CustomKeyStoreId=main_store)[0] == (
        "UnsupportedOperationException"
    )


def test_an_external_key_must_exist_fit_and_serve_one_key(kms: Any, main_store: str) -> None:
    assert error_from(xks_key, kms=kms, store_id=main_store, xks_key_id="no-such-key")[0] == ("XksKeyNotFoundException")
    assert error_from(xks_key, kms=kms, store_id=main_store, xks_key_id=SHORT_KEY)[0] == (
        "XksKeyInvalidConfigurationException"
    )
    assert error_from(xks_key, kms=kms, store_id=main_store, xks_key_id=ENCRYPT_ONLY_KEY)[0] == (
        "XksKeyInvalidConfigurationException"
    )
    # One KMS key per external key in the store.
    xks_key_of(kms, main_store, EXTERNAL_KEY)
    assert error_from(xks_key, kms=kms, store_id=main_store, xks_key_id=EXTERNAL_KEY)[0] == (
        "XksKeyAlreadyInUseException"
    )
    code, message, _ = error_from(kms.create_key, Origin="EXTERNAL_KEY_STORE", CustomKeyStoreId=main_store)
    assert (code, message) == ("ValidationException", "XksKeyId is required when Origin is EXTERNAL_KEY_STORE.")
    assert error_from(kms.create_key, XksKeyId=EXTERNAL_KEY)[0] == "ValidationException"
    assert error_from(kms.create_key, Origin="AWS_CLOUDHSM", CustomKeyStoreId=main_store)[0] == ("ValidationException")


def test_a_disconnected_store_makes_its_keys_unavailable(kms: Any, main_store: str) -> None:
    metadata = kms.describe_key(KeyId=xks_key_of(kms, main_store, SECOND_KEY))["KeyMetadata"]
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    kms.disconnect_custom_key_store(CustomKeyStoreId=main_store)
    try:
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Unavailable"
        assert error_from(kms.encrypt, KeyId=key_id, Plaintext=b"x")[:2] == (
            "KMSInvalidStateException",
            f"{arn} is unavailable.",
        )
        assert error_from(kms.decrypt, CiphertextBlob=blob)[0] == "KMSInvalidStateException"
        assert error_from(xks_key, kms=kms, store_id=main_store, xks_key_id="another")[0] == (
            "CustomKeyStoreInvalidStateException"
        )
    finally:
        kms.connect_custom_key_store(CustomKeyStoreId=main_store)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"


def xks_key_of(kms: Any, store_id: str, xks_key_id: str) -> str:
    """The KMS key that references ``xks_key_id`` in the store, made if there is none yet."""
    for key in kms.list_keys(Limit=1000)["Keys"]:
        metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
        if metadata.get("CustomKeyStoreId") == store_id and metadata["XksKeyConfiguration"]["Id"] == xks_key_id:
            if metadata["KeyState"] == "PendingDeletion":
                continue
            return str(metadata["KeyId"])
    return str(xks_key(kms, store_id, xks_key_id)["KeyId"])


def test_key_origin_conditions_and_a_denied_call(server: KmsdServer, kms: Any, main_store: str) -> None:
    iam = server.root_client("iam")
    user = f"xks-user-{os.urandom(4).hex()}"
    iam.create_user(UserName=user)
    user_arn = iam.get_user(UserName=user)["User"]["Arn"]
    created = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = server.client("kms", access_key=created["AccessKeyId"], secret_key=created["SecretAccessKey"])
    code, message, status = error_from(
        as_user.create_custom_key_store,
        CustomKeyStoreName="denied",
        CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyUriEndpoint=ENDPOINT,
        XksProxyUriPath=path_of(SPARE),
        XksProxyAuthenticationCredential=credential(),
    )
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        f"User: {user_arn} is not authorized to perform: kms:CreateCustomKeyStore on resource: * "
        "because no identity-based policy allows the kms:CreateCustomKeyStore action"
    )
    # kms:KeyOrigin: the user may create keys in external key stores only.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "kms:CreateKey",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:KeyOrigin": "EXTERNAL_KEY_STORE"}},
            }
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="xks-only", PolicyDocument=json.dumps(policy))
    code, message, _ = error_from(as_user.create_key)
    assert code == "AccessDeniedException" and "kms:CreateKey on resource: " in message
    assert xks_key(as_user, main_store, POLICY_KEY)["Origin"] == "EXTERNAL_KEY_STORE"


def test_the_purge_leaves_the_external_key_in_the_token(tmp_path: Path, stores: Stores, softhsm: SoftHsm) -> None:
    os.environ.update(softhsm.env)
    try:
        with in_process_server(
            tmp_path, stores.new(tmp_path), sweep_interval=0.05, pkcs11_module=softhsm.module
        ) as running:
            kms, clock = running.kms, running.clock
            store_id = public_store(kms, "purge", PURGE)
            kms.connect_custom_key_store(CustomKeyStoreId=store_id)
            key_id = xks_key(kms, store_id, EXTERNAL_KEY)["KeyId"]
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
            clock.advance(timedelta(days=7, seconds=1))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                if error_from(kms.describe_key, KeyId=key_id)[0] == "NotFoundException":
                    break
                time.sleep(0.05)
            assert error_from(kms.describe_key, KeyId=key_id)[0] == "NotFoundException"
            # The operator's key is still there, and a new KMS key may reference it.
            assert softhsm.key_object(PURGE, PIN, EXTERNAL_KEY)["found"] is True
            again = xks_key(kms, store_id, EXTERNAL_KEY)["KeyId"]
            assert kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=again, Plaintext=b"x")["CiphertextBlob"])[
                "Plaintext"
            ] == (b"x")
    finally:
        os.environ.pop("SOFTHSM2_CONF", None)


def test_no_secret_reaches_the_log_or_the_database(server: KmsdServer, kms: Any, main_store: str) -> None:
    # Run last in this module: every secret above has been sent by now.
    assert describe(kms, main_store)["ConnectionState"] == "CONNECTED"
    for secret in (PIN, WRONG_PIN):
        assert secret not in server.output()
        stored = stored_contents(server.store_url)
        assert stored, "the store holds nothing to search"
        for where, content in stored.items():
            assert secret.encode() not in content, where
