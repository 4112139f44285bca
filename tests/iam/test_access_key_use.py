"""Last-use records of access keys (kmsd.iam.access_key_use): queued to the owner, once a minute at most."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from kmsd.clock import ManualClock
from kmsd.iam.access_key_use import KEY_USE_RECORD_INTERVAL, AccessKeyUse
from kmsd.store.base import StoreError

from .conftest import Iam


class Queue:
    """Stands in for the store-call thread: holds the submitted writes until run."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def submit(self, work: Callable[[], None]) -> None:
        self.pending.append(work)

    def run(self) -> None:
        pending, self.pending = self.pending, []
        for work in pending:
            work()


def _last_used(iam: Iam, key_id: str) -> dict[str, object]:
    return dict(iam("GetAccessKeyLastUsed", AccessKeyId=key_id)["AccessKeyLastUsed"])


def test_a_use_is_written_through_the_queue_not_at_once(iam: Iam, clock: ManualClock) -> None:
    iam.create_user("alice")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    queue = Queue()
    uses = AccessKeyUse(iam.store, queue.submit)
    uses.note(key_id, "kms", "eu-west-1", clock.now())
    # Nothing is written on the caller's thread: the write waits for the owner's store-call thread.
    assert _last_used(iam, key_id) == {"ServiceName": "N/A", "Region": "N/A"}
    queue.run()
    assert _last_used(iam, key_id) == {"LastUsedDate": clock.now(), "ServiceName": "kms", "Region": "eu-west-1"}


def test_a_key_is_written_at_most_once_a_minute(iam: Iam, clock: ManualClock) -> None:
    iam.create_user("alice")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    queue = Queue()
    uses = AccessKeyUse(iam.store, queue.submit)
    start = clock.now()
    uses.note(key_id, "kms", "us-east-1", start)
    uses.note(key_id, "sts", "us-east-1", start + KEY_USE_RECORD_INTERVAL - timedelta(seconds=1))
    assert len(queue.pending) == 1
    uses.note(key_id, "iam", "us-east-1", start + KEY_USE_RECORD_INTERVAL)
    assert len(queue.pending) == 2
    queue.run()
    assert _last_used(iam, key_id)["ServiceName"] == "iam"


def test_a_clock_that_went_back_records_again(iam: Iam, clock: ManualClock) -> None:
    queue = Queue()
    uses = AccessKeyUse(iam.store, queue.submit)
    uses.note("AKIAAAAAAAAAAAAAAAAA", "kms", "us-east-1", clock.now())
    uses.note("AKIAAAAAAAAAAAAAAAAA", "kms", "us-east-1", clock.now() - timedelta(seconds=5))
    assert len(queue.pending) == 2


def test_temporary_credentials_have_no_last_use(iam: Iam, clock: ManualClock) -> None:
    queue = Queue()
    AccessKeyUse(iam.store, queue.submit).note("ASIAAAAAAAAAAAAAAAAA", "kms", "us-east-1", clock.now())
    assert queue.pending == []


def test_a_failed_write_is_logged_and_does_not_fail_the_request(
    iam: Iam, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def failing(*args: object) -> None:
        raise StoreError("the store is read-only")

    monkeypatch.setattr(iam.store, "record_access_key_use", failing)
    queue = Queue()
    AccessKeyUse(iam.store, queue.submit).note("AKIAAAAAAAAAAAAAAAAA", "kms", "us-east-1", clock.now())
    queue.run()
    assert "could not record the use of access key AKIAAAAAAAAAAAAAAAAA" in caplog.text
