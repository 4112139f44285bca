"""KMS requests signed once with botocore's SigV4Auth, sent once or written out for wrk to replay.

A SigV4 signature covers the method, path, signed headers and a hash of the
body, and stays valid for 15 minutes, so one signed request can be replayed
unchanged for a whole cell; ``bench/run.py`` re-signs per cell to stay well
inside that window.  The same bytes are sent once with ``http.client`` (to
check the answer) and written as a Lua table for ``bench/wrk/replay.lua``.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

REGION = "us-east-1"
JSON_11 = "application/x-amz-json-1.1"
KMS_TARGET_PREFIX = "TrentService"


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class SignedRequest:
    endpoint: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


def sign_kms_request(endpoint: str, access_key: AccessKey, operation: str, params: Mapping[str, Any]) -> SignedRequest:
    """A JSON 1.1 KMS request for ``operation``, signed for ``REGION`` as the SDKs sign it."""
    body = json.dumps(params, separators=(",", ":")).encode()
    # wrk sends the Host header given here, so it must be the one that was signed.
    host = urlsplit(endpoint).netloc
    request = AWSRequest(
        method="POST",
        url=f"{endpoint}/",
        data=body,
        headers={
            "Host": host,
            "Content-Type": JSON_11,
            "X-Amz-Target": f"{KMS_TARGET_PREFIX}.{operation}",
        },
    )
    credentials = Credentials(access_key.access_key_id, access_key.secret_access_key)
    SigV4Auth(credentials, "kms", REGION).add_auth(request)
    headers = tuple((str(name), str(value)) for name, value in request.headers.items())
    return SignedRequest(endpoint=endpoint, method="POST", path="/", headers=headers, body=body)


def send(request: SignedRequest, timeout: float = 30.0) -> tuple[int, bytes]:
    """Send ``request`` once; the status and body of the answer."""
    parts = urlsplit(request.endpoint)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        # skip_host: the signed Host header is in request.headers already.
        connection.putrequest(request.method, request.path, skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(request.body)))
        connection.endheaders(request.body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def write_lua(request: SignedRequest, path: Path) -> None:
    """Write ``request`` as the Lua table that ``bench/wrk/replay.lua`` loads."""
    headers = "".join(f"    [{_lua_string(name)}] = {_lua_string(value)},\n" for name, value in request.headers)
    path.write_text(
        "return {\n"
        f"  method = {_lua_string(request.method)},\n"
        f"  path = {_lua_string(request.path)},\n"
        f"  headers = {{\n{headers}  }},\n"
        f"  body = {_lua_string(request.body.decode('latin-1'))},\n"
        "}\n",
        encoding="ascii",
    )


def _lua_string(text: str) -> str:
    """A Lua 5.1 string literal for ``text``: printable ASCII as is, every other byte as ``\\ddd``."""
    out = []
    for char in text:
        code = ord(char)
        if code > 0xFF:
            raise ValueError("only Latin-1 text can be written into a request file")
        if 0x20 <= code < 0x7F and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\{code:03d}")
    return '"' + "".join(out) + '"'
