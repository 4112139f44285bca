"""Key rotation: automatic rotation driven by the clock, on-demand rotation, status and the rotation list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kmsd.clock import ManualClock
from kmsd.kms.service import KmsService
from kmsd.store.sqlite import SqliteStore

from .aws_errors import aws_error
from .conftest import Kms


def test_rotation_is_off_for_a_new_key(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    assert kms("GetKeyRotationStatus", KeyId=key_id) == {"KeyId": key_id, "KeyRotationEnabled": False}


def test_enable_rotation_defaults_to_365_days(kms: Kms, clock: ManualClock) -> None:
    key_id = kms.create_key()["KeyId"]
    assert kms("EnableKeyRotation", KeyId=key_id) == {}
    assert kms("GetKeyRotationStatus", KeyId=key_id) == {
        "KeyId": key_id,
        "KeyRotationEnabled": True,
        "RotationPeriodInDays": 365,
        "NextRotationDate": clock.now() + timedelta(days=365),
    }


@pytest.mark.parametrize("days", [90, 1000, 2560])
def test_enable_rotation_with_a_period(kms: Kms, clock: ManualClock, days: int) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=days)
    status = kms("GetKeyRotationStatus", KeyId=key_id)
    assert (status["RotationPeriodInDays"], status["NextRotationDate"]) == (
        days,
        clock.now() + timedelta(days=days),
    )


@pytest.mark.parametrize("days", [89, 2561])
def test_rotation_period_outside_90_to_2560(kms: Kms, days: int) -> None:
    key_id = kms.create_key()["KeyId"]
    with aws_error(
        "ValidationException",
        f"1 validation error detected: Value '{days}' at 'rotationPeriodInDays' failed to satisfy "
        "constraint: Member must have value between 90 and 2560",
    ):
        kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=days)


def test_changing_the_period_counts_from_the_start_of_the_current_period(kms: Kms, clock: ManualClock) -> None:
    key_id = kms.create_key()["KeyId"]
    enabled_at = clock.now()
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=365)
    clock.advance(timedelta(days=10))
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=180)
    assert kms("GetKeyRotationStatus", KeyId=key_id)["NextRotationDate"] == enabled_at + timedelta(days=180)


def test_disable_rotation(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("EnableKeyRotation", KeyId=key_id)
    assert kms("DisableKeyRotation", KeyId=key_id) == {}
    assert kms("GetKeyRotationStatus", KeyId=key_id) == {"KeyId": key_id, "KeyRotationEnabled": False}


def test_rotation_settings_need_an_enabled_key(kms: Kms) -> None:
    metadata = kms.create_key()
    key_id = metadata["KeyId"]
    kms("DisableKey", KeyId=key_id)
    for operation in ("EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand"):
        with aws_error("DisabledException", f"{metadata['Arn']} is disabled."):
            kms(operation, KeyId=key_id)
    kms("ScheduleKeyDeletion", KeyId=key_id)
    for operation in ("EnableKeyRotation", "DisableKeyRotation", "RotateKeyOnDemand"):
        with aws_error("KMSInvalidStateException", f"{metadata['Arn']} is pending deletion."):
            kms(operation, KeyId=key_id)
    assert kms("GetKeyRotationStatus", KeyId=key_id)["KeyRotationEnabled"] is False


def test_automatic_rotation_happens_in_sweep_when_due(
    kms: Kms, service: KmsService, clock: ManualClock, store: SqliteStore
) -> None:
    metadata = kms.create_key()
    key_id = metadata["KeyId"]
    enabled_at = clock.now()
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=90)
    clock.advance(timedelta(days=90) - timedelta(seconds=1))
    service.sweep()
    assert len(store.list_key_materials(key_id)) == 1
    clock.advance(timedelta(seconds=1))
    service.sweep()
    materials = store.list_key_materials(key_id)
    assert [(m.version, m.rotation_type) for m in materials] == [(1, None), (2, "AUTOMATIC")]
    described = kms("DescribeKey", KeyId=key_id)["KeyMetadata"]
    assert described["CurrentKeyMaterialId"] == materials[1].material_id != metadata["CurrentKeyMaterialId"]
    status = kms("GetKeyRotationStatus", KeyId=key_id)
    assert status["NextRotationDate"] == enabled_at + timedelta(days=180)
    service.sweep()  # nothing more is due
    assert len(store.list_key_materials(key_id)) == 2


def test_a_late_sweep_rotates_once_and_schedules_from_now(
    kms: Kms, service: KmsService, clock: ManualClock, store: SqliteStore
) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=90)
    clock.advance(timedelta(days=400))
    service.sweep()
    assert len(store.list_key_materials(key_id)) == 2
    assert kms("GetKeyRotationStatus", KeyId=key_id)["NextRotationDate"] == clock.now() + timedelta(days=90)


def test_disabled_keys_rotate_once_enabled_again(
    kms: Kms, service: KmsService, clock: ManualClock, store: SqliteStore
) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=90)
    kms("DisableKey", KeyId=key_id)
    clock.advance(timedelta(days=100))
    service.sweep()
    assert len(store.list_key_materials(key_id)) == 1
    kms("EnableKey", KeyId=key_id)
    service.sweep()
    assert len(store.list_key_materials(key_id)) == 2


def test_keys_without_rotation_never_rotate(
    kms: Kms, service: KmsService, clock: ManualClock, store: SqliteStore
) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=90)
    kms("DisableKeyRotation", KeyId=key_id)
    clock.advance(timedelta(days=1000))
    service.sweep()
    assert len(store.list_key_materials(key_id)) == 1


def test_rotate_on_demand_keeps_the_automatic_schedule(kms: Kms, clock: ManualClock, store: SqliteStore) -> None:
    created = kms.create_key()
    key_id = created["KeyId"]
    kms("EnableKeyRotation", KeyId=key_id)
    scheduled = kms("GetKeyRotationStatus", KeyId=key_id)["NextRotationDate"]
    clock.advance(timedelta(days=1))
    assert kms("RotateKeyOnDemand", KeyId=key_id) == {"KeyId": created["Arn"]}
    assert [(m.version, m.rotation_type) for m in store.list_key_materials(key_id)] == [
        (1, None),
        (2, "ON_DEMAND"),
    ]
    assert kms("GetKeyRotationStatus", KeyId=key_id)["NextRotationDate"] == scheduled


def test_rotate_on_demand_without_automatic_rotation(kms: Kms, store: SqliteStore) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("RotateKeyOnDemand", KeyId=key_id)
    assert len(store.list_key_materials(key_id)) == 2
    assert kms("GetKeyRotationStatus", KeyId=key_id)["KeyRotationEnabled"] is False


def test_rotate_on_demand_at_most_25_times(kms: Kms, service: KmsService, clock: ManualClock) -> None:
    metadata = kms.create_key()
    key_id = metadata["KeyId"]
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=90)
    for _ in range(25):
        kms("RotateKeyOnDemand", KeyId=key_id)
    with aws_error(
        "LimitExceededException",
        f"The quota of 25 on-demand rotations for {metadata['Arn']} has been reached.",
    ):
        kms("RotateKeyOnDemand", KeyId=key_id)
    clock.advance(timedelta(days=90))
    service.sweep()  # automatic rotations do not count against the on-demand quota
    assert len(kms("ListKeyRotations", KeyId=key_id, Limit=1000)["Rotations"]) == 26


def test_list_key_rotations(kms: Kms, service: KmsService, clock: ManualClock, store: SqliteStore) -> None:
    key_id = kms.create_key()["KeyId"]
    assert kms("ListKeyRotations", KeyId=key_id) == {"Rotations": [], "Truncated": False}
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=90)
    clock.advance(timedelta(days=5))
    on_demand_at = clock.now()
    kms("RotateKeyOnDemand", KeyId=key_id)
    clock.advance(timedelta(days=85))
    automatic_at = clock.now()
    service.sweep()
    materials = store.list_key_materials(key_id)
    rotations = kms("ListKeyRotations", KeyId=key_id)["Rotations"]
    assert rotations == [
        {
            "KeyId": key_id,
            "KeyMaterialId": materials[1].material_id,
            "KeyMaterialState": "NON_CURRENT",
            "RotationDate": on_demand_at,
            "RotationType": "ON_DEMAND",
        },
        {
            "KeyId": key_id,
            "KeyMaterialId": materials[2].material_id,
            "KeyMaterialState": "CURRENT",
            "RotationDate": automatic_at,
            "RotationType": "AUTOMATIC",
        },
    ]
    everything = kms("ListKeyRotations", KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert everything[0] == {
        "KeyId": key_id,
        "KeyMaterialId": materials[0].material_id,
        "KeyMaterialState": "NON_CURRENT",
    }
    assert everything[1:] == rotations
    assert kms("ListKeyRotations", KeyId=key_id, IncludeKeyMaterial="ROTATIONS_ONLY")["Rotations"] == rotations


def test_list_key_rotations_pages(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    for _ in range(5):
        kms("RotateKeyOnDemand", KeyId=key_id)
    first = kms("ListKeyRotations", KeyId=key_id, Limit=2)
    second = kms("ListKeyRotations", KeyId=key_id, Limit=2, Marker=first["NextMarker"])
    third = kms("ListKeyRotations", KeyId=key_id, Limit=2, Marker=second["NextMarker"])
    ids = [r["KeyMaterialId"] for page in (first, second, third) for r in page["Rotations"]]
    assert len(ids) == len(set(ids)) == 5
    assert (first["Truncated"], second["Truncated"], third["Truncated"]) == (True, True, False)
    with aws_error("InvalidMarkerException"):
        kms("ListKeyRotations", KeyId=key_id, Marker="bogus")


def test_ciphertexts_from_before_a_rotation_still_decrypt(kms: Kms, service: KmsService, clock: ManualClock) -> None:
    key_id = kms.create_key()["KeyId"]
    before = kms("Encrypt", KeyId=key_id, Plaintext=b"old secret")["CiphertextBlob"]
    kms("RotateKeyOnDemand", KeyId=key_id)
    kms("EnableKeyRotation", KeyId=key_id, RotationPeriodInDays=90)
    clock.advance(timedelta(days=90))
    service.sweep()
    after = kms("Encrypt", KeyId=key_id, Plaintext=b"new secret")["CiphertextBlob"]
    assert kms("Decrypt", CiphertextBlob=before)["Plaintext"] == b"old secret"
    assert kms("Decrypt", CiphertextBlob=after)["Plaintext"] == b"new secret"
