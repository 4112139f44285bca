"""Issue 9's wire attacks, replayed by hand against a real ``kmsd serve``: each must now be refused.

Every request here is built and signed by hand (botocore's ``SigV4Auth`` /
``SigV4QueryAuth`` compute the signatures) and sent with ``http.client``,
the way a hostile client would: presigned URLs replayed with another body or
operation header (item 1), operation headers left out of the signature
(item 5), credential scopes with a region that is not one (item 6), forged
``X-Forwarded-For`` lines and repeated service headers (item 8), another
account's ``--explain-denials`` trace (item 14), JSON nested too deep or
numbers too long (item 15), deleted and deactivated access keys (item 18)
and request ids (item 19).  One server with every option of these items
serves the module.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.helpers.hand_signed import STS_VERSION, Reply, presign, send
from tests.integration.server import KmsdServer
from tests.integration.stores import Stores

ACCOUNT_B = "111122223333"
PROXY_HEADER = "X-Forwarded-For"
SERVICE_HEADER = "X-Kmsd-Via-Service"
ALLOWED_IP = "203.0.113.7"
PROXY_SEEN_IP = "198.51.100.9"
VIA_EC2 = "ec2.us-east-1.amazonaws.com"
JSON_TYPE = "application/x-amz-json-1.1"
FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
IAM_VERSION = "2010-05-08"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass
class World:
    server: KmsdServer
    a: tuple[str, str]  # the default account's root credentials
    b: tuple[str, str]  # ACCOUNT_B's root credentials

    @property
    def account_a(self) -> str:
        arn: str = self.server.root_client("sts").get_caller_identity()["Arn"]
        return arn.split(":")[4]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("security-wire")
    server = KmsdServer(
        data_dir,
        stores.new(data_dir),
        extra_args=[
            "--explain-denials",
            "--trusted-proxy-header",
            PROXY_HEADER,
            "--trusted-service-header",
            SERVICE_HEADER,
        ],
    ).start()
    try:
        b = server.create_account(ACCOUNT_B)
        yield World(server, server.default_credentials(), b)
    finally:
        server.stop()


# --- sending by hand ---------------------------------------------------------------------------------


def header_signed(
    server: KmsdServer,
    credentials: tuple[str, ...],
    service: str,
    headers: dict[str, str],
    body: bytes,
    *,
    region: str = "us-east-1",
) -> list[tuple[str, str]]:
    """The header lines of a POST / that SigV4Auth signed (it signs every header given to it)."""
    request = AWSRequest(method="POST", url=f"{server.endpoint}/", data=body, headers=headers)
    SigV4Auth(Credentials(*credentials), service, region).add_auth(request)
    return list(request.headers.items())


def kms_call(
    server: KmsdServer,
    credentials: tuple[str, ...],
    operation: str,
    params: dict[str, Any],
    *,
    region: str = "us-east-1",
    extra: Sequence[tuple[str, str]] = (),
) -> Reply:
    """A properly signed KMS call, with ``extra`` header lines added after signing (not covered)."""
    body = json.dumps(params).encode()
    headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": f"TrentService.{operation}"}
    lines = header_signed(server, credentials, "kms", headers, body, region=region)
    return send(server, "POST", "/", [*lines, *extra], body)


def key_policy(account: str, *statements: dict[str, Any]) -> str:
    """A key policy whose first statement lets the account's root administer (not use) the key."""
    admin = {
        "Sid": "Admin",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["kms:PutKeyPolicy", "kms:GetKeyPolicy", "kms:DescribeKey", "kms:DisableKey"],
        "Resource": "*",
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [admin, *statements]})


def encrypt_params(key_id: str) -> dict[str, Any]:
    return {"KeyId": key_id, "Plaintext": base64.b64encode(b"secret").decode()}


def key_count(world: World) -> int:
    return len(world.server.root_client().list_keys(Limit=1000)["Keys"])


# --- item 1: a presigned URL names one call, and only that call -------------------------------------


def test_presigned_get_caller_identity_still_works(world: World) -> None:
    target = presign(world.server, world.a, "sts", "GET", f"Action=GetCallerIdentity&Version={STS_VERSION}")
    reply = send(world.server, "GET", target, [])
    assert reply.status == 200, reply.body
    assert f"<Account>{world.account_a}</Account>".encode() in reply.body


@pytest.mark.parametrize(
    "attack",
    [f"Action=GetSessionToken&Version={STS_VERSION}", f"Action=CreateUser&Version={IAM_VERSION}&UserName=evil"],
)
@pytest.mark.parametrize("declared", [True, False], ids=["unsigned-payload-header", "no-header"])
def test_presigned_sts_url_cannot_be_replayed_with_another_body(world: World, attack: str, declared: bool) -> None:
    target = presign(
        world.server, world.a, "sts", "POST", f"Action=GetCallerIdentity&Version={STS_VERSION}", unsigned_payload=True
    )
    headers = [("Content-Type", FORM_TYPE)]
    if declared:
        headers.append(("x-amz-content-sha256", "UNSIGNED-PAYLOAD"))
    reply = send(world.server, "POST", target, headers, attack.encode())
    assert (reply.status, reply.xml_code()) == (403, "SignatureDoesNotMatch"), reply.body
    assert b"<Credentials>" not in reply.body
    iam = world.server.root_client("iam")
    with pytest.raises(ClientError) as excinfo:
        iam.get_user(UserName="evil")
    assert excinfo.value.response["Error"]["Code"] == "NoSuchEntity"


def test_presigned_url_signed_without_unsigned_payload_rejects_a_body(world: World) -> None:
    # Signed over the empty body's hash: the same URL with a body must not run the body's action.
    target = presign(world.server, world.a, "sts", "POST", f"Action=GetCallerIdentity&Version={STS_VERSION}")
    body = f"Action=GetSessionToken&Version={STS_VERSION}".encode()
    reply = send(world.server, "POST", target, [("Content-Type", FORM_TYPE)], body)
    assert (reply.status, reply.xml_code()) == (403, "SignatureDoesNotMatch"), reply.body
    assert SIGNATURE_MISMATCH.encode() in reply.body


@pytest.mark.parametrize("unsigned_payload", [True, False], ids=["unsigned-payload", "empty-payload"])
def test_presigned_kms_url_cannot_get_an_operation_header(world: World, unsigned_payload: bool) -> None:
    before = key_count(world)
    target = presign(world.server, world.a, "kms", "POST", "", unsigned_payload=unsigned_payload)
    headers = [("X-Amz-Target", "TrentService.CreateKey"), ("Content-Type", JSON_TYPE)]
    body = b""
    if unsigned_payload:
        headers.append(("x-amz-content-sha256", "UNSIGNED-PAYLOAD"))
        body = b"{}"
    reply = send(world.server, "POST", target, headers, body)
    assert reply.status == 400, reply.body
    assert reply.json() == {
        "__type": "InvalidSignatureException",
        "message": "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
    }
    assert key_count(world) == before


def test_unsigned_payload_is_refused_even_when_signed(world: World) -> None:
    # A header-signed request that declares (and signs) UNSIGNED-PAYLOAD: kms, iam and sts hash the body.
    body = f"Action=GetCallerIdentity&Version={STS_VERSION}".encode()
    headers = {"Content-Type": FORM_TYPE, "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    request = AWSRequest(method="POST", url=f"{world.server.endpoint}/", data=body, headers=headers)
    SigV4Auth(Credentials(*world.a), "sts", "us-east-1").add_auth(request)
    reply = send(world.server, "POST", "/", list(request.headers.items()), body)
    assert (reply.status, reply.xml_code()) == (403, "SignatureDoesNotMatch"), reply.body


# --- item 5: headers that change the call must be signed ---------------------------------------------


def test_operation_header_outside_the_signature_is_refused(world: World) -> None:
    kms = world.server.root_client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    body = json.dumps({"KeyId": key_id}).encode()
    # Signed as DescribeKey would be, without its target: SignedHeaders=content-type;host;x-amz-date.
    lines = header_signed(world.server, world.a, "kms", {"Content-Type": JSON_TYPE}, body)
    authorization = dict(lines)["Authorization"]
    assert "SignedHeaders=content-type;host;x-amz-date," in authorization
    reply = send(world.server, "POST", "/", [*lines, ("X-Amz-Target", "TrentService.DisableKey")], body)
    assert reply.status == 400
    assert reply.json() == {
        "__type": "InvalidSignatureException",
        "message": "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
    }
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Enabled"] is True


def test_content_type_outside_the_signature_is_refused(world: World) -> None:
    body = b"{}"
    lines = header_signed(world.server, world.a, "kms", {"X-Amz-Target": "TrentService.ListKeys"}, body)
    reply = send(world.server, "POST", "/", [*lines, ("Content-Type", JSON_TYPE)], body)
    assert reply.status == 400
    assert reply.json() == {
        "__type": "InvalidSignatureException",
        "message": "'Content-Type' must be a 'SignedHeader' in the AWS Authorization.",
    }


def test_session_token_outside_the_signature_is_refused(world: World) -> None:
    session = world.server.root_client("sts").get_session_token()["Credentials"]
    key, secret, token = session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    body = b"{}"
    headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": "TrentService.ListKeys"}
    lines = header_signed(world.server, (key, secret), "kms", headers, body)
    reply = send(world.server, "POST", "/", [*lines, ("X-Amz-Security-Token", token)], body)
    assert reply.status == 400
    assert reply.json()["message"] == "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."
    # Signed with the token, the same session works.
    assert kms_call(world.server, (key, secret, token), "ListKeys", {}).status == 200


def test_content_sha256_outside_the_signature_is_refused(world: World) -> None:
    body = b"{}"
    headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": "TrentService.ListKeys"}
    lines = header_signed(world.server, world.a, "kms", headers, body)
    reply = send(world.server, "POST", "/", [*lines, ("x-amz-content-sha256", hashlib.sha256(body).hexdigest())], body)
    assert reply.status == 400
    assert reply.json()["message"] == "'X-Amz-Content-SHA256' must be a 'SignedHeader' in the AWS Authorization."


# --- item 6: the credential scope's region ------------------------------------------------------------


@pytest.mark.parametrize("region", ["us-east-1:999999999999", "a" * 300, "eu-west-1a", "US-EAST-1"])
def test_a_region_that_is_not_one_is_refused(world: World, region: str) -> None:
    before = key_count(world)
    reply = kms_call(world.server, world.a, "CreateKey", {}, region=region)
    assert reply.status == 400
    assert reply.json() == {
        "__type": "InvalidSignatureException",
        "message": f"Credential should be scoped to a valid region, not '{region}'. ",
    }
    assert key_count(world) == before


def test_a_region_that_is_not_one_is_refused_by_the_query_services(world: World) -> None:
    region = "us-east-1:999999999999"
    body = f"Action=GetCallerIdentity&Version={STS_VERSION}".encode()
    lines = header_signed(world.server, world.a, "sts", {"Content-Type": FORM_TYPE}, body, region=region)
    reply = send(world.server, "POST", "/", lines, body)
    assert (reply.status, reply.xml_code()) == (403, "SignatureDoesNotMatch")
    assert f"Credential should be scoped to a valid region, not '{region}'. ".encode() in reply.body


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"])
def test_arn_account_field_is_the_owner(world: World, region: str) -> None:
    reply = kms_call(world.server, world.a, "CreateKey", {}, region=region)
    assert reply.status == 200, reply.body
    arn = reply.json()["KeyMetadata"]["Arn"]
    parts = arn.split(":")
    assert (len(parts), parts[3], parts[4]) == (6, region, world.account_a)


def test_regions_allow_list(fresh_server: KmsdServer) -> None:
    fresh_server.extra_args = ["--regions", "us-east-1,eu-west-1"]
    fresh_server.start()
    credentials = fresh_server.default_credentials()
    assert kms_call(fresh_server, credentials, "ListKeys", {}, region="eu-west-1").status == 200
    reply = kms_call(fresh_server, credentials, "ListKeys", {}, region="us-west-2")
    assert reply.status == 400
    assert reply.json()["message"] == "Credential should be scoped to a valid region, not 'us-west-2'. "


# --- item 8: forwarded headers -----------------------------------------------------------------------


def test_source_ip_is_read_from_the_right_of_all_forwarded_lines(world: World) -> None:
    account = world.account_a
    allow_from_ip = {
        "Sid": "EncryptFromTheOffice",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:Encrypt",
        "Resource": "*",
        "Condition": {"IpAddress": {"aws:SourceIp": f"{ALLOWED_IP}/32"}},
    }
    key_id = world.server.root_client().create_key(Policy=key_policy(account, allow_from_ip))["KeyMetadata"]["KeyId"]

    def encrypt(*forwarded: str) -> int:
        lines = [(PROXY_HEADER, value) for value in forwarded]
        return kms_call(world.server, world.a, "Encrypt", encrypt_params(key_id), extra=lines).status

    # The proxy appended the client it saw: allowed when that is the office.
    assert encrypt(ALLOWED_IP) == 200
    assert encrypt(f"10.9.9.9, {ALLOWED_IP}") == 200
    # The client forged a first line; the proxy appended its own line (HAProxy's option forwardfor).
    assert encrypt(ALLOWED_IP, PROXY_SEEN_IP) == 400
    assert encrypt(f"{ALLOWED_IP}, {ALLOWED_IP}", PROXY_SEEN_IP) == 400
    assert encrypt(f"{ALLOWED_IP}, {PROXY_SEEN_IP}") == 400


def test_repeated_service_header_is_refused(world: World) -> None:
    account = world.account_a
    allow_via_ec2 = {
        "Sid": "EncryptViaEc2",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:Encrypt",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": VIA_EC2}},
    }
    key_id = world.server.root_client().create_key(Policy=key_policy(account, allow_via_ec2))["KeyMetadata"]["KeyId"]

    def encrypt(*values: str) -> Reply:
        lines = [(SERVICE_HEADER, value) for value in values]
        return kms_call(world.server, world.a, "Encrypt", encrypt_params(key_id), extra=lines)

    assert encrypt(VIA_EC2).status == 200
    assert encrypt("s3.us-east-1.amazonaws.com").status == 400
    for attack in [(VIA_EC2, "s3.us-east-1.amazonaws.com"), (VIA_EC2, VIA_EC2), (f"{VIA_EC2}, {VIA_EC2}",)]:
        reply = encrypt(*attack)
        assert reply.status == 400
        assert reply.json()["__type"] == "ValidationException", attack


# --- item 14: --explain-denials only for the key's own account ---------------------------------------


def test_explanation_only_for_the_keys_own_account(world: World) -> None:
    account = world.account_a
    share_with_b = {
        "Sid": "SecretSidOfAccountA",
        "Effect": "Deny",
        "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT_B}:root", f"arn:aws:iam::{account}:root"]},
        "Action": "kms:Encrypt",
        "Resource": "*",
    }
    key_arn = world.server.root_client().create_key(Policy=key_policy(account, share_with_b))["KeyMetadata"]["Arn"]

    own = kms_call(world.server, world.a, "Encrypt", encrypt_params(key_arn))
    assert own.status == 400
    assert "kmsdExplanation" in own.json()
    assert b"SecretSidOfAccountA" in own.body

    other = kms_call(world.server, world.b, "Encrypt", encrypt_params(key_arn))
    assert other.status == 400
    assert other.json() == {
        "__type": "AccessDeniedException",
        "message": f"User: arn:aws:iam::{ACCOUNT_B}:root is not authorized to perform: kms:Encrypt on resource: "
        f"{key_arn} with an explicit deny in a resource-based policy",
    }
    assert b"SecretSidOfAccountA" not in other.body


# --- item 15: input too deep or too long for the parser -----------------------------------------------


def test_deep_json_and_huge_numbers_are_serialization_errors(world: World) -> None:
    bodies = [
        b'{"Limit": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"Limit": ' + b"[" * 100_000 + b"}",
        b'{"Limit": ' + b"1" * 5000 + b"}",
        b'{"NumberOfBytes": Infinity}',
        b'{"NumberOfBytes": NaN}',
        b'{"Limit": 1e400}',
        b'{"Limit": ' + b"1" * 5000 + b".5}",
    ]
    for body in bodies:
        for operation in ("ListKeys", "GenerateRandom"):
            headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": f"TrentService.{operation}"}
            reply = send(world.server, "POST", "/", header_signed(world.server, world.a, "kms", headers, body), body)
            assert (reply.status, reply.json()["__type"]) == (400, "SerializationException"), body[:40]
    assert "Traceback" not in world.server.output()


def test_lone_surrogates_are_serialization_errors_and_never_reach_the_store_or_the_trail(world: World) -> None:
    """A JSON escape of half a surrogate pair (or its bytes encoded as UTF-8) parses in Python but is no
    character: it used to reach SQLite as a 500, and an Encrypt's encryption context carried it into an audit
    event that no batch could store, holding up every event after it."""
    key = world.server.root_client().create_key()["KeyMetadata"]
    key_id = key["KeyId"]
    bodies = {
        "Encrypt": [
            b'{"KeyId": "%s", "Plaintext": "aGk=", "EncryptionContext": {"a": "\\ud800"}}' % key_id.encode(),
            b'{"KeyId": "%s", "Plaintext": "aGk=", "EncryptionContext": {"\\udfff": "b"}}' % key_id.encode(),
            b'{"KeyId": "%s", "Plaintext": "aGk=", "EncryptionContext": {"a": "\xed\xa0\x80"}}' % key_id.encode(),
        ],
        "DescribeKey": [b'{"KeyId": "alias/\\ud800x"}', b'{"KeyId": "alias/\xed\xb0\x80"}'],
        "CreateAlias": [b'{"AliasName": "alias/\\ud83d", "TargetKeyId": "%s"}' % key_id.encode()],
    }
    for operation, cases in bodies.items():
        for body in cases:
            headers = {"Content-Type": JSON_TYPE, "X-Amz-Target": f"TrentService.{operation}"}
            reply = send(world.server, "POST", "/", header_signed(world.server, world.a, "kms", headers, body), body)
            assert (reply.status, reply.json()["__type"]) == (400, "SerializationException"), body
    # A whole pair is one character, and stays welcome.
    smile = kms_call(
        world.server,
        world.a,
        "Encrypt",
        {"KeyId": key_id, "Plaintext": "aGk=", "EncryptionContext": {"a": "\U0001f600"}},
    )
    assert smile.status == 200
    # The trail goes on: the refused calls are recorded (without their parameters) and so is a change after them.
    tagged = world.server.root_client().tag_resource(KeyId=key_id, Tags=[{"TagKey": "after", "TagValue": "x"}])
    cloudtrail = world.server.root_client("cloudtrail")

    def recorded(attribute: str, value: str) -> list[dict[str, Any]]:
        lookup = {"AttributeKey": attribute, "AttributeValue": value}
        events = cloudtrail.lookup_events(LookupAttributes=[lookup], MaxResults=50)["Events"]
        return [json.loads(event["CloudTrailEvent"]) for event in events]

    deadline = time.monotonic() + 10
    while True:
        refused = [
            record for record in recorded("EventName", "Encrypt") if record.get("errorCode") == "SerializationException"
        ]
        if len(refused) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(refused) == 3 and all(record["requestParameters"] is None for record in refused)
    assert tagged["ResponseMetadata"]["RequestId"] in {
        record["requestID"] for record in recorded("ResourceName", key["Arn"])
    }
    assert "Traceback" not in world.server.output()


def test_huge_numbers_in_query_requests_are_client_errors(world: World) -> None:
    body = f"Action=ListUsers&Version={IAM_VERSION}&MaxItems={'9' * 5000}".encode()
    reply = send(
        world.server, "POST", "/", header_signed(world.server, world.a, "iam", {"Content-Type": FORM_TYPE}, body), body
    )
    assert (reply.status, reply.xml_code()) == (400, "MalformedInput")
    body = f"Action=GetSessionToken&Version={STS_VERSION}&DurationSeconds={'9' * 5000}".encode()
    reply = send(
        world.server, "POST", "/", header_signed(world.server, world.a, "sts", {"Content-Type": FORM_TYPE}, body), body
    )
    assert (reply.status, reply.xml_code()) == (400, "MalformedInput")
    target = presign(world.server, world.a, "sts", "GET", f"Action=GetCallerIdentity&Version={STS_VERSION}")
    reply = send(world.server, "GET", re.sub(r"X-Amz-Expires=\d+", "X-Amz-Expires=" + "9" * 5000, target), [])
    assert (reply.status, reply.xml_code()) == (400, "IncompleteSignature")
    assert "Traceback" not in world.server.output()


# --- item 18: a deleted or deactivated key signs nothing ----------------------------------------------


@pytest.mark.parametrize("how", ["delete", "deactivate"])
def test_removed_access_key_stops_working_at_once(world: World, how: str) -> None:
    iam = world.server.root_client("iam")
    user = f"signer-{how}"
    iam.create_user(UserName=user)
    created = iam.create_access_key(UserName=user)["AccessKey"]
    credentials = (created["AccessKeyId"], created["SecretAccessKey"])
    assert send_sts_identity(world, credentials).status == 200
    if how == "delete":
        iam.delete_access_key(UserName=user, AccessKeyId=credentials[0])
    else:
        iam.update_access_key(UserName=user, AccessKeyId=credentials[0], Status="Inactive")
    reply = send_sts_identity(world, credentials)
    assert (reply.status, reply.xml_code()) == (403, "InvalidClientTokenId")
    assert kms_call(world.server, credentials, "ListKeys", {}).json()["__type"] == "UnrecognizedClientException"


def send_sts_identity(world: World, credentials: tuple[str, str]) -> Reply:
    body = f"Action=GetCallerIdentity&Version={STS_VERSION}".encode()
    return send(
        world.server,
        "POST",
        "/",
        header_signed(world.server, credentials, "sts", {"Content-Type": FORM_TYPE}, body),
        body,
    )


# --- item 19: request ids ---------------------------------------------------------------------------


def test_request_ids_are_random_uuid4s(world: World) -> None:
    ids = [kms_call(world.server, world.a, "ListKeys", {}).headers["x-amzn-requestid"] for _ in range(4)]
    ids.append(send_sts_identity(world, world.a).headers["x-amzn-requestid"])
    for request_id in ids:
        parsed = uuid.UUID(request_id)
        assert (str(parsed), parsed.version, parsed.variant) == (request_id, 4, uuid.RFC_4122)
    for first, second in itertools.pairwise(ids):
        shared = next((i for i, (x, y) in enumerate(zip(first, second, strict=True)) if x != y), len(first))
        # Two random ids share 8 leading hex digits with probability 16**-8; a counter shares 24.
        assert shared < 8, (first, second)
    assert len(set(ids)) == len(ids)
    root = ElementTree.fromstring(send_sts_identity(world, world.a).body)
    request_ids = [element.text for element in root.iter() if element.tag.endswith("RequestId")]
    assert len(request_ids) == 1 and request_ids[0] is not None
    assert uuid.UUID(request_ids[0]).version == 4
