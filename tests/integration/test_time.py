"""Deletion windows and scheduled rotation, driven by a manual clock behind a real HTTP server.

The server runs in this process (uvicorn in a thread) so the test can hold
the clock; boto3 still talks to it over TCP exactly as to ``kmsd serve``.
Development credentials are used because a signature's timestamp is checked
against the server's clock, which this test moves by days.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from kmsd.clock import ManualClock
from tests.helpers.aws_errors import error_of
from tests.integration.server import in_process_server
from tests.integration.stores import Stores


@pytest.fixture
def clocked(tmp_path: Path, stores: Stores) -> Iterator[tuple[Any, ManualClock]]:
    with in_process_server(tmp_path, stores.new(tmp_path), sweep_interval=0.05) as running:
        yield running.kms, running.clock


def test_key_disappears_when_the_window_ends(clocked: tuple[Any, ManualClock]) -> None:
    kms, clock = clocked
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/doomed", TargetKeyId=key_id)
    deletion = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)["DeletionDate"]
    assert deletion.astimezone(UTC) - clock.now() >= timedelta(days=6, hours=23)
    clock.advance(timedelta(days=6, hours=23))
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    clock.advance(timedelta(hours=2))
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId=key_id)
    assert error_of(excinfo)[0] == "NotFoundException"
    assert key_id not in {k["KeyId"] for k in kms.list_keys()["Keys"]}
    assert "alias/doomed" not in {a["AliasName"] for a in kms.list_aliases()["Aliases"]}


def test_periodic_sweep_removes_keys_nobody_asks_about(clocked: tuple[Any, ManualClock]) -> None:
    kms, clock = clocked
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    clock.advance(timedelta(days=8))
    deadline = time.monotonic() + 5
    while key_id in {k["KeyId"] for k in kms.list_keys()["Keys"]} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert key_id not in {k["KeyId"] for k in kms.list_keys()["Keys"]}


def test_automatic_rotation_happens_on_schedule(clocked: tuple[Any, ManualClock]) -> None:
    kms, clock = clocked
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    before = kms.encrypt(KeyId=key_id, Plaintext=b"old")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    clock.advance(timedelta(days=91))
    deadline = time.monotonic() + 5
    rotations: list[Any] = []
    while not rotations and time.monotonic() < deadline:
        rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
        time.sleep(0.05)
    assert [r["RotationType"] for r in rotations] == ["AUTOMATIC"]
    assert kms.decrypt(CiphertextBlob=before)["Plaintext"] == b"old"
