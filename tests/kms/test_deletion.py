"""ScheduleKeyDeletion, CancelKeyDeletion, and the key really disappearing when its window ends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import CryptoError
from kmsd.kms.expiry import purge_key
from kmsd.kms.service import KmsService
from kmsd.store.sqlite import SqliteStore

from .aws_errors import aws_error
from .conftest import ACCOUNT, REGION, Kms, customer_aliases


def test_schedule_key_deletion_defaults_to_30_days(kms: Kms, clock: ManualClock) -> None:
    metadata = kms.create_key()
    response = kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"])
    assert response == {
        "KeyId": metadata["Arn"],
        "DeletionDate": clock.now() + timedelta(days=30),
        "KeyState": "PendingDeletion",
        "PendingWindowInDays": 30,
    }
    described = kms("DescribeKey", KeyId=metadata["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "PendingDeletion"
    assert described["Enabled"] is False
    assert described["DeletionDate"] == clock.now() + timedelta(days=30)
    assert described["PendingDeletionWindowInDays"] == 30


@pytest.mark.parametrize("days", [7, 19, 30])
def test_schedule_key_deletion_window_bounds(kms: Kms, clock: ManualClock, days: int) -> None:
    key_id = kms.create_key()["KeyId"]
    response = kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=days)
    assert response["DeletionDate"] == clock.now() + timedelta(days=days)
    assert response["PendingWindowInDays"] == days


@pytest.mark.parametrize(
    ("days", "constraint"),
    [
        (6, "Member must have value greater than or equal to 7"),
        (1, "Member must have value greater than or equal to 7"),
        (31, "Member must have value less than or equal to 30"),
        (365, "Member must have value less than or equal to 30"),
    ],
)
def test_schedule_key_deletion_window_outside_7_to_30(kms: Kms, days: int, constraint: str) -> None:
    key_id = kms.create_key()["KeyId"]
    with aws_error(
        "ValidationException",
        f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy constraint: "
        f"{constraint}",
    ):
        kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=days)
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_schedule_key_deletion_twice(kms: Kms) -> None:
    metadata = kms.create_key()
    kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"])
    with aws_error("KMSInvalidStateException", f"{metadata['Arn']} is pending deletion."):
        kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"])


def test_schedule_deletion_of_a_disabled_key(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("DisableKey", KeyId=key_id)
    assert kms("ScheduleKeyDeletion", KeyId=key_id)["KeyState"] == "PendingDeletion"


def test_cancel_key_deletion_leaves_the_key_disabled(kms: Kms) -> None:
    metadata = kms.create_key()
    kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"])
    assert kms("CancelKeyDeletion", KeyId=metadata["KeyId"]) == {"KeyId": metadata["Arn"]}
    described = kms("DescribeKey", KeyId=metadata["KeyId"])["KeyMetadata"]
    assert described["KeyState"] == "Disabled"
    assert "DeletionDate" not in described
    assert "PendingDeletionWindowInDays" not in described


@pytest.mark.parametrize("disable_first", [False, True])
def test_cancel_key_deletion_of_a_key_not_pending_deletion(kms: Kms, disable_first: bool) -> None:
    metadata = kms.create_key()
    if disable_first:
        kms("DisableKey", KeyId=metadata["KeyId"])
    with aws_error("KMSInvalidStateException", f"{metadata['Arn']} is not pending deletion."):
        kms("CancelKeyDeletion", KeyId=metadata["KeyId"])


def test_key_disappears_lazily_when_its_window_ends(kms: Kms, clock: ManualClock, store: SqliteStore) -> None:
    metadata = kms.create_key()
    key_id = metadata["KeyId"]
    kms("CreateAlias", AliasName="alias/doomed", TargetKeyId=key_id)
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    clock.advance(timedelta(seconds=1))
    with aws_error("NotFoundException", f"Key '{metadata['Arn']}' does not exist"):
        kms("DescribeKey", KeyId=key_id)
    # Deleted, not hidden: the key, its material and its aliases are gone from the store.
    assert store.get_key(key_id, REGION) is None
    assert store.list_key_materials(key_id) == []
    assert store.list_aliases(ACCOUNT, REGION) == []
    with aws_error("NotFoundException", f"Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/doomed is not found."):
        kms("DescribeKey", KeyId="alias/doomed")
    assert kms("ListKeys")["Keys"] == []


def test_sweep_deletes_keys_whose_window_ended(
    kms: Kms, service: KmsService, clock: ManualClock, store: SqliteStore
) -> None:
    doomed = kms.create_key()["KeyId"]
    later = kms.create_key()["KeyId"]
    kept = kms.create_key()["KeyId"]
    kms("TagResource", KeyId=doomed, Tags=[{"TagKey": "k", "TagValue": "v"}])
    kms("CreateAlias", AliasName="alias/doomed", TargetKeyId=doomed)
    kms("CreateAlias", AliasName="alias/kept", TargetKeyId=kept)
    kms("ScheduleKeyDeletion", KeyId=doomed, PendingWindowInDays=7)
    kms("ScheduleKeyDeletion", KeyId=later, PendingWindowInDays=30)
    service.context.materials.plaintext(doomed, 1)  # cached in memory: sweep must drop it too
    clock.advance(timedelta(days=8))
    service.sweep()
    assert store.get_key(doomed, REGION) is None
    assert store.list_key_materials(doomed) == []
    assert [alias.alias_name for alias in store.list_aliases(ACCOUNT, REGION)] == ["alias/kept"]
    with pytest.raises(CryptoError):
        service.context.materials.plaintext(doomed, 1)
    remaining = {entry["KeyId"] for entry in kms("ListKeys")["Keys"]}
    assert remaining == {later, kept}
    clock.advance(timedelta(days=30))
    service.sweep()
    assert {entry["KeyId"] for entry in kms("ListKeys")["Keys"]} == {kept}


def test_a_cancelled_deletion_survives_the_window(kms: Kms, service: KmsService, clock: ManualClock) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    kms("CancelKeyDeletion", KeyId=key_id)
    clock.advance(timedelta(days=60))
    service.sweep()
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"


def test_a_purge_reads_the_key_again_and_spares_one_cancelled_or_gone_since(
    kms: Kms, service: KmsService, clock: ManualClock, store: SqliteStore
) -> None:
    # Another process or node sharing the store may cancel the deletion (or purge the key) between the sweep's
    # listing and its purge: the purge decides on the key as it is inside its own transaction.
    key_id = kms.create_key()["KeyId"]
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    stale = store.get_key(key_id, REGION)
    assert stale is not None
    kms("CancelKeyDeletion", KeyId=key_id)
    clock.advance(timedelta(days=8))
    assert purge_key(service.context, stale) is False
    assert kms("DescribeKey", KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    assert store.list_key_materials(key_id) != []
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    clock.advance(timedelta(days=8))
    (listed,) = store.keys_pending_deletion_before(clock.now())
    assert purge_key(service.context, listed) is True
    assert purge_key(service.context, listed) is False
    assert store.get_key(key_id, REGION) is None


def test_a_write_meeting_an_expired_key_still_deletes_it(kms: Kms, clock: ManualClock, store: SqliteStore) -> None:
    metadata = kms.create_key()
    kms("ScheduleKeyDeletion", KeyId=metadata["KeyId"], PendingWindowInDays=7)
    clock.advance(timedelta(days=7))
    with aws_error("NotFoundException", f"Key '{metadata['Arn']}' does not exist"):
        kms("TagResource", KeyId=metadata["KeyId"], Tags=[{"TagKey": "a", "TagValue": "b"}])
    assert store.get_key(metadata["KeyId"], REGION) is None


def test_list_operations_do_not_show_expired_keys_before_the_sweep(
    kms: Kms, clock: ManualClock, store: SqliteStore
) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("CreateAlias", AliasName="alias/expiring", TargetKeyId=key_id)
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    clock.advance(timedelta(days=7))
    assert customer_aliases(kms("ListAliases")) == []
    assert kms("ListKeys")["Keys"] == []
    assert store.get_key(key_id, REGION) is None
