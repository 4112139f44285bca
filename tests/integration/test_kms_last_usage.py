"""GetKeyLastUsage through boto3 against a real ``kmsd serve``: the last cryptographic use of a key, recorded off
the request on the store-call thread, and the call authorized as AWS authorizes it (kms:GetKeyLastUsage)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from tests.integration.authz_world import NO_IDENTITY_POLICY, World, allow, denied, refused, running_world
from tests.integration.stores import Stores


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("kms-last-usage")) as built:
        yield built


def usage_once_recorded(kms: Any, key_id: str) -> dict[str, Any]:
    """The key's KeyLastUsage once its record has been written (the write follows the call, off the request)."""
    deadline = time.monotonic() + 5
    while True:
        usage: dict[str, Any] = kms.get_key_last_usage(KeyId=key_id)["KeyLastUsage"]
        if usage or time.monotonic() > deadline:
            return usage
        time.sleep(0.05)


def test_the_last_use_is_reported(world: World) -> None:
    kms = world.a.kms()
    key = kms.create_key()["KeyMetadata"]
    before = kms.get_key_last_usage(KeyId=key["Arn"])
    assert before["KeyId"] == key["KeyId"]
    assert before["KeyLastUsage"] == {}
    assert before["TrackingStartDate"] == before["KeyCreationDate"] == key["CreationDate"]
    encrypted = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"used")
    usage = usage_once_recorded(kms, key["KeyId"])
    assert usage["Operation"] == "Encrypt"
    assert isinstance(usage["Timestamp"], datetime) and usage["Timestamp"] >= key["CreationDate"]
    assert usage["KmsRequestId"] == encrypted["ResponseMetadata"]["RequestId"]
    assert "CloudTrailEventId" not in usage


def test_a_data_key_pair_is_a_use_and_the_call_is_authorized(world: World) -> None:
    key = world.a.kms().create_key()["KeyMetadata"]
    reader = world.a.user(allow(["kms:GetKeyLastUsage", "kms:GenerateDataKeyPairWithoutPlaintext"]))
    outsider = world.a.user()
    assert refused(outsider.kms().get_key_last_usage, KeyId=key["Arn"]) == denied(
        outsider.arn, "kms:GetKeyLastUsage", key["Arn"], NO_IDENTITY_POLICY
    )
    kms = reader.kms()
    assert kms.get_key_last_usage(KeyId=key["Arn"])["KeyLastUsage"] == {}
    kms.generate_data_key_pair_without_plaintext(KeyId=key["Arn"], KeyPairSpec="ECC_NIST_P256")
    assert usage_once_recorded(kms, key["Arn"])["Operation"] == "GenerateDataKeyPairWithoutPlaintext"
    assert refused(kms.get_key_last_usage, KeyId="1234abcd-12ab-34cd-56ef-1234567890ab")[0] == "NotFoundException"
