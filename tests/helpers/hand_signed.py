"""Requests built, signed and sent by hand, the way a hostile client would (botocore signs, http.client sends).

Shared by the wire-attack tests (tests/integration/test_security_wire.py) and others that must send exactly
the header lines and body they mean to.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.integration.server import KmsdServer

STS_VERSION = "2011-06-15"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document

    def xml_code(self) -> str | None:
        """The ``<Code>`` of a query-protocol error body."""
        match = re.search(rb"<Code>([^<]*)</Code>", self.body)
        return match.group(1).decode() if match else None


def send(
    server: KmsdServer,
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]],
    body: bytes = b"",
) -> Reply:
    """One request with exactly these header lines (repeats kept, in order) and body."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        names = {name.lower() for name, _ in headers}
        if "host" not in names:
            connection.putheader("Host", f"127.0.0.1:{server.port}")
        for name, value in headers:
            connection.putheader(name, value)
        if body or method == "POST":
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


class UnsignedPayloadQueryAuth(SigV4QueryAuth):  # type: ignore[misc]
    """A presigner that signs UNSIGNED-PAYLOAD without saying so in the query, as S3's presigned URLs do."""

    def payload(self, request: AWSRequest) -> str:
        return "UNSIGNED-PAYLOAD"


def presign(
    server: KmsdServer,
    credentials: tuple[str, str],
    service: str,
    method: str,
    query: str,
    *,
    unsigned_payload: bool = False,
) -> str:
    """The path and query of a presigned URL (only ``host`` signed), as handed out to a third party."""
    request = AWSRequest(method=method, url=f"{server.endpoint}/?{query}" if query else f"{server.endpoint}/")
    signer = UnsignedPayloadQueryAuth if unsigned_payload else SigV4QueryAuth
    signer(Credentials(*credentials), service, "us-east-1", expires=300).add_auth(request)
    parts = urlsplit(request.url)
    return f"{parts.path}?{parts.query}"
