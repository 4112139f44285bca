"""Custom key stores on SoftHSM2 tokens through a real ``kmsd serve --pkcs11-module`` and boto3.

The tests initialise their own SoftHSM2 tokens in a temporary directory (``softhsm2-util --init-token``),
whose labels are the key stores' CloudHsmClusterIds and whose user PINs are their KeyStorePasswords.  They
drive every custom key store operation, CreateKey with Origin AWS_CLOUDHSM, the cryptographic operations
run inside the token, the Unavailable key state of a disconnected store, and check from outside kmsd,
with python-pkcs11, that a key's material is a sensitive, non-extractable token object.
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers.aws_errors import error_from
from tests.helpers.softhsm import SoftHsm, new_softhsm
from tests.integration.server import KmsdServer, in_process_server
from tests.integration.store_contents import stored_contents
from tests.integration.stores import Stores

PIN = "kmsd-user-pin"
# Token labels are the key stores' CloudHsmClusterIds, so they follow its pattern: cluster-[2-7a-zA-Z]{11,16}.
TOKEN = "cluster-kmsdtokenmain"
OTHER_TOKENS = ("cluster-kmsdtokentwo", "cluster-kmsdtokenthree", "cluster-kmsdtokenfour", "cluster-kmsdtokenfive")
WRONG_PIN_TOKEN = "cluster-kmsdwrongpin"
UNAVAILABLE_TOKEN = "cluster-kmsdtokenunavail"
SPARE_TOKEN = "cluster-kmsdtokenspare"
ELSEWHERE_TOKEN = "cluster-kmsdelsewhere"
DELETE_TOKEN = "cluster-kmsdtokendelete"
CANCEL_TOKEN = "cluster-kmsdtokencancel"
MISSING_TOKEN = "cluster-kmsdnosuchtoken"


def trust_anchor() -> str:
    """A self-signed CA certificate in PEM, like a cluster's customerCA.crt."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kmsd test customer CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


ANCHOR = trust_anchor()


@pytest.fixture(scope="module")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    hsm = new_softhsm(tmp_path_factory.mktemp("softhsm"))
    # SoftHSM2 reads its token directory when a process loads it: every token exists before kmsd starts.
    for label in (
        TOKEN,
        *OTHER_TOKENS,
        WRONG_PIN_TOKEN,
        UNAVAILABLE_TOKEN,
        SPARE_TOKEN,
        ELSEWHERE_TOKEN,
        DELETE_TOKEN,
        CANCEL_TOKEN,
    ):
        hsm.init_token(label, PIN)
    return hsm


@pytest.fixture(scope="module")
def hsm_server(tmp_path_factory: pytest.TempPathFactory, stores: Stores, softhsm: SoftHsm) -> Iterator[KmsdServer]:
    data_dir = tmp_path_factory.mktemp("kmsd-hsm")
    running = softhsm.server(data_dir, stores.new(data_dir)).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def kms(hsm_server: KmsdServer) -> Any:
    return hsm_server.root_client()


@pytest.fixture(scope="module")
def connected_store(kms: Any) -> str:
    store_id = str(
        kms.create_custom_key_store(
            CustomKeyStoreName="main", CloudHsmClusterId=TOKEN, TrustAnchorCertificate=ANCHOR, KeyStorePassword=PIN
        )["CustomKeyStoreId"]
    )
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
    return store_id


def describe(kms: Any, store_id: str) -> dict[str, Any]:
    (entry,) = kms.describe_custom_key_stores(CustomKeyStoreId=store_id)["CustomKeyStores"]
    return dict(entry)


def hsm_key(kms: Any, store_id: str, **params: Any) -> dict[str, Any]:
    return dict(kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id, **params)["KeyMetadata"])


def test_a_key_store_is_created_disconnected_and_described(kms: Any) -> None:
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName="described",
        CloudHsmClusterId=OTHER_TOKENS[0],
        TrustAnchorCertificate=ANCHOR,
        KeyStorePassword=PIN,
    )["CustomKeyStoreId"]
    assert store_id.startswith("cks-") and len(store_id) == 21
    entry = describe(kms, store_id)
    assert entry["CustomKeyStoreName"] == "described"
    assert entry["CloudHsmClusterId"] == OTHER_TOKENS[0]
    assert entry["TrustAnchorCertificate"] == ANCHOR
    assert entry["ConnectionState"] == "DISCONNECTED"
    assert entry["CustomKeyStoreType"] == "AWS_CLOUDHSM"
    assert "ConnectionErrorCode" not in entry and "KeyStorePassword" not in entry
    by_name = kms.describe_custom_key_stores(CustomKeyStoreName="described")["CustomKeyStores"]
    assert [store["CustomKeyStoreId"] for store in by_name] == [store_id]
    kms.update_custom_key_store(CustomKeyStoreId=store_id, NewCustomKeyStoreName="renamed")
    assert describe(kms, store_id)["CustomKeyStoreName"] == "renamed"
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    assert error_from(kms.describe_custom_key_stores, CustomKeyStoreId=store_id)[0] == (
        "CustomKeyStoreNotFoundException"
    )


def test_the_errors_of_creating_and_describing_key_stores(kms: Any, connected_store: str) -> None:
    create = {"TrustAnchorCertificate": ANCHOR, "KeyStorePassword": PIN}
    assert error_from(
        kms.create_custom_key_store, CustomKeyStoreName="main", CloudHsmClusterId=OTHER_TOKENS[1], **create
    )[0] == ("CustomKeyStoreNameInUseException")
    assert error_from(kms.create_custom_key_store, CustomKeyStoreName="again", CloudHsmClusterId=TOKEN, **create)[
        0
    ] == ("CloudHsmClusterInUseException")
    assert error_from(
        kms.create_custom_key_store, CustomKeyStoreName="lost", CloudHsmClusterId=MISSING_TOKEN, **create
    )[0] == ("CloudHsmClusterNotFoundException")
    assert error_from(
        kms.create_custom_key_store,
        CustomKeyStoreName="bad-anchor",
        CloudHsmClusterId=OTHER_TOKENS[1],
        TrustAnchorCertificate="not a certificate",
        KeyStorePassword=PIN,
    )[0] == ("IncorrectTrustAnchorException")
    code, message, _ = error_from(
        kms.create_custom_key_store, CustomKeyStoreName="no-pin", CloudHsmClusterId=OTHER_TOKENS[1]
    )
    assert (code, message) == (
        "ValidationException",
        "TrustAnchorCertificate is required for a custom key store of type AWS_CLOUDHSM.",
    )
    code, _, _ = error_from(
        kms.create_custom_key_store,
        CustomKeyStoreName="xks",
        CustomKeyStoreType="EXTERNAL_KEY_STORE",
        XksProxyConnectivity="PUBLIC_ENDPOINT",
        XksProxyUriEndpoint="https://xks.example.com",
        XksProxyUriPath="/kms/xks/v1",
        XksProxyAuthenticationCredential={"AccessKeyId": "A" * 20, "RawSecretAccessKey": "s" * 43},
    )
    # The path has no prefix, so the endpoint's host names the token, and there is no such token.
    assert code == "XksProxyUriUnreachableException"
    assert error_from(kms.describe_custom_key_stores, CustomKeyStoreName="nope")[0] == (
        "CustomKeyStoreNotFoundException"
    )
    assert error_from(kms.describe_custom_key_stores, CustomKeyStoreId=connected_store, CustomKeyStoreName="main")[
        0
    ] == ("ValidationException")
    assert error_from(kms.connect_custom_key_store, CustomKeyStoreId="cks-00000000000000000")[0] == (
        "CustomKeyStoreNotFoundException"
    )


def test_describe_pages_with_limit_and_marker(kms: Any, connected_store: str) -> None:
    created = [
        kms.create_custom_key_store(
            CustomKeyStoreName=f"page-{n}",
            CloudHsmClusterId=label,
            TrustAnchorCertificate=ANCHOR,
            KeyStorePassword=PIN,
        )["CustomKeyStoreId"]
        for n, label in enumerate(OTHER_TOKENS[2:])
    ]
    seen: list[str] = []
    page = kms.describe_custom_key_stores(Limit=1)
    while True:
        assert len(page["CustomKeyStores"]) == 1
        seen.extend(store["CustomKeyStoreId"] for store in page["CustomKeyStores"])
        if not page["Truncated"]:
            break
        page = kms.describe_custom_key_stores(Limit=1, Marker=page["NextMarker"])
    assert set(created) | {connected_store} <= set(seen) and len(seen) == len(set(seen))
    for store_id in created:
        kms.delete_custom_key_store(CustomKeyStoreId=store_id)


def test_keys_are_made_and_used_inside_the_token(kms: Any, softhsm: SoftHsm, connected_store: str) -> None:
    metadata = hsm_key(kms, connected_store, Description="in the token")
    key_id = metadata["KeyId"]
    assert (metadata["Origin"], metadata["KeyState"], metadata["KeySpec"]) == (
        "AWS_CLOUDHSM",
        "Enabled",
        "SYMMETRIC_DEFAULT",
    )
    assert metadata["CustomKeyStoreId"] == connected_store and metadata["CloudHsmClusterId"] == TOKEN
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (described["CustomKeyStoreId"], described["CloudHsmClusterId"]) == (connected_store, TOKEN)

    context = {"tenant": "t-42"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"sealed in the hsm", EncryptionContext=context)["CiphertextBlob"]
    opened = kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)
    assert opened["Plaintext"] == b"sealed in the hsm" and opened["KeyId"] == metadata["Arn"]
    assert error_from(kms.decrypt, CiphertextBlob=blob, EncryptionContext={"tenant": "other"})[0] == (
        "InvalidCiphertextException"
    )
    data_key = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    without = kms.generate_data_key_without_plaintext(KeyId=key_id, NumberOfBytes=24)
    assert len(kms.decrypt(CiphertextBlob=without["CiphertextBlob"])["Plaintext"]) == 24

    # ReEncrypt across the two kinds of key, both ways.
    software_key = kms.create_key()["KeyMetadata"]["KeyId"]
    moved = kms.re_encrypt(
        CiphertextBlob=blob,
        SourceEncryptionContext=context,
        DestinationKeyId=software_key,
    )["CiphertextBlob"]
    back = kms.re_encrypt(CiphertextBlob=moved, DestinationKeyId=key_id)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=back, KeyId=key_id)["Plaintext"] == b"sealed in the hsm"

    random = kms.generate_random(NumberOfBytes=48, CustomKeyStoreId=connected_store)["Plaintext"]
    assert len(random) == 48

    # From outside kmsd: the key is an AES-256 token object that can never be read or wrapped out.
    facts = softhsm.key_object(TOKEN, PIN, key_id)
    assert facts == {
        "found": True,
        "key_bits": 256,
        "SENSITIVE": True,
        "EXTRACTABLE": False,
        "ALWAYS_SENSITIVE": True,
        "NEVER_EXTRACTABLE": True,
        "TOKEN": True,
        "PRIVATE": True,
        "WRAP": False,
        "value_readable": False,
    }


def test_data_key_pairs_are_sealed_in_the_token(kms: Any, connected_store: str) -> None:
    key_id = hsm_key(kms, connected_store)["KeyId"]
    pair = kms.generate_data_key_pair(KeyId=key_id, KeyPairSpec="ECC_NIST_P256")
    opened = kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])
    assert opened["Plaintext"] == pair["PrivateKeyPlaintext"] and opened["KeyId"] == pair["KeyId"]


def test_another_server_on_the_same_store_logs_in_to_the_token_itself(
    hsm_server: KmsdServer, kms: Any, softhsm: SoftHsm, connected_store: str
) -> None:
    key_id = hsm_key(kms, connected_store)["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"from the first")["CiphertextBlob"]
    second = softhsm.server(hsm_server.data_dir, hsm_server.store_url).start()
    try:
        other = second.root_client()
        assert other.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from the first"
        answer = other.encrypt(KeyId=key_id, Plaintext=b"from the second")["CiphertextBlob"]
    finally:
        second.stop()
    assert kms.decrypt(CiphertextBlob=answer)["Plaintext"] == b"from the second"


def test_the_keys_a_custom_key_store_cannot_hold(kms: Any, connected_store: str) -> None:
    code, _, _ = error_from(
        kms.create_key,
        Origin="AWS_CLOUDHSM",
        CustomKeyStoreId=connected_store,
        KeySpec="RSA_2048",
        KeyUsage="SIGN_VERIFY",
    )
    assert code == "UnsupportedOperationException"
    assert error_from(kms.create_key, Origin="AWS_CLOUDHSM", CustomKeyStoreId=connected_store, MultiRegion=True)[0] == (
        "UnsupportedOperationException"
    )
    assert error_from(kms.create_key, Origin="AWS_CLOUDHSM")[0] == "ValidationException"
    assert error_from(kms.create_key, Origin="AWS_CLOUDHSM", CustomKeyStoreId="cks-00000000000000000")[0] == (
        "CustomKeyStoreNotFoundException"
    )
    key_arn = hsm_key(kms, connected_store)["Arn"]
    # "Rotate AWS KMS keys": keys in custom key stores cannot be rotated.
    assert error_from(kms.enable_key_rotation, KeyId=key_arn)[:2] == (
        "UnsupportedOperationException",
        f"{key_arn} origin is AWS_CLOUDHSM which is not valid for this operation.",
    )
    assert error_from(kms.rotate_key_on_demand, KeyId=key_arn)[0] == "UnsupportedOperationException"


def test_a_wrong_pin_fails_the_connection_until_the_password_is_updated(kms: Any, softhsm: SoftHsm) -> None:
    label = WRONG_PIN_TOKEN
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName="wrong-pin",
        CloudHsmClusterId=label,
        TrustAnchorCertificate=ANCHOR,
        KeyStorePassword="not-the-pin",
    )["CustomKeyStoreId"]
    assert kms.connect_custom_key_store(CustomKeyStoreId=store_id)["ResponseMetadata"]["HTTPStatusCode"] == 200
    entry = describe(kms, store_id)
    assert (entry["ConnectionState"], entry["ConnectionErrorCode"]) == ("FAILED", "INVALID_CREDENTIALS")
    # CustomKeyStoreInvalidStateException: connecting a FAILED store needs a disconnect first.
    assert error_from(kms.connect_custom_key_store, CustomKeyStoreId=store_id)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    assert error_from(kms.create_key, Origin="AWS_CLOUDHSM", CustomKeyStoreId=store_id)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    assert error_from(kms.update_custom_key_store, CustomKeyStoreId=store_id, KeyStorePassword=PIN)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "DISCONNECTED"
    assert error_from(kms.disconnect_custom_key_store, CustomKeyStoreId=store_id)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    kms.update_custom_key_store(CustomKeyStoreId=store_id, KeyStorePassword=PIN)
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)


def test_a_token_the_server_cannot_see_fails_the_connection_with_cluster_not_found(
    hsm_server: KmsdServer, kms: Any, tmp_path: Path
) -> None:
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName="elsewhere",
        CloudHsmClusterId=ELSEWHERE_TOKEN,
        TrustAnchorCertificate=ANCHOR,
        KeyStorePassword=PIN,
    )["CustomKeyStoreId"]
    # A second server on the same store whose PKCS#11 module has no such token (an empty token directory).
    blind_hsm = new_softhsm(tmp_path / "blind")
    blind = blind_hsm.server(hsm_server.data_dir, hsm_server.store_url).start()
    try:
        blind.root_client().connect_custom_key_store(CustomKeyStoreId=store_id)
    finally:
        blind.stop()
    entry = describe(kms, store_id)
    assert (entry["ConnectionState"], entry["ConnectionErrorCode"]) == ("FAILED", "CLUSTER_NOT_FOUND")
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)


def test_a_token_made_after_the_server_started_is_found(tmp_path: Path, stores: Stores) -> None:
    # SoftHSM2 lists its tokens when a process loads it; a server holding no session looks again.
    late_hsm = new_softhsm(tmp_path / "late")
    server = late_hsm.server(tmp_path / "kmsd", stores.new(tmp_path / "kmsd")).start()
    try:
        kms = server.root_client()
        create = {"TrustAnchorCertificate": ANCHOR, "KeyStorePassword": PIN}
        assert error_from(kms.create_custom_key_store, CustomKeyStoreName="late", CloudHsmClusterId=TOKEN, **create)[
            0
        ] == ("CloudHsmClusterNotFoundException")
        late_hsm.init_token(TOKEN, PIN)
        store_id = kms.create_custom_key_store(CustomKeyStoreName="late", CloudHsmClusterId=TOKEN, **create)[
            "CustomKeyStoreId"
        ]
        kms.connect_custom_key_store(CustomKeyStoreId=store_id)
        assert describe(kms, store_id)["ConnectionState"] == "CONNECTED"
        key_id = hsm_key(kms, store_id)["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"late")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"late"
    finally:
        server.stop()


def test_update_checks_the_new_token(kms: Any, connected_store: str) -> None:
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName="moved",
        CloudHsmClusterId=OTHER_TOKENS[1],
        TrustAnchorCertificate=ANCHOR,
        KeyStorePassword=PIN,
    )["CustomKeyStoreId"]
    assert error_from(kms.update_custom_key_store, CustomKeyStoreId=store_id, CloudHsmClusterId=MISSING_TOKEN)[0] == (
        "CloudHsmClusterNotFoundException"
    )
    assert error_from(kms.update_custom_key_store, CustomKeyStoreId=store_id, CloudHsmClusterId=TOKEN)[0] == (
        "CloudHsmClusterInUseException"
    )
    assert error_from(kms.update_custom_key_store, CustomKeyStoreId=store_id, NewCustomKeyStoreName="main")[0] == (
        "CustomKeyStoreNameInUseException"
    )
    # Only the name of a connected store may change.
    assert error_from(kms.update_custom_key_store, CustomKeyStoreId=connected_store, KeyStorePassword=PIN)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    kms.update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=SPARE_TOKEN)
    assert describe(kms, store_id)["CloudHsmClusterId"] == SPARE_TOKEN
    kms.update_custom_key_store(CustomKeyStoreId=store_id, CloudHsmClusterId=OTHER_TOKENS[1])
    kms.delete_custom_key_store(CustomKeyStoreId=store_id)


def test_a_disconnected_store_makes_its_keys_unavailable(kms: Any, softhsm: SoftHsm) -> None:
    label = UNAVAILABLE_TOKEN
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName="unavailable", CloudHsmClusterId=label, TrustAnchorCertificate=ANCHOR, KeyStorePassword=PIN
    )["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    metadata = hsm_key(kms, store_id)
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    assert error_from(kms.delete_custom_key_store, CustomKeyStoreId=store_id)[0] == (
        "CustomKeyStoreInvalidStateException"
    )

    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Unavailable"
    assert error_from(kms.encrypt, KeyId=key_id, Plaintext=b"x") == (
        "KMSInvalidStateException",
        f"{arn} is unavailable.",
        400,
    )
    assert error_from(kms.decrypt, CiphertextBlob=blob)[:2] == ("KMSInvalidStateException", f"{arn} is unavailable.")
    assert error_from(kms.generate_random, NumberOfBytes=8, CustomKeyStoreId=store_id)[0] == (
        "CustomKeyStoreInvalidStateException"
    )
    # The key can still be managed; disabling it takes effect when the store is connected again.
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "k", "TagValue": "v"}])
    kms.disable_key(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Unavailable"
    assert error_from(kms.delete_custom_key_store, CustomKeyStoreId=store_id)[0] == "CustomKeyStoreHasCMKsException"
    # A token that does not hold the store's keys is no backup of its own: not related.
    assert error_from(kms.update_custom_key_store, CustomKeyStoreId=store_id, CloudHsmClusterId=SPARE_TOKEN)[0] == (
        "CloudHsmClusterNotRelatedException"
    )

    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=key_id)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"before"


def test_a_key_pending_deletion_stays_so_while_its_store_is_disconnected(kms: Any) -> None:
    # "Troubleshooting a custom key store": keys scheduled for deletion stay PendingDeletion in a disconnected
    # store, "This allows you to cancel the scheduled key deletion without reconnecting"; a cancelled key is
    # Disabled once the store is connected again.
    store_id = kms.create_custom_key_store(
        CustomKeyStoreName="cancel", CloudHsmClusterId=CANCEL_TOKEN, TrustAnchorCertificate=ANCHOR, KeyStorePassword=PIN
    )["CustomKeyStoreId"]
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    key_id = hsm_key(kms, store_id)["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Unavailable"
    kms.connect_custom_key_store(CustomKeyStoreId=store_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_a_denied_call_and_a_grant_that_allows_one(hsm_server: KmsdServer, kms: Any, connected_store: str) -> None:
    iam = hsm_server.root_client("iam")
    user = f"hsm-user-{os.urandom(4).hex()}"
    iam.create_user(UserName=user)
    user_arn = iam.get_user(UserName=user)["User"]["Arn"]
    created = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = hsm_server.client("kms", access_key=created["AccessKeyId"], secret_key=created["SecretAccessKey"])

    code, message, status = error_from(as_user.describe_custom_key_stores)
    assert (code, status) == ("AccessDeniedException", 400)
    assert message == (
        f"User: {user_arn} is not authorized to perform: kms:DescribeCustomKeyStores on resource: * "
        "because no identity-based policy allows the kms:DescribeCustomKeyStores action"
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "kms:DescribeCustomKeyStores", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=user, PolicyName="stores", PolicyDocument=json.dumps(policy))
    assert connected_store in {
        store["CustomKeyStoreId"] for store in as_user.describe_custom_key_stores()["CustomKeyStores"]
    }
    code, message, _ = error_from(as_user.connect_custom_key_store, CustomKeyStoreId=connected_store)
    assert code == "AccessDeniedException" and "kms:ConnectCustomKeyStore on resource: *" in message

    key = hsm_key(kms, connected_store)
    assert error_from(as_user.encrypt, KeyId=key["Arn"], Plaintext=b"x")[0] == "AccessDeniedException"
    token = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Encrypt", "Decrypt"])[
        "GrantToken"
    ]
    blob = as_user.encrypt(KeyId=key["Arn"], Plaintext=b"granted", GrantTokens=[token])["CiphertextBlob"]
    assert as_user.decrypt(CiphertextBlob=blob, GrantTokens=[token])["Plaintext"] == b"granted"


def test_deleting_a_key_destroys_its_token_object(tmp_path: Path, stores: Stores, softhsm: SoftHsm) -> None:
    label = DELETE_TOKEN
    os.environ.update(softhsm.env)
    try:
        with in_process_server(
            tmp_path, stores.new(tmp_path), sweep_interval=0.05, pkcs11_module=softhsm.module
        ) as running:
            kms, clock = running.kms, running.clock
            store_id = kms.create_custom_key_store(
                CustomKeyStoreName="deleting",
                CloudHsmClusterId=label,
                TrustAnchorCertificate=ANCHOR,
                KeyStorePassword=PIN,
            )["CustomKeyStoreId"]
            kms.connect_custom_key_store(CustomKeyStoreId=store_id)
            key_id = hsm_key(kms, store_id)["KeyId"]
            assert softhsm.key_object(label, PIN, key_id)["found"] is True
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
            assert error_from(kms.delete_custom_key_store, CustomKeyStoreId=store_id)[0] == (
                "CustomKeyStoreInvalidStateException"
            )
            clock.advance(timedelta(days=7, seconds=1))
            deadline = time.monotonic() + 10
            while softhsm.key_object(label, PIN, key_id)["found"] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert softhsm.key_object(label, PIN, key_id) == {"found": False}
            assert error_from(kms.describe_key, KeyId=key_id)[0] == "NotFoundException"
            kms.disconnect_custom_key_store(CustomKeyStoreId=store_id)
            kms.delete_custom_key_store(CustomKeyStoreId=store_id)
    finally:
        os.environ.pop("SOFTHSM2_CONF", None)


def test_no_password_reaches_the_log_or_the_database(hsm_server: KmsdServer, kms: Any, connected_store: str) -> None:
    # Run last in this module: every password above has been sent by now.
    assert describe(kms, connected_store)["ConnectionState"] == "CONNECTED"
    for password in (PIN, "not-the-pin"):
        assert password not in hsm_server.output()
        stored = stored_contents(hsm_server.store_url)
        assert stored, "the store holds nothing to search"
        for where, content in stored.items():
            assert password.encode() not in content, where
