"""Authentication and malformed input over raw HTTP: AWS's errors, and the server keeps serving."""

from __future__ import annotations

import http.client
import json
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.helpers.aws_errors import error_of
from tests.integration.server import KmsdServer


def raw_post(
    server: KmsdServer,
    body: bytes,
    *,
    target: str | None = "TrentService.ListKeys",
    credentials: tuple[str, str] | None = None,
    sign: bool = True,
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/x-amz-json-1.1", "Host": f"127.0.0.1:{server.port}"}
    if target is not None:
        headers["X-Amz-Target"] = target
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=body, headers=headers)
    if sign and credentials is not None:
        SigV4Auth(Credentials(*credentials), "kms", "us-east-1").add_auth(request)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("POST", "/", body=body, headers=dict(request.headers.items()))
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    return response.status, json.loads(payload) if payload else {}


def test_unsigned_request_is_refused(server: KmsdServer) -> None:
    status, body = raw_post(server, b"{}", sign=False)
    assert status == 400
    assert body["__type"] == "MissingAuthenticationTokenException"


def test_unknown_access_key(server: KmsdServer) -> None:
    kms = server.client(access_key="AKIAUNKNOWNKEY000000", secret_key="x" * 40)
    with pytest.raises(ClientError) as excinfo:
        kms.list_keys()
    assert error_of(excinfo) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
        400,
    )


def test_wrong_secret(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    kms = server.client(access_key=root_credentials[0], secret_key="not-the-secret")
    with pytest.raises(ClientError) as excinfo:
        kms.list_keys()
    code, _, status = error_of(excinfo)
    assert (code, status) == ("InvalidSignatureException", 400)


def test_body_changed_after_signing(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"}
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=b"{}", headers=headers)
    SigV4Auth(Credentials(*root_credentials), "kms", "us-east-1").add_auth(request)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("POST", "/", body=b'{"Limit": 5}', headers=dict(request.headers.items()))
    response = connection.getresponse()
    assert response.status == 400
    assert json.loads(response.read())["__type"] == "InvalidSignatureException"
    connection.close()


def test_malformed_json(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    status, body = raw_post(server, b"{not json", credentials=root_credentials)
    assert (status, body["__type"]) == (400, "SerializationException")


def test_unknown_target(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    status, body = raw_post(server, b"{}", target="TrentService.MakeCoffee", credentials=root_credentials)
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = raw_post(server, b"{}", target="Nope.ListKeys", credentials=root_credentials)
    assert (status, body["__type"]) == (400, "UnknownOperationException")


def test_wrong_types(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    status, body = raw_post(server, b'{"Limit": "ten"}', credentials=root_credentials)
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = raw_post(
        server,
        b'{"KeyId": 5, "Plaintext": "eA=="}',
        target="TrentService.Encrypt",
        credentials=root_credentials,
    )
    assert (status, body["__type"]) == (400, "SerializationException")


def test_missing_and_out_of_range(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    status, body = raw_post(server, b"{}", target="TrentService.Encrypt", credentials=root_credentials)
    assert status == 400
    assert body["__type"] == "ValidationException"
    assert body["message"] == (
        "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
        "Value null at 'plaintext' failed to satisfy constraint: Member must not be null"
    )
    status, body = raw_post(server, b'{"Limit": 0}', credentials=root_credentials)
    assert (status, body["__type"]) == (400, "ValidationException")


def test_oversized_body(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    status, body = raw_post(server, b"{" + b" " * (2 * 1024 * 1024) + b"}", credentials=root_credentials)
    assert status == 413
    assert body["__type"] == "RequestEntityTooLargeException"


def test_nothing_half_written_and_still_serving(kms: Any) -> None:
    before = {k["KeyId"] for k in kms.get_paginator("list_keys").paginate().search("Keys")}
    with pytest.raises(ClientError):
        kms.create_key(Tags=[{"TagKey": "dup", "TagValue": "1"}, {"TagKey": "dup", "TagValue": "2"}])
    with pytest.raises(ClientError):
        kms.create_key(Policy="{")
    after = {k["KeyId"] for k in kms.get_paginator("list_keys").paginate().search("Keys")}
    assert after == before
    assert kms.generate_random(NumberOfBytes=8)["Plaintext"]


def test_health(server: KmsdServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/health")
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()
    assert response.status == 200
    assert body["status"] == "ok"
    assert body["store"] == "reachable"
    assert body["schema_version"] >= 1


def test_boto3_session_style_usage(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    session = boto3.session.Session(
        aws_access_key_id=root_credentials[0],
        aws_secret_access_key=root_credentials[1],
        region_name="eu-west-1",
    )
    kms = session.client("kms", endpoint_url=server.endpoint)
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    # The region of a key is the region of the request that created it.
    assert arn.startswith("arn:aws:kms:eu-west-1:000000000000:key/")
