"""GetKeyLastUsage and the records behind it, on the KMS service with a manual clock.

A successful cryptographic call records each key it used (both of ReEncrypt's), at most once a minute per
key; refused calls and DryRun record nothing; the answer is an empty KeyLastUsage until a use is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from kmsd.clock import ManualClock
from kmsd.errors import AwsError
from kmsd.kms.key_usage import KeyUsageRecorder
from kmsd.kms.service import KmsService
from kmsd.store.base import StoreError
from kmsd.store.sqlite import SqliteStore
from tests.kms.conftest import OTHER_ACCOUNT, Kms, caller_for


def test_a_new_key_has_no_use_and_tracking_from_its_creation(kms: Kms) -> None:
    key = kms.create_key()
    answer = kms("GetKeyLastUsage", KeyId=key["Arn"])
    assert answer == {
        "KeyId": key["KeyId"],
        "KeyLastUsage": {},
        "TrackingStartDate": key["CreationDate"],
        "KeyCreationDate": key["CreationDate"],
    }


def test_uses_are_recorded_at_most_once_a_minute(kms: Kms, clock: ManualClock) -> None:
    key = kms.create_key()
    sealed = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    used_at = clock.now()
    usage = kms("GetKeyLastUsage", KeyId=key["KeyId"])["KeyLastUsage"]
    assert usage == {"Operation": "Encrypt", "Timestamp": used_at, "KmsRequestId": "test-request"}
    clock.advance(timedelta(seconds=30))
    kms("Decrypt", CiphertextBlob=sealed)
    assert kms("GetKeyLastUsage", KeyId=key["KeyId"])["KeyLastUsage"]["Operation"] == "Encrypt"
    clock.advance(timedelta(seconds=31))
    kms("Decrypt", CiphertextBlob=sealed)
    usage = kms("GetKeyLastUsage", KeyId=key["KeyId"])["KeyLastUsage"]
    assert (usage["Operation"], usage["Timestamp"]) == ("Decrypt", clock.now())


def test_re_encrypt_records_both_keys_and_failures_record_nothing(kms: Kms) -> None:
    source, destination, signing = (
        kms.create_key(),
        kms.create_key(),
        kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY"),
    )
    sealed = kms("Encrypt", KeyId=source["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    kms("ReEncrypt", CiphertextBlob=sealed, DestinationKeyId=destination["KeyId"])
    assert kms("GetKeyLastUsage", KeyId=destination["KeyId"])["KeyLastUsage"]["Operation"] == "ReEncrypt"
    with pytest.raises(AwsError):
        kms("Sign", KeyId=signing["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256", DryRun=True)
    with pytest.raises(AwsError):
        kms("Sign", KeyId=signing["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_384")
    assert kms("GetKeyLastUsage", KeyId=signing["KeyId"])["KeyLastUsage"] == {}
    kms("Sign", KeyId=signing["KeyId"], Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert kms("GetKeyLastUsage", KeyId=signing["KeyId"])["KeyLastUsage"]["Operation"] == "Sign"
    # Describing a key is no cryptographic use.
    other = kms.create_key()
    kms("DescribeKey", KeyId=other["KeyId"])
    assert kms("GetKeyLastUsage", KeyId=other["KeyId"])["KeyLastUsage"] == {}


def test_any_key_state_and_not_across_accounts(kms: Kms) -> None:
    key = kms.create_key()
    kms("DisableKey", KeyId=key["KeyId"])
    assert kms("GetKeyLastUsage", KeyId=key["KeyId"])["KeyLastUsage"] == {}
    with pytest.raises(AwsError) as raised:
        kms.as_caller(caller_for(OTHER_ACCOUNT))("GetKeyLastUsage", KeyId=key["Arn"])
    assert raised.value.code == "NotFoundException"


def test_records_go_through_submit(service: KmsService, store: SqliteStore, clock: ManualClock) -> None:
    tasks: list[Callable[[], None]] = []
    service.record_usage_with(tasks.append)
    kms = Kms(service, caller_for())
    key = kms.create_key()
    for _ in range(5):
        kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"p")
    assert len(tasks) == 1
    assert store.get_key_last_usage(key["KeyId"], "us-east-1") is None
    tasks[0]()
    record = store.get_key_last_usage(key["KeyId"], "us-east-1")
    assert record is not None and record.operation == "Encrypt"


class FailingStore:
    """A store whose every write of a key's use fails."""

    def record_key_use(self, key_id: str, region: str, operation: str, when: object, request_id: str) -> None:
        raise StoreError("disk full")


def test_a_failing_write_never_fails_the_call(clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    recorder = KeyUsageRecorder(FailingStore())  # type: ignore[arg-type]
    recorder.note("Encrypt", [("k", "us-east-1")], "r", clock.now())
    assert "could not record the use of key k" in caplog.text
