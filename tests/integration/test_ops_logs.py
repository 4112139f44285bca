"""The request log of a real ``kmsd serve``: one line per request on stderr, JSON or text, and never a secret."""

from __future__ import annotations

import base64
import json
import re
import socket
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import client, user_with_key
from tests.integration.server import KmsdServer

FIELDS = {
    "time",
    "level",
    "logger",
    "request_id",
    "service",
    "operation",
    "status",
    "error_code",
    "caller_arn",
    "access_key_id",
    "source_ip",
    "latency_ms",
}


def _request_id(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["ResponseMetadata"]["RequestId"])


def _json_lines(output: str) -> list[dict[str, Any]]:
    """Every line the server wrote as JSON (its first-start announcement is plain stdout, not a log line)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_json_request_lines_name_each_call_once_and_hold_no_secret(fresh_server: KmsdServer) -> None:
    fresh_server.extra_args = ["--log-format", "json", "--log-level", "info"]
    server = fresh_server.start()
    root = server.default_credentials()
    kms, iam = client(server, "kms", root), client(server, "iam", root)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    user_name, user = user_with_key(iam)
    plaintext = f"logged-never-{uuid.uuid4().hex}".encode()
    encrypted = kms.encrypt(KeyId=key_id, Plaintext=plaintext)
    with pytest.raises(ClientError) as denied:
        client(server, "kms", user).encrypt(KeyId=key_id, Plaintext=plaintext)
    stranger_secret = f"stranger-{uuid.uuid4().hex}"
    with pytest.raises(ClientError) as refused:
        client(server, "kms", ("AKIAZZZZZZZZZZZZZZZZ", stranger_secret)).list_keys()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as garbage:
        garbage.sendall(b"NOT HTTP AT ALL\r\n\r\n")  # uvicorn's own warning: "Invalid HTTP request received."
        garbage.recv(1024)
    server.stop()  # every line is written and flushed

    output = server.output()
    lines = _json_lines(output)
    assert any(line["level"] == "WARNING" and line["logger"].startswith("uvicorn") for line in lines), output
    # Every line the process logged is JSON: uvicorn's own too, none in another format.
    logged = [line for line in output.splitlines() if line and not line.startswith(("{", "kmsd: ", "  AWS_"))]
    assert logged == []
    assert any(line["logger"].startswith("uvicorn") for line in lines)
    requests = {line["request_id"]: line for line in lines if line["logger"] == "kmsd.requests"}
    assert len(requests) == len([line for line in lines if line["logger"] == "kmsd.requests"]), "one line each"

    ok = requests[encrypted["ResponseMetadata"]["RequestId"]]
    assert set(ok) == FIELDS
    assert ok["level"] == "INFO"
    assert (ok["service"], ok["operation"], ok["status"], ok["error_code"]) == ("kms", "Encrypt", 200, None)
    assert ok["caller_arn"] == "arn:aws:iam::000000000000:root"
    assert ok["access_key_id"] == root[0]
    assert ok["source_ip"] == "127.0.0.1"
    assert isinstance(ok["latency_ms"], float) and ok["latency_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ok["time"])

    no = requests[_request_id(denied)]
    assert (no["operation"], no["status"], no["error_code"]) == ("Encrypt", 400, "AccessDeniedException")
    assert no["caller_arn"] == f"arn:aws:iam::000000000000:user/{user_name}"
    assert no["access_key_id"] == user[0]

    unsigned = requests[_request_id(refused)]
    assert (unsigned["service"], unsigned["operation"], unsigned["caller_arn"]) == (None, None, None)
    assert (unsigned["status"], unsigned["error_code"]) == (400, "UnrecognizedClientException")

    # CreateKey, CreateUser, CreateAccessKey, Encrypt, the denied Encrypt and the refused ListKeys: six calls.
    assert len(requests) == 6
    for secret in (user[1], stranger_secret, plaintext.decode(), base64.b64encode(plaintext).decode()):
        assert secret not in output
    # The root secret appears once: in the first-start announcement, which is not a log line.
    assert output.count(root[1]) == 1
    assert all(root[1] not in json.dumps(line) for line in lines)


@pytest.mark.sqlite_only("the text format is the same whatever the store")
def test_text_request_lines_and_the_default_level_writes_none(fresh_server: KmsdServer) -> None:
    fresh_server.extra_args = ["--log-level", "info"]
    server = fresh_server.start()
    kms = server.root_client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    answer = kms.describe_key(KeyId=key_id)
    server.stop()
    request_id = answer["ResponseMetadata"]["RequestId"]
    line = next(line for line in server.output().splitlines() if f"request_id={request_id}" in line)
    assert re.fullmatch(
        r"\S+Z INFO kmsd\.requests request_id=\S+ service=kms operation=DescribeKey status=200 error_code=- "
        r"caller_arn=arn:aws:iam::000000000000:root access_key_id=\S+ source_ip=127\.0\.0\.1 latency_ms=[\d.]+",
        line,
    ), line

    quiet = KmsdServer(server.data_dir, server.store_url).start()  # the default level: warning
    quiet.root_client().describe_key(KeyId=key_id)
    quiet.stop()
    assert server.output().count("kmsd.requests") == 2  # the first server's CreateKey and DescribeKey only
