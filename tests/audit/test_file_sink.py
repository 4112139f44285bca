"""The JSON-lines file sink: whole lines from many threads and processes, durable batches on disk at once.

``kmsd serve --workers N`` runs one sink per process on the same file; each
batch is one ``O_APPEND`` write, so lines never interleave.  These tests write
from several threads and from two processes at once and read every line back
whole.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

from kmsd.audit.event import AuditEvent
from kmsd.audit.file_sink import FileSink

THREADS = 8
BATCHES = 50
# Large enough that a batch is many pipe-buffer-sized pieces: interleaving would show.
FILLER = "x" * 20_000


def event(writer: str, number: int) -> AuditEvent:
    record = {"eventID": f"{writer}-{number}", "requestID": writer, "userAgent": FILLER, "text": "\u00e9\ud800"}
    return AuditEvent(
        account_id="111122223333",
        event_id=f"{writer}-{number}",
        event_time=datetime(2026, 1, 2, tzinfo=UTC),
        event_source="kms.amazonaws.com",
        event_name="Encrypt",
        read_only=True,
        username="root",
        access_key_id=None,
        principal_arn=None,
        error_code=None,
        resources=(),
        record=record,
    )


def records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_durable_batch_is_in_the_file_when_record_returns(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = FileSink(path)
    try:
        sink.record([event("queued", 0)], durable=False)
        sink.record([event("durable", 0), event("durable", 1)], durable=True)
        # The queued event went first: the queue is drained, in order, before a durable write.
        assert [record["eventID"] for record in records(path)] == ["queued-0", "durable-0", "durable-1"]
    finally:
        sink.close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_close_writes_what_is_queued(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = FileSink(path)
    for number in range(100):
        sink.record([event("queued", number)], durable=False)
    sink.close()
    sink.close()  # a second close does nothing
    assert [record["eventID"] for record in records(path)] == [f"queued-{number}" for number in range(100)]


def test_threads_write_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = FileSink(path)

    def write(writer: str) -> None:
        for number in range(BATCHES):
            sink.record([event(writer, number), event(writer, number + BATCHES)], durable=number % 3 == 0)

    threads = [threading.Thread(target=write, args=(f"thread{index}",)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sink.close()
    found = records(path)
    assert len(found) == THREADS * BATCHES * 2
    for index in range(THREADS):
        # Each thread's events in the order it recorded them (a durable batch drains the queue before it).
        mine = [record["eventID"] for record in found if record["requestID"] == f"thread{index}"]
        expected = [f"thread{index}-{n}" for number in range(BATCHES) for n in (number, number + BATCHES)]
        assert mine == expected
    assert all(record["text"] == "\u00e9\ud800" for record in found)


def _append_from_a_process(path: str, writer: str) -> None:
    sink = FileSink(Path(path))
    for number in range(BATCHES):
        sink.record([event(writer, number)], durable=number % 2 == 0)
    sink.close()


def test_processes_append_whole_lines_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_append_from_a_process, args=(str(path), f"p{index}")) for index in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    found = records(path)
    assert sorted(record["eventID"] for record in found) == sorted(
        f"p{index}-{number}" for index in range(2) for number in range(BATCHES)
    )
