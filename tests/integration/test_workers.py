"""``kmsd serve --workers 2``: one port, two processes, one store, and read-your-writes across them.

Each read-your-writes case writes through a connection held open to one worker and reads through a
connection held open to the other (the ``x-kmsd-worker`` header names the process that answered), after
that reader has cached what the write changes: the worker that did not make the write must still honour it
on its very next request.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.helpers.pinned_workers import PORT_HOST, Answer, Pinned, error_type, pin_both_workers
from tests.integration.server import KmsdServer
from tests.integration.stores import Stores


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[KmsdServer]:
    data_dir = tmp_path_factory.mktemp("workers")
    server = KmsdServer(data_dir, stores.new(data_dir), extra_args=["--workers", "2"]).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pair(workers: KmsdServer) -> Iterator[tuple[Pinned, Pinned]]:
    writer, reader = pin_both_workers(workers.port)
    yield writer, reader
    writer.connection.close()
    reader.connection.close()


def test_credentials_are_printed_once_and_both_workers_serve(workers: KmsdServer) -> None:
    output = workers.output()
    assert output.count("AWS_SECRET_ACCESS_KEY=") == 1
    assert "2 workers" in output
    first, second = pin_both_workers(workers.port)
    assert first.worker != second.worker
    root = workers.default_credentials()
    assert first.kms("ListKeys", root).status == 200
    assert second.kms("ListKeys", root).status == 200
    first.connection.close()
    second.connection.close()


def test_a_created_key_is_found_by_the_other_worker(workers: KmsdServer, pair: tuple[Pinned, Pinned]) -> None:
    writer, reader = pair
    root = workers.default_credentials()
    created = writer.kms("CreateKey", root)
    assert created.status == 200
    key_id = created.body["KeyMetadata"]["KeyId"]
    described = reader.kms("DescribeKey", root, KeyId=key_id)
    assert described.status == 200, described.text
    assert described.body["KeyMetadata"]["KeyId"] == key_id


def test_a_disabled_key_is_refused_by_the_other_worker(workers: KmsdServer, pair: tuple[Pinned, Pinned]) -> None:
    writer, reader = pair
    root = workers.default_credentials()
    key_id = writer.kms("CreateKey", root).body["KeyMetadata"]["KeyId"]
    assert reader.kms("Encrypt", root, KeyId=key_id, Plaintext="aGVsbG8=").status == 200  # cached there now
    assert writer.kms("DisableKey", root, KeyId=key_id).status == 200
    refused = reader.kms("Encrypt", root, KeyId=key_id, Plaintext="aGVsbG8=")
    assert (refused.status, error_type(refused)) == (400, "DisabledException")


def test_a_new_key_policy_is_honoured_by_the_other_worker(workers: KmsdServer, pair: tuple[Pinned, Pinned]) -> None:
    writer, reader = pair
    root = workers.default_credentials()
    key_id = writer.kms("CreateKey", root).body["KeyMetadata"]["KeyId"]
    assert reader.kms("Encrypt", root, KeyId=key_id, Plaintext="aGVsbG8=").status == 200
    account = writer.kms("DescribeKey", root, KeyId=key_id).body["KeyMetadata"]["AWSAccountId"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {"Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "kms:Encrypt", "Resource": "*"},
        ],
    }
    put = writer.kms("PutKeyPolicy", root, KeyId=key_id, PolicyName="default", Policy=json.dumps(policy))
    assert put.status == 200, put.text
    denied = reader.kms("Encrypt", root, KeyId=key_id, Plaintext="aGVsbG8=")
    assert (denied.status, error_type(denied)) == (400, "AccessDeniedException")


def _user(writer: Pinned, root: tuple[str, str], name: str) -> tuple[str, tuple[str, str]]:
    """A new IAM user with no policy of its own: its ARN and its access key."""
    assert writer.iam("CreateUser", root, UserName=name).status == 200
    created = writer.iam("CreateAccessKey", root, UserName=name)
    assert created.status == 200, created.text
    access_key = created.text.split("<AccessKeyId>")[1].split("<")[0]
    secret = created.text.split("<SecretAccessKey>")[1].split("<")[0]
    arn = writer.iam("GetUser", root, UserName=name).text.split("<Arn>")[1].split("<")[0]
    return arn, (access_key, secret)


def test_a_revoked_grant_is_honoured_by_the_other_worker(workers: KmsdServer, pair: tuple[Pinned, Pinned]) -> None:
    writer, reader = pair
    root = workers.default_credentials()
    arn, user = _user(writer, root, "grantee-across-workers")
    key_id = writer.kms("CreateKey", root).body["KeyMetadata"]["KeyId"]
    grant = writer.kms("CreateGrant", root, KeyId=key_id, GranteePrincipal=arn, Operations=["Encrypt"])
    assert grant.status == 200, grant.text
    assert reader.kms("Encrypt", user, KeyId=key_id, Plaintext="aGVsbG8=").status == 200
    assert writer.kms("RevokeGrant", root, KeyId=key_id, GrantId=grant.body["GrantId"]).status == 200
    denied = reader.kms("Encrypt", user, KeyId=key_id, Plaintext="aGVsbG8=")
    assert (denied.status, error_type(denied)) == (400, "AccessDeniedException")


def test_an_inactive_access_key_is_refused_by_the_other_worker(
    workers: KmsdServer, pair: tuple[Pinned, Pinned]
) -> None:
    writer, reader = pair
    root = workers.default_credentials()
    _, user = _user(writer, root, "inactive-across-workers")
    assert reader.iam("GetUser", user).status in (200, 403)  # the key is known (and cached) there
    updated = writer.iam(
        "UpdateAccessKey", root, UserName="inactive-across-workers", AccessKeyId=user[0], Status="Inactive"
    )
    assert updated.status == 200, updated.text
    refused = reader.iam("GetUser", user)
    assert refused.status == 403
    assert "InvalidClientTokenId" in refused.text


def test_kill_9_of_a_worker_loses_no_acknowledged_key(tmp_path: Path, stores: Stores) -> None:
    server = KmsdServer(tmp_path / "kill", stores.new(tmp_path / "kill"), extra_args=["--workers", "2"]).start()
    try:
        root = server.default_credentials()
        victim, other = pin_both_workers(server.port)
        other.connection.close()
        acknowledged: list[tuple[str, str]] = []  # (key id, ciphertext) of every answered CreateKey + Encrypt
        lock = threading.Lock()
        halfway = threading.Event()

        def burst() -> None:
            # A new connection per request: the burst spreads over both workers, and the killed one's
            # connections fail (unacknowledged) while the others go on.
            for _ in range(40):
                connection = http.client.HTTPConnection(PORT_HOST, server.port, timeout=30)
                try:
                    connection.connect()
                    pinned = Pinned(connection, "", server.port)
                    created = _unpinned_kms(pinned, "CreateKey", root)
                    if created is None or created.status != 200:
                        continue
                    key_id = created.body["KeyMetadata"]["KeyId"]
                    encrypted = _unpinned_kms(pinned, "Encrypt", root, KeyId=key_id, Plaintext="aGVsbG8=")
                    if encrypted is None or encrypted.status != 200:
                        continue
                    with lock:
                        acknowledged.append((key_id, encrypted.body["CiphertextBlob"]))
                        if len(acknowledged) >= 10:
                            halfway.set()
                except OSError:
                    continue  # the connection went with the killed worker: nothing was acknowledged
                finally:
                    connection.close()

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for thread in threads:
            thread.start()
        halfway.wait()
        os.kill(int(victim.worker), signal.SIGKILL)
        victim.connection.close()
        for thread in threads:
            thread.join()
        assert len(acknowledged) >= 10
        # The server still answers, and every acknowledged key exists and decrypts its ciphertext.
        for key_id, ciphertext in acknowledged:
            connection = http.client.HTTPConnection(PORT_HOST, server.port, timeout=30)
            pinned = Pinned(connection, "", server.port)
            described = _unpinned_kms(pinned, "DescribeKey", root, KeyId=key_id)
            assert described is not None and described.status == 200, described
            decrypted = _unpinned_kms(pinned, "Decrypt", root, CiphertextBlob=ciphertext)
            connection.close()
            assert decrypted is not None and decrypted.status == 200, decrypted
            assert decrypted.body["Plaintext"] == "aGVsbG8=" and decrypted.body["KeyId"].endswith(key_id)
        # uvicorn's supervisor replaces the dead worker: two processes answer again, the victim not among them.
        first, second = pin_both_workers(server.port)
        first.connection.close()
        second.connection.close()
        assert victim.worker not in (first.worker, second.worker)
    finally:
        server.stop()


def _unpinned_kms(pinned: Pinned, operation: str, credentials: tuple[str, str], **params: Any) -> Answer | None:
    """A KMS call on a connection whichever worker it reached; None when the connection broke."""
    headers = {"X-Amz-Target": f"TrentService.{operation}", "Content-Type": "application/x-amz-json-1.1"}
    body = json.dumps(params).encode()
    request = AWSRequest(method="POST", url=f"http://{PORT_HOST}:{pinned.port}/", data=body, headers=headers)
    SigV4Auth(Credentials(*credentials), "kms", "us-east-1").add_auth(request)
    try:
        pinned.connection.request("POST", "/", body, dict(request.headers.items()))
        response = pinned.connection.getresponse()
        text = response.read().decode()
    except (OSError, http.client.HTTPException):
        return None
    return Answer(response.status, json.loads(text) if text.startswith("{") else {}, text, "")


def console_request(pinned: Pinned, route: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any, str]:
    """A console API request on ``pinned``'s connection: status, JSON answer and Set-Cookie."""
    pinned.connection.request(
        "POST",
        f"/console/api/{route}",
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    response = pinned.connection.getresponse()
    return response.status, json.loads(response.read()), response.getheader("set-cookie") or ""


def test_a_console_session_signed_in_on_one_worker_is_served_by_the_other(
    workers: KmsdServer, pair: tuple[Pinned, Pinned]
) -> None:
    """The session lives in its sealed cookie, not in a process: any worker that holds the root key opens it."""
    first, second = pair
    access_key, secret_key = workers.default_credentials()
    status, session, cookie = console_request(
        first, "sign-in", {"accessKeyId": access_key, "secretAccessKey": secret_key, "region": "us-east-1"}, {}
    )
    assert status == 200 and cookie.startswith("kmsd-console=")
    headers = {"Cookie": cookie.split(";")[0], "X-Kmsd-Csrf": session["csrfToken"]}
    status, created, _ = console_request(second, "call", {"service": "kms", "operation": "CreateKey"}, headers)
    assert status == 200, created
    key_id = created["result"]["KeyMetadata"]["KeyId"]
    status, described, _ = console_request(
        first, "call", {"service": "kms", "operation": "DescribeKey", "params": {"KeyId": key_id}}, headers
    )
    assert status == 200 and described["result"]["KeyMetadata"]["KeyId"] == key_id
