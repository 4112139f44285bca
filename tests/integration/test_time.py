"""Deletion windows and scheduled rotation, driven by a manual clock behind a real HTTP server.

The server runs in this process (uvicorn in a thread) so the test can hold
the clock; boto3 still talks to it over TCP exactly as to ``kmsd serve``.
Development credentials are used because a signature's timestamp is checked
against the server's clock, which this test moves by days.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError

from kmsd.api.app import KmsdApp
from kmsd.clock import ManualClock
from kmsd.server import build_runtime, open_parts
from tests.integration.server import free_port
from tests.integration.test_kms_keys import error_of


@pytest.fixture
def clocked(tmp_path: Path) -> Iterator[tuple[Any, ManualClock]]:
    clock = ManualClock(datetime.now(UTC))
    parts = open_parts(f"sqlite:///{tmp_path / 'kmsd.db'}", clock=clock)
    app = KmsdApp(build_runtime(parts, dev=True), sweep_interval=0.05)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    kms = boto3.client(
        "kms",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    yield kms, clock
    server.should_exit = True
    thread.join(timeout=10)
    parts.store.close()


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
