"""The query protocol over raw HTTP against ``kmsd serve``: routing by credential scope, XML errors, AWS's codes.

Also home of the small helpers the other ``test_iam_*`` modules share: boto3
``iam``/``sts`` clients (optionally with a session token), unique names, and
signed raw requests.
"""

from __future__ import annotations

import http.client
import json
import urllib.request
import xml.etree.ElementTree as ElementTree
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from kmsd.api.sigv4.errors import SIGNATURE_MISMATCH
from tests.helpers.aws_errors import error_of
from tests.helpers.clients import client, unique
from tests.integration.server import KmsdServer

IAM_NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def signed_request(
    server: KmsdServer,
    *,
    service: str,
    credentials: tuple[str, str] | None,
    body: bytes = b"",
    method: str = "POST",
    query: str = "",
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    """Send one request, SigV4-signed for ``service`` (unsigned when ``credentials`` is None)."""
    url = server.endpoint + "/" + (f"?{query}" if query else "")
    all_headers = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
    if method == "POST" and "Content-Type" not in all_headers:
        all_headers["Content-Type"] = FORM
    request = AWSRequest(method=method, url=url, data=body, headers=all_headers)
    if credentials is not None:
        SigV4Auth(Credentials(*credentials), service, "us-east-1").add_auth(request)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request(
            method, "/" + (f"?{query}" if query else ""), body=body, headers=dict(request.headers.items())
        )
        response = connection.getresponse()
        payload = response.read()
        response_headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    return response.status, payload, response_headers


def xml_error(payload: bytes, namespace: str = IAM_NS) -> tuple[str, str, str]:
    """``(Type, Code, Message)`` of an ``ErrorResponse`` in ``namespace``."""
    root = ElementTree.fromstring(payload)
    assert root.tag == f"{namespace}ErrorResponse", payload
    error = root.find(f"{namespace}Error")
    assert error is not None
    assert root.findtext(f"{namespace}RequestId")
    return (
        error.findtext(f"{namespace}Type") or "",
        error.findtext(f"{namespace}Code") or "",
        error.findtext(f"{namespace}Message") or "",
    )


# --- the protocol ----------------------------------------------------------------------------------------------
def test_post_form_and_get_query_string_both_work(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    params = urlencode({"Action": "ListUsers", "Version": "2010-05-08", "MaxItems": "5"})
    status, payload, headers = signed_request(server, service="iam", credentials=root_credentials, body=params.encode())
    assert status == 200, payload
    assert headers["content-type"] == "text/xml"
    root = ElementTree.fromstring(payload)
    assert root.tag == f"{IAM_NS}ListUsersResponse"
    assert root.findtext(f"{IAM_NS}ResponseMetadata/{IAM_NS}RequestId") == headers["x-amzn-requestid"]
    status, payload, _ = signed_request(server, service="iam", credentials=root_credentials, method="GET", query=params)
    assert status == 200, payload
    assert ElementTree.fromstring(payload).find(f"{IAM_NS}ListUsersResult/{IAM_NS}IsTruncated") is not None


def test_sts_answers_in_its_own_namespace(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    body = urlencode({"Action": "GetCallerIdentity", "Version": "2011-06-15"}).encode()
    status, payload, _ = signed_request(server, service="sts", credentials=root_credentials, body=body)
    assert status == 200, payload
    root = ElementTree.fromstring(payload)
    assert root.findtext(f"{STS_NS}GetCallerIdentityResult/{STS_NS}Arn") == "arn:aws:iam::000000000000:root"


def test_presigned_get_caller_identity(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    # The form tools such as EKS's token use: a presigned GET URL that anyone holding it can call.
    url = client(server, "sts", root_credentials).generate_presigned_url(
        "get_caller_identity", ExpiresIn=60, HttpMethod="GET"
    )
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        payload = response.read()
    root = ElementTree.fromstring(payload)
    assert root.findtext(f"{STS_NS}GetCallerIdentityResult/{STS_NS}Account") == "000000000000"


def test_unsigned_query_request(server: KmsdServer) -> None:
    body = urlencode({"Action": "ListUsers", "Version": "2010-05-08"}).encode()
    status, payload, _ = signed_request(server, service="iam", credentials=None, body=body)
    assert status == 403
    assert xml_error(payload) == ("Sender", "MissingAuthenticationToken", "Request is missing Authentication Token")
    # Before the scope is known, the Action tells which service's namespace the error is in.
    body = urlencode({"Action": "GetCallerIdentity", "Version": "2011-06-15"}).encode()
    status, payload, _ = signed_request(server, service="sts", credentials=None, body=body)
    assert status == 403
    assert xml_error(payload, STS_NS)[1] == "MissingAuthenticationToken"


def test_unknown_access_key(server: KmsdServer) -> None:
    iam = client(server, "iam", ("AKIAUNKNOWNKEY000000", "x" * 40))
    with pytest.raises(ClientError) as excinfo:
        iam.list_users()
    assert error_of(excinfo) == ("InvalidClientTokenId", "The security token included in the request is invalid.", 403)
    sts = client(server, "sts", ("AKIAUNKNOWNKEY000000", "x" * 40))
    with pytest.raises(ClientError) as excinfo:
        sts.get_caller_identity()
    assert error_of(excinfo)[0] == "InvalidClientTokenId"


def test_wrong_secret_prints_what_the_server_computed(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    iam = client(server, "iam", (root_credentials[0], "not-the-secret"))
    with pytest.raises(ClientError) as excinfo:
        iam.list_users()
    code, message, status = error_of(excinfo)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith(SIGNATURE_MISMATCH)
    assert "The Canonical String for this request should have been" in message


def test_missing_action(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    status, payload, _ = signed_request(server, service="iam", credentials=root_credentials, body=b"Version=2010-05-08")
    assert status == 400
    assert xml_error(payload) == ("Sender", "MissingAction", "Missing Action")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"Action": "MakeCoffee", "Version": "2010-05-08"},
            "Could not find operation MakeCoffee for version 2010-05-08",
        ),
        ({"Action": "ListUsers", "Version": "2011-06-15"}, "Could not find operation ListUsers for version 2011-06-15"),
    ],
)
def test_invalid_action_and_wrong_version(
    server: KmsdServer, root_credentials: tuple[str, str], fields: dict[str, str], message: str
) -> None:
    status, payload, _ = signed_request(
        server, service="iam", credentials=root_credentials, body=urlencode(fields).encode()
    )
    assert status == 400
    assert xml_error(payload) == ("Sender", "InvalidAction", message)


def test_json_request_signed_for_iam_is_refused_by_kms(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    status, payload, _ = signed_request(
        server,
        service="iam",
        credentials=root_credentials,
        body=b"{}",
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"},
    )
    assert status == 400
    assert json.loads(payload) == {
        "__type": "InvalidSignatureException",
        "message": "Credential should be scoped to correct service: 'kms'. ",
    }


def test_query_request_signed_for_kms_is_refused(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    body = urlencode({"Action": "ListUsers", "Version": "2010-05-08"}).encode()
    status, payload, _ = signed_request(server, service="kms", credentials=root_credentials, body=body)
    assert status == 403
    assert xml_error(payload) == (
        "Sender",
        "SignatureDoesNotMatch",
        "Credential should be scoped to correct service: 'iam'. ",
    )
    body = urlencode({"Action": "GetCallerIdentity", "Version": "2011-06-15"}).encode()
    status, payload, _ = signed_request(server, service="s3", credentials=root_credentials, body=body)
    assert status == 403
    assert xml_error(payload, STS_NS)[2] == "Credential should be scoped to correct service: 'sts'. "


def test_validation_error_in_iams_words(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    iam = client(server, "iam", root_credentials)
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName="bad name!")
    assert error_of(excinfo) == (
        "ValidationError",
        "1 validation error detected: Value 'bad name!' at 'userName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+",
        400,
    )
    with pytest.raises(ClientError) as excinfo:
        iam.create_user(UserName=unique("tagged"), Tags=[{"Key": "team", "Value": "a(b)"}])
    assert error_of(excinfo) == (
        "ValidationError",
        "1 validation error detected: Value 'a(b)' at 'tags.1.member.value' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*",
        400,
    )


def test_malformed_scalars(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    body = urlencode({"Action": "ListUsers", "Version": "2010-05-08", "MaxItems": "ten"}).encode()
    status, payload, _ = signed_request(server, service="iam", credentials=root_credentials, body=body)
    assert status == 400
    assert xml_error(payload)[1] == "MalformedInput"


def test_oversized_query_body(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    body = b"Action=ListUsers&Version=2010-05-08&Pad=" + b"x" * (2 * 1024 * 1024)
    status, payload, _ = signed_request(server, service="iam", credentials=root_credentials, body=body)
    assert status == 413
    assert xml_error(payload)[1] == "RequestEntityTooLargeException"


def test_kms_still_speaks_json(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    kms = client(server, "kms", root_credentials)
    assert "Keys" in kms.list_keys()
