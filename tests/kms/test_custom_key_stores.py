"""Custom key stores through :class:`KmsService` where no token is involved: a server without a PKCS#11 module
or without python-pkcs11, the password kept wrapped, and the Unavailable column of the key state table.

The operations against real tokens are tested through ``kmsd serve`` and SoftHSM2 in
``tests/integration/test_kms_custom_key_stores.py``.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import CryptoError, FileRootKey
from kmsd.hsm import MISSING_BINDING, Pkcs11Module, TokenError
from kmsd.kms.key_states import require_state
from kmsd.kms.token_keys import TokenCallOffLoop, password_purpose
from kmsd.store.models import CustomKeyStoreRecord, KeyRecord, TokenKeyRecord
from kmsd.store.sqlite import SqliteStore
from tests.kms.aws_errors import aws_error
from tests.kms.conftest import ACCOUNT, REGION, Kms

PIN = "kmsd-user-pin"


def stored_key_store(store: SqliteStore, root_key: FileRootKey, clock: ManualClock) -> CustomKeyStoreRecord:
    """A key store as a server with a PKCS#11 module would have created it."""
    record = CustomKeyStoreRecord(
        custom_key_store_id="cks-0123456789abcdef0",
        account_id=ACCOUNT,
        region=REGION,
        custom_key_store_name="made-elsewhere",
        custom_key_store_type="AWS_CLOUDHSM",
        cloud_hsm_cluster_id="cluster-kmsdtokenaaaa",
        trust_anchor_certificate="-----BEGIN CERTIFICATE-----",
        wrapped_key_store_password=root_key.wrap(PIN.encode(), password_purpose("cks-0123456789abcdef0")),
        connection_state="DISCONNECTED",
        creation_date=clock.now(),
    )
    store.insert_custom_key_store(record)
    return record


def test_a_server_without_a_pkcs11_module_creates_no_key_store(kms: Kms) -> None:
    with aws_error(
        "UnsupportedOperationException",
        "kmsd serve was started without --pkcs11-module, so it has no PKCS#11 tokens for custom key stores.",
    ):
        kms(
            "CreateCustomKeyStore",
            CustomKeyStoreName="hsm",
            CloudHsmClusterId="cluster-kmsdtokenaaaa",
            TrustAnchorCertificate="-----BEGIN CERTIFICATE-----",
            KeyStorePassword=PIN,
        )


def test_a_server_without_a_pkcs11_module_fails_to_connect_with_cluster_not_found(
    kms: Kms, store: SqliteStore, root_key: FileRootKey, clock: ManualClock
) -> None:
    record = stored_key_store(store, root_key, clock)
    assert kms("ConnectCustomKeyStore", CustomKeyStoreId=record.custom_key_store_id) == {}
    (entry,) = kms("DescribeCustomKeyStores")["CustomKeyStores"]
    assert (entry["ConnectionState"], entry["ConnectionErrorCode"]) == ("FAILED", "CLUSTER_NOT_FOUND")
    assert set(entry) == {
        "CustomKeyStoreId",
        "CustomKeyStoreName",
        "CloudHsmClusterId",
        "TrustAnchorCertificate",
        "ConnectionState",
        "ConnectionErrorCode",
        "CreationDate",
        "CustomKeyStoreType",
    }


def test_the_password_is_kept_wrapped_for_its_key_store_only(
    store: SqliteStore, root_key: FileRootKey, clock: ManualClock
) -> None:
    record = stored_key_store(store, root_key, clock)
    stored = store.get_custom_key_store(record.custom_key_store_id)
    assert stored is not None and PIN.encode() not in stored.wrapped_key_store_password
    assert root_key.unwrap(stored.wrapped_key_store_password, password_purpose(record.custom_key_store_id)) == (
        PIN.encode()
    )
    with pytest.raises(CryptoError):
        root_key.unwrap(stored.wrapped_key_store_password, password_purpose("cks-00000000000000000"))


def test_without_python_pkcs11_a_module_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # A None entry in sys.modules makes `import pkcs11` raise ImportError, as on a machine without the extra.
    monkeypatch.setitem(sys.modules, "pkcs11", None)
    with pytest.raises(TokenError) as raised:
        Pkcs11Module("/usr/lib/softhsm/libsofthsm2.so").has_token("cluster-kmsdtokenaaaa")
    assert str(raised.value) == MISSING_BINDING
    assert raised.value.connection_error_code == "INTERNAL_ERROR"


def test_other_accounts_key_stores_are_not_found(
    kms: Kms, store: SqliteStore, root_key: FileRootKey, clock: ManualClock
) -> None:
    record = stored_key_store(store, root_key, clock)
    store.update_custom_key_store(replace(record, connection_state="DISCONNECTED"))
    other = kms.as_caller(replace(kms.caller, region="eu-west-1"))
    with aws_error("CustomKeyStoreNotFoundException"):
        other("DeleteCustomKeyStore", CustomKeyStoreId=record.custom_key_store_id)
    assert other("DescribeCustomKeyStores")["CustomKeyStores"] == []


def unavailable_key() -> KeyRecord:
    return KeyRecord(
        key_id="0a1b2c3d-0000-4000-8000-000000000001",
        account_id=ACCOUNT,
        region=REGION,
        description="",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_CLOUDHSM",
        key_state="Unavailable",
        creation_date=datetime(2026, 1, 1, tzinfo=UTC),
        policy="{}",
        current_material_version=1,
    )


@pytest.mark.parametrize("operation", ["Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey"])
def test_an_unavailable_key_refuses_cryptographic_operations(operation: str) -> None:
    key = unavailable_key()
    # "Key states of AWS KMS keys", footnote [11]: KMSInvalidStateException.
    with aws_error("KMSInvalidStateException", f"{key.arn} is unavailable."):
        require_state(operation, key)


@pytest.mark.parametrize(
    "operation",
    ["DescribeKey", "EnableKey", "DisableKey", "TagResource", "ScheduleKeyDeletion", "PutKeyPolicy", "CreateGrant"],
)
def test_an_unavailable_key_can_be_managed(operation: str) -> None:
    require_state(operation, unavailable_key())


def test_an_unavailable_key_is_not_pending_deletion() -> None:
    key = unavailable_key()
    with aws_error("KMSInvalidStateException", f"{key.arn} is not pending deletion."):
        require_state("CancelKeyDeletion", key)


def test_a_call_on_the_event_loop_that_needs_a_token_stops_before_it_acts(
    kms: Kms, store: SqliteStore, root_key: FileRootKey, clock: ManualClock
) -> None:
    # kmsd.api.app runs small reads inline; one that would wait for an HSM is handed to a thread instead.
    record = stored_key_store(store, root_key, clock)
    key = replace(unavailable_key(), key_state="Enabled")
    store.insert_key(key)
    store.insert_token_key(TokenKeyRecord(key.key_id, REGION, record.custom_key_store_id, key.key_id, "ab" * 32))
    with pytest.raises(TokenCallOffLoop):
        kms.service.call("Encrypt", {"KeyId": key.key_id, "Plaintext": b"x"}, kms.caller, inline=True)
    with pytest.raises(TokenCallOffLoop):
        kms.service.call(
            "GenerateRandom",
            {"NumberOfBytes": 8, "CustomKeyStoreId": record.custom_key_store_id},
            kms.caller,
            inline=True,
        )
    # A key kmsd holds itself is served inline as before.
    own = kms.create_key()["KeyId"]
    assert kms.service.call("Encrypt", {"KeyId": own, "Plaintext": b"x"}, kms.caller, inline=True)["KeyId"]
