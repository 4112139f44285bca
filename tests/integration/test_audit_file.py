"""``kmsd serve --audit-file``: refused in one line when the file cannot be opened, and shared by workers.

With ``--workers 2`` each worker appends its own events to the one file;
every batch is one ``O_APPEND`` write, so the lines of both workers are whole,
and every call of either worker is in the file once the server has stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.pinned_workers import pin_both_workers
from tests.integration.server import KmsdServer, free_port

CALLS_PER_WORKER = 20


def test_a_file_that_cannot_be_opened_is_refused_in_one_line(fresh_server: KmsdServer, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-directory" / "audit.jsonl"
    fresh_server.data_dir.mkdir(parents=True, exist_ok=True)
    out = fresh_server.command(
        "serve", "--port", str(free_port()), "--store", fresh_server.store_url, "--audit-file", str(missing)
    )
    assert out.returncode == 1
    assert out.stderr == f"kmsd: --audit-file {missing}: No such file or directory\n"


def test_workers_append_whole_lines_to_one_file(fresh_server: KmsdServer, tmp_path: Path) -> None:
    audit_file = tmp_path / "audit.jsonl"
    fresh_server.extra_args = ["--workers", "2", "--audit-file", str(audit_file)]
    fresh_server.start()
    root = fresh_server.default_credentials()
    created: set[str] = set()
    first, second = pin_both_workers(fresh_server.port)
    try:
        for worker in (first, second):
            for _ in range(CALLS_PER_WORKER):
                key_id = worker.kms("CreateKey", root).body["KeyMetadata"]["KeyId"]
                created.add(key_id)
                assert worker.kms("Encrypt", root, KeyId=key_id, Plaintext="c2VjcmV0").status == 200
    finally:
        first.connection.close()
        second.connection.close()
    # A gentle stop: each worker writes what its sink still has queued as it exits.
    fresh_server.stop()
    records = [json.loads(line) for line in audit_file.read_text().splitlines()]
    created_keys = {r["responseElements"]["keyMetadata"]["keyId"] for r in records if r["eventName"] == "CreateKey"}
    encrypted_keys = {r["requestParameters"]["keyId"] for r in records if r["eventName"] == "Encrypt"}
    assert created_keys == encrypted_keys == created
    assert len(created) == 2 * CALLS_PER_WORKER
