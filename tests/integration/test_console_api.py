"""The console's JSON API against a real server, by hand-made requests: sessions, CSRF, acting as the user only.

The page itself is tested in Chromium (tests/console); here the requests are
made as an attacker would make them, to show that the console's session
cookie keeps the secret from the page and from anyone without the root key,
that every change needs the session's CSRF token, that the console can do
exactly what its user can (the same answers boto3 gets, the same audit
events), and that a session ends with its credentials.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.console_client import ConsoleClient
from tests.helpers.documents import READ_ONLY_CONSOLE_POLICY
from tests.integration.server import KmsdServer


class User:
    def __init__(self, name: str, arn: str, access_key: str, secret_key: str) -> None:
        self.name, self.arn, self.access_key, self.secret_key = name, arn, access_key, secret_key


@pytest.fixture(scope="module")
def iam(server: KmsdServer) -> Any:
    return server.root_client("iam")


@pytest.fixture(scope="module")
def reader(server: KmsdServer, iam: Any) -> User:
    """A user with exactly the read-only console policy."""
    name = f"console-reader-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    iam.put_user_policy(UserName=name, PolicyName="console", PolicyDocument=json.dumps(READ_ONLY_CONSOLE_POLICY))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return User(name, arn, key["AccessKeyId"], key["SecretAccessKey"])


@pytest.fixture(scope="module")
def key_arn(server: KmsdServer) -> str:
    arn: str = server.root_client("kms").create_key(Description="console api test")["KeyMetadata"]["Arn"]
    return arn


@pytest.fixture
def console(server: KmsdServer) -> Iterator[ConsoleClient]:
    yield ConsoleClient(server.endpoint)


def signed_in(server: KmsdServer, user: User) -> ConsoleClient:
    client = ConsoleClient(server.endpoint)
    answer = client.sign_in(user.access_key, user.secret_key)
    assert answer.status == 200, answer.body
    return client


def test_the_page_is_served_with_a_strict_content_security_policy(console: ConsoleClient) -> None:
    redirect = console.request("GET", "/console")
    assert redirect.status == 308 and redirect.header("location") == ["/console/"]
    page = console.request("GET", "/console/")
    assert page.status == 200
    assert page.header("content-type") == ["text/html; charset=utf-8"]
    policy = page.header("content-security-policy")[0]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy
    assert page.header("x-content-type-options") == ["nosniff"]
    # Only the package's own files, by plain names: no way out of the static directory.
    for path in ("/console/static/../app.py", "/console/static/%2e%2e/app.py", "/console/static/app.py", "/console/x"):
        assert console.request("GET", path).status == 404, path


def test_sign_in_checks_the_credentials_with_a_real_call(
    server: KmsdServer, console: ConsoleClient, reader: User
) -> None:
    wrong = console.sign_in(reader.access_key, reader.secret_key[:-1] + ("A" if reader.secret_key[-1] != "A" else "B"))
    assert wrong.status == 401
    assert wrong.body["error"]["code"] == "SignatureDoesNotMatch"
    assert wrong.header("set-cookie") == []
    unknown = console.sign_in("AKIAIOSFODNN7EXAMPLE", "x" * 40)
    assert (unknown.status, unknown.body["error"]["code"]) == (401, "InvalidClientTokenId")
    bad_region = console.sign_in(reader.access_key, reader.secret_key, region="../../etc")
    assert bad_region.status == 400

    answer = console.sign_in(reader.access_key, reader.secret_key)
    assert answer.status == 200
    assert answer.body["identity"]["Arn"] == reader.arn
    assert reader.secret_key not in json.dumps(answer.body)
    (cookie,) = answer.header("set-cookie")
    attributes = [part.strip() for part in cookie.split(";")]
    assert {"HttpOnly", "SameSite=Strict", "Path=/console"} <= set(attributes)
    assert "Secure" not in attributes  # plain HTTP here: a Secure cookie would never come back
    # Sealed: neither the secret nor the access key id can be read out of it.
    assert console.cookie is not None
    assert reader.secret_key not in cookie and reader.access_key not in cookie
    session = console.request("GET", "/console/api/session")
    assert session.status == 200 and session.body["identity"]["Arn"] == reader.arn
    assert session.header("cache-control") == ["no-store"]


def test_every_change_needs_the_session_and_its_csrf_token(server: KmsdServer, reader: User) -> None:
    console = signed_in(server, reader)
    listing = {"service": "kms", "operation": "ListKeys", "params": {}}
    assert console.post("call", listing, csrf="").status == 403
    assert console.post("call", listing, csrf="x" * 43).status == 403
    other = signed_in(server, reader)
    assert console.post("call", listing, csrf=other.csrf).status == 403  # another session's token
    # A form post (what a cross-site page can send without asking) is refused before anything else.
    assert console.post("call", listing, content_type="text/plain").status == 415
    assert console.post("call", listing).status == 200

    assert console.cookie is not None
    tampered = ConsoleClient(server.endpoint, cookie=console.cookie[:-2] + "AA", csrf=console.csrf)
    assert tampered.post("call", listing).status == 401
    forged = ConsoleClient(server.endpoint, cookie="eyJhIjoidGVzdCJ9", csrf=console.csrf)
    assert forged.post("call", listing).body["error"]["code"] == "NotSignedIn"
    assert ConsoleClient(server.endpoint, csrf=console.csrf).post("call", listing).status == 401


def test_malformed_console_requests_get_errors_and_the_server_keeps_serving(server: KmsdServer, reader: User) -> None:
    console = signed_in(server, reader)
    for body in (b"{", b"[]", b'{"service":"kms","operation":"../x"}', b'{"service":"s3","operation":"ListBuckets"}'):
        answer = console.request(
            "POST", "/console/api/call", body, {"Content-Type": "application/json", "X-Kmsd-Csrf": console.csrf or ""}
        )
        assert answer.status == 400, body
    huge = console.request(
        "POST", "/console/api/lint", b" " * (300 * 1024), {"Content-Type": "application/json", "X-Kmsd-Csrf": "x"}
    )
    assert huge.status == 413
    iam_nested = console.post("call", {"service": "iam", "operation": "ListUsers", "params": {"a": {"b": 1}}})
    assert iam_nested.status == 400
    # A lone surrogate: JSON can carry one, UTF-8 cannot.  KMS refuses it as its API does; the query protocol
    # cannot even express it, so the console refuses the call itself.
    for service, operation, params in (
        ("kms", "DescribeKey", '{"KeyId": "\\ud800"}'),
        ("iam", "ListUsers", '{"PathPrefix": "\\ud800"}'),
    ):
        body = f'{{"service": "{service}", "operation": "{operation}", "params": {params}}}'.encode()
        answer = console.request(
            "POST", "/console/api/call", body, {"Content-Type": "application/json", "X-Kmsd-Csrf": console.csrf or ""}
        )
        if service == "kms":
            assert answer.status == 200 and answer.body["error"]["code"] == "SerializationException"
        else:
            assert answer.status == 400 and answer.body["error"]["code"] == "ValidationException"
    assert console.request("GET", "/console/api/call").status == 405
    assert console.request("GET", "/console/api/nothing").status == 404
    assert "Keys" in console.call("kms", "ListKeys")["result"]


def test_the_console_can_do_what_its_user_can_and_no_more(server: KmsdServer, reader: User, key_arn: str) -> None:
    console = signed_in(server, reader)
    boto_kms = server.client("kms", access_key=reader.access_key, secret_key=reader.secret_key)

    described = console.call("kms", "DescribeKey", {"KeyId": key_arn})
    assert described["result"]["KeyMetadata"]["Arn"] == key_arn
    policy = console.call("kms", "GetKeyPolicy", {"KeyId": key_arn, "PolicyName": "default"})
    assert json.loads(policy["result"]["Policy"])["Statement"]

    refused = console.call("kms", "DisableKey", {"KeyId": key_arn})["error"]
    with pytest.raises(ClientError) as boto_refusal:
        boto_kms.disable_key(KeyId=key_arn)
    assert refused["code"] == boto_refusal.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refused["message"] == boto_refusal.value.response["Error"]["Message"]
    assert refused["message"].endswith("because no identity-based policy allows the kms:DisableKey action")
    # The authorizer's explanation goes with it: the caller's own account owns the key.
    explanation = refused["explanation"]
    assert explanation["decision"] == "Deny" and explanation["principal"] == reader.arn
    assert explanation["checks"][0]["action"] == "kms:DisableKey"
    assert server.root_client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["Enabled"] is True

    created = console.call("kms", "CreateKey", {})["error"]
    assert created["code"] == "AccessDeniedException"
    users = console.call("iam", "ListUsers")["result"]["Users"]
    assert reader.arn in [user["Arn"] for user in users]
    iam_refusal = console.call("iam", "CreateUser", {"UserName": "not-allowed"})["error"]
    assert iam_refusal["code"] == "AccessDenied"
    assert iam_refusal["message"].endswith("because no identity-based policy allows the iam:CreateUser action")
    (check,) = iam_refusal["explanation"]["checks"]
    assert check["action"] == "iam:CreateUser" and check["policies"]["decision"] == "ImplicitDeny"


def test_the_console_asks_the_live_authorizer_which_controls_to_offer(
    server: KmsdServer, reader: User, key_arn: str
) -> None:
    console = signed_in(server, reader)
    checks = [
        {"action": "kms:DisableKey", "resource": key_arn},
        {"action": "kms:DescribeKey", "resource": key_arn},
        {"action": "kms:CreateKey", "resource": "*"},
        {"action": "iam:CreateUser", "resource": "*"},
    ]
    answer = console.post("permissions", {"checks": checks})
    assert answer.status == 200
    disable, describe, create, other = answer.body["results"]
    assert disable["allowed"] is False
    assert disable["reason"] == "because no identity-based policy allows the kms:DisableKey action"
    assert disable["message"].startswith(f"User: {reader.arn} is not authorized to perform: kms:DisableKey")
    assert disable["explanation"]["checks"][0]["allowed"] is False
    assert describe["allowed"] is True
    assert create["allowed"] is False
    assert other["allowed"] is None


def test_calls_are_audited_as_the_user_from_the_console(server: KmsdServer, reader: User, key_arn: str) -> None:
    console = signed_in(server, reader)
    request_id = console.call("kms", "DisableKey", {"KeyId": key_arn})["error"]["requestId"]
    trail = server.root_client("cloudtrail")
    events = trail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DisableKey"}])
    (event,) = [json.loads(e["CloudTrailEvent"]) for e in events["Events"] if request_id in e["CloudTrailEvent"]]
    assert event["userIdentity"]["arn"] == reader.arn
    assert event["userAgent"] == "kmsd-console"
    assert event["errorCode"] == "AccessDeniedException"
    assert event["sourceIPAddress"] == "127.0.0.1"


def test_the_linter_reports_a_lockout_for_the_signed_in_user(server: KmsdServer, key_arn: str) -> None:
    console = ConsoleClient(server.endpoint)
    access_key, secret_key = server.default_credentials()
    assert console.sign_in(access_key, secret_key).status == 200
    account = key_arn.split(":")[4]
    only_someone_else = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:user/someone-else"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    answer = console.post("lint", {"policy": json.dumps(only_someone_else), "keyArn": key_arn}).body
    assert answer["valid"] is False
    (lockout,) = [f for f in answer["findings"] if f["issueCode"] == "KMS_KEY_POLICY_LOCKOUT"]
    assert lockout["findingDetails"].startswith("The new key policy will not allow you to update the key policy")
    fine = console.post("lint", {"policy": json.dumps(READ_ONLY_CONSOLE_POLICY | {}), "keyArn": None}).body
    assert any(f["findingType"] == "ERROR" for f in fine["findings"])  # an identity policy has no Principal
    broken = console.post("lint", {"policy": '{"Version": "2012-10-17", "Statement": [', "keyArn": key_arn}).body
    assert broken["valid"] is False and broken["findings"][0]["locations"]


def test_the_wizard_policy_is_the_console_default(server: KmsdServer, reader: User) -> None:
    console = signed_in(server, reader)
    account = reader.arn.split(":")[4]
    choices = {
        "keySpec": "SYMMETRIC_DEFAULT",
        "keyUsage": "ENCRYPT_DECRYPT",
        "administrators": [reader.arn],
        "users": [reader.arn],
        "otherAccounts": ["111122223333"],
        "administratorsMayDelete": False,
    }
    policy = json.loads(console.post("console-policy", choices).body["policy"])
    sids = [statement["Sid"] for statement in policy["Statement"]]
    assert sids == [
        "Enable IAM User Permissions",
        "Allow access for Key Administrators",
        "Allow use of the key",
        "Allow attachment of persistent resources",
    ]
    assert policy["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{account}:root"}
    assert "kms:ScheduleKeyDeletion" not in policy["Statement"][1]["Action"]
    assert policy["Statement"][2]["Principal"] == {"AWS": [reader.arn, "arn:aws:iam::111122223333:root"]}
    assert policy["Statement"][3]["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    bad = console.post("console-policy", {"keySpec": "HMAC_256", "keyUsage": "ENCRYPT_DECRYPT"}).body
    assert bad["error"]["code"] == "ValidationException"


def test_a_session_ends_with_its_credentials_and_with_sign_out(server: KmsdServer, iam: Any, reader: User) -> None:
    name = f"console-short-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="console", PolicyDocument=json.dumps(READ_ONLY_CONSOLE_POLICY))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    console = signed_in(server, User(name, "", key["AccessKeyId"], key["SecretAccessKey"]))
    assert "result" in console.call("kms", "ListKeys")
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert console.call("kms", "ListKeys")["error"]["code"] == "UnrecognizedClientException"
    assert console.post("permissions", {"checks": []}).status == 401

    other = signed_in(server, reader)
    stolen = other.cookie
    signed_out = other.post("sign-out", {})
    assert signed_out.status == 200
    (cleared,) = signed_out.header("set-cookie")
    assert cleared.startswith("kmsd-console=;") and "Max-Age=0" in cleared
    assert signed_out.header("clear-site-data") == ['"cookies", "storage"']
    other.cookie = None
    assert other.request("GET", "/console/api/session").status == 401
    # Signing out needs the session's token, so another site cannot sign a user out either.
    victim = signed_in(server, reader)
    assert victim.post("sign-out", {}, csrf="wrong").status == 403
    assert stolen is not None


def test_temporary_credentials_sign_in_as_the_role_session(server: KmsdServer, iam: Any) -> None:
    account = server.root_client("sts").get_caller_identity()["Account"]
    role = f"console-role-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
        ],
    }
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName=role, PolicyName="console", PolicyDocument=json.dumps(READ_ONLY_CONSOLE_POLICY))
    # The root user may not assume roles (AWS's rule): a user who may does.
    assumer = f"console-assumer-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=assumer)
    may_assume = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"},
    }
    iam.put_user_policy(UserName=assumer, PolicyName="assume", PolicyDocument=json.dumps(may_assume))
    key = iam.create_access_key(UserName=assumer)["AccessKey"]
    sts = server.client("sts", access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"])
    credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="web")["Credentials"]
    console = ConsoleClient(server.endpoint)
    without_token = console.sign_in(credentials["AccessKeyId"], credentials["SecretAccessKey"])
    assert without_token.status == 401
    answer = console.sign_in(credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])
    assert answer.status == 200
    assert answer.body["identity"]["Arn"] == f"arn:aws:sts::{account}:assumed-role/{role}/web"
    # The console session ends when the role session does (AssumeRole's default: one hour), not 12 hours later.
    (cookie,) = answer.header("set-cookie")
    max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
    assert 3500 < max_age <= 3600
    assert "Keys" in console.call("kms", "ListKeys")["result"]
    assert console.call("kms", "CreateKey")["error"]["code"] == "AccessDeniedException"


@pytest.mark.sqlite_only("restarts a server of its own; the cookie's sealing does not depend on the store kind")
def test_a_session_survives_a_restart_because_it_is_sealed_under_the_root_key(fresh_server: KmsdServer) -> None:
    fresh_server.start()
    access_key, secret_key = fresh_server.default_credentials()
    console = ConsoleClient(fresh_server.endpoint)
    assert console.sign_in(access_key, secret_key).status == 200
    fresh_server.stop()
    fresh_server.start()
    # Another process (as another worker or node would be) opens the same cookie.
    assert console.request("GET", "/console/api/session").status == 200
    assert "result" in console.call("kms", "ListKeys")
