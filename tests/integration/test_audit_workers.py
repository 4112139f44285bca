"""``kmsd serve --workers 2`` and the audit trail: both processes append to one hash chain in the one store, every
call's event is kept (the read-only calls' queued ones written when the workers stop gently), and ``kmsd audit
verify`` finds the chain intact."""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

from tests.helpers.pinned_workers import pin_both_workers
from tests.integration.server import KmsdServer
from tests.integration.stores import Stores


def test_two_workers_extend_one_intact_chain_and_lose_no_event(tmp_path: Path, stores: Stores) -> None:
    server = KmsdServer(tmp_path / "kmsd", stores.new(tmp_path / "kmsd"), extra_args=["--workers", "2"]).start()
    try:
        credentials = server.default_credentials()
        key_id = server.root_client().create_key()["KeyMetadata"]["KeyId"]
        pinned = pin_both_workers(server.port)
        assert len({worker.worker for worker in pinned}) == 2
        plaintext = base64.b64encode(b"x").decode()
        tags = [{"TagKey": "n", "TagValue": "v"}]
        for index in range(20):
            for worker in pinned:
                if index % 4 == 0:
                    answer = worker.kms("TagResource", credentials, KeyId=key_id, Tags=tags)
                else:
                    answer = worker.kms("Encrypt", credentials, KeyId=key_id, Plaintext=plaintext)
                assert answer.status == 200, answer.text
        for worker in pinned:
            worker.connection.close()
    finally:
        server.stop()  # gently: each worker writes what it queued
    verified = server.command("audit", "verify", "--store", server.store_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    queried = server.command("audit", "query", "--store", server.store_url, "--key", key_id, "--json")
    assert queried.returncode == 0, queried.stderr
    records = [json.loads(line) for line in queried.stdout.splitlines()]
    assert Counter(record["eventName"] for record in records) == {"CreateKey": 1, "TagResource": 10, "Encrypt": 30}
    assert len({record["requestID"] for record in records}) == len(records)  # each call once
