"""Keep-alive connections pinned to one worker of ``kmsd serve --workers N`` each, to send signed requests on.

The ``x-kmsd-worker`` header of every answer names the process that answered, so a test can write through
one worker and read through another (tests/integration/test_workers.py, tests/multi_node).
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

PORT_HOST = "127.0.0.1"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    text: str
    worker: str


@dataclass
class Pinned:
    """A keep-alive connection to one worker: every request on it is answered by the same process."""

    connection: http.client.HTTPConnection
    worker: str
    port: int

    def send(self, service: str, body: bytes, headers: dict[str, str], credentials: tuple[str, str]) -> Answer:
        request = AWSRequest(method="POST", url=f"http://{PORT_HOST}:{self.port}/", data=body, headers=headers)
        SigV4Auth(Credentials(*credentials), service, "us-east-1").add_auth(request)
        self.connection.request("POST", "/", body, dict(request.headers.items()))
        response = self.connection.getresponse()
        text = response.read().decode()
        worker = response.getheader("x-kmsd-worker") or ""
        assert worker == self.worker, "a keep-alive connection moved to another worker"
        parsed = json.loads(text) if text.startswith("{") else {}
        return Answer(response.status, parsed, text, worker)

    def kms(self, operation: str, credentials: tuple[str, str], **params: Any) -> Answer:
        headers = {"X-Amz-Target": f"TrentService.{operation}", "Content-Type": "application/x-amz-json-1.1"}
        return self.send("kms", json.dumps(params).encode(), headers, credentials)

    def iam(self, action: str, credentials: tuple[str, str], **params: str) -> Answer:
        body = urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        return self.send("iam", body, headers, credentials)


def pin_both_workers(port: int) -> tuple[Pinned, Pinned]:
    """One keep-alive connection to each of the two workers.

    Which process accepts a new connection is the kernel's choice, and sequential connections tend to land
    on the same one: connections opened together spread, so batches are opened until one reached both.  Both
    come from the same batch: a connection kept from an earlier one could sit idle past the server's keep-alive
    timeout (5 s) while a loaded machine tries more batches, and be closed under the test.
    """
    for _ in range(3000):
        batch = [http.client.HTTPConnection(PORT_HOST, port, timeout=30) for _ in range(16)]
        found: dict[str, http.client.HTTPConnection] = {}
        for connection in batch:
            connection.connect()
        for connection in batch:
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            worker = response.getheader("x-kmsd-worker")
            assert worker is not None
            if worker not in found:
                found[worker] = connection
            else:
                connection.close()
        if len(found) >= 2:
            break
        for connection in found.values():
            connection.close()
    assert len(found) == 2, f"connections reached {sorted(found)} only"
    (first, a), (second, b) = found.items()
    return Pinned(a, first, port), Pinned(b, second, port)


def error_type(answer: Answer) -> str:
    return str(answer.body.get("__type", "")).rsplit("#", 1)[-1]
