"""The stored audit trail read back: CloudTrail's LookupEvents through boto3 and the AWS CLI, ``kmsd audit query``
and ``kmsd audit verify``, against a real server, on both store kinds.

The events here are written straight into the server's trail (tests/helpers/audit_events.py), sealed with its
root key, so that these tests check the reading side on events whose every field they chose;
test_audit_end_to_end.py finds the events real calls make.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.helpers.audit_events import make_event, seed, tamper
from tests.helpers.clients import AWS_CLI, cli_env
from tests.helpers.hand_signed import send
from tests.integration.server import KmsdServer

DEFAULT_ACCOUNT = "000000000000"


def key_arn(account_id: str) -> str:
    return f"arn:aws:kms:us-east-1:{account_id}:key/{uuid.uuid4()}"


def error_of(call: Any, **params: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", "")


@pytest.fixture(scope="module")
def other_account(server: KmsdServer) -> tuple[str, str]:
    account_id = f"{uuid.uuid4().int % 10**12:012d}"
    return account_id, *server.create_account(account_id)  # type: ignore[return-value]


def test_lookup_events_finds_an_accounts_events_newest_first_with_aws_fields(
    server: KmsdServer, other_account: tuple[str, str, str]
) -> None:
    arn = key_arn(DEFAULT_ACCOUNT)
    now = datetime.now(UTC)
    mine = [
        make_event(DEFAULT_ACCOUNT, name, when=now - timedelta(minutes=m), key_arn=arn)
        for m, name in ((3, "CreateKey"), (2, "Encrypt"), (1, "Decrypt"))
    ]
    theirs = make_event(other_account[0], "Encrypt", key_arn=arn)  # the other account's copy, an event of its own
    seed(server, [*mine, theirs])
    cloudtrail = server.root_client("cloudtrail")
    found = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}])
    assert [event["EventName"] for event in found["Events"]] == ["Decrypt", "Encrypt", "CreateKey"]
    first = found["Events"][0]
    assert first["EventId"] == mine[2].event_id
    assert first["ReadOnly"] == "true" and first["EventSource"] == "kms.amazonaws.com"
    assert first["Username"] == "alice" and first["AccessKeyId"] == "AKIAEXAMPLE"
    assert first["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": arn}]
    assert json.loads(first["CloudTrailEvent"]) == mine[2].record
    assert abs(first["EventTime"] - mine[2].event_time) < timedelta(milliseconds=1)
    # Each account sees its own copy only.
    other = server.client("cloudtrail", access_key=other_account[1], secret_key=other_account[2])
    theirs_found = other.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": arn}])
    assert [
        (event["EventId"], json.loads(event["CloudTrailEvent"])["recipientAccountId"])
        for event in theirs_found["Events"]
    ] == [(theirs.event_id, other_account[0])]


def test_each_lookup_attribute_and_the_time_range_narrow_the_answer(server: KmsdServer) -> None:
    marker = uuid.uuid4().hex
    arn = key_arn(DEFAULT_ACCOUNT)
    event = make_event(DEFAULT_ACCOUNT, "ScheduleKeyDeletion", key_arn=arn, username=f"user-{marker}", read_only=False)
    seed(server, [event])
    cloudtrail = server.root_client("cloudtrail")

    def ids(key: str, value: str, **more: Any) -> set[str]:
        answer = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}], **more)
        return {found["EventId"] for found in answer["Events"]}

    assert ids("EventId", event.event_id) == {event.event_id}
    assert event.event_id in ids("Username", f"user-{marker}")
    assert event.event_id in ids("ResourceName", arn)
    assert event.event_id in ids("ReadOnly", "false", StartTime=event.event_time - timedelta(seconds=1))
    assert event.event_id not in ids("ReadOnly", "true", StartTime=event.event_time - timedelta(seconds=1))
    assert event.event_id in ids("EventName", "ScheduleKeyDeletion", StartTime=event.event_time)
    assert ids("EventId", event.event_id, EndTime=event.event_time - timedelta(seconds=1)) == set()
    assert ids("EventId", event.event_id, StartTime=event.event_time + timedelta(seconds=1)) == set()
    # Insights events: kmsd records none.
    assert ids("EventId", event.event_id, EventCategory="insight") == set()


def test_pages_follow_next_token_and_a_token_is_bound_to_its_filters(server: KmsdServer) -> None:
    arn = key_arn(DEFAULT_ACCOUNT)
    now = datetime.now(UTC)
    events = [make_event(DEFAULT_ACCOUNT, when=now - timedelta(seconds=60 - n), key_arn=arn) for n in range(5)]
    seed(server, events)
    cloudtrail = server.root_client("cloudtrail")
    attributes = [{"AttributeKey": "ResourceName", "AttributeValue": arn}]
    seen: list[str] = []
    page = cloudtrail.lookup_events(LookupAttributes=attributes, MaxResults=2)
    pages = 1
    while True:
        seen.extend(event["EventId"] for event in page["Events"])
        if "NextToken" not in page:
            break
        token = page["NextToken"]
        page = cloudtrail.lookup_events(LookupAttributes=attributes, MaxResults=2, NextToken=token)
        pages += 1
    assert seen == [event.event_id for event in reversed(events)] and pages == 3
    first = cloudtrail.lookup_events(LookupAttributes=attributes, MaxResults=2)
    other = [{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}]
    assert error_of(cloudtrail.lookup_events, LookupAttributes=other, NextToken=first["NextToken"])[0] == (
        "InvalidNextTokenException"
    )
    assert error_of(cloudtrail.lookup_events, NextToken="not a token")[0] == "InvalidNextTokenException"
    # boto3's paginator walks the same pages.
    paginated = cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=attributes, PaginationConfig={"PageSize": 2}
    )
    assert [event["EventId"] for page in paginated for event in page["Events"]] == seen


def test_bad_requests_get_cloudtrails_errors(server: KmsdServer) -> None:
    cloudtrail = server.root_client("cloudtrail")
    two = [
        {"AttributeKey": "EventName", "AttributeValue": "Encrypt"},
        {"AttributeKey": "Username", "AttributeValue": "alice"},
    ]
    assert error_of(cloudtrail.lookup_events, LookupAttributes=two)[0] == "InvalidLookupAttributesException"
    now = datetime.now(UTC)
    assert error_of(cloudtrail.lookup_events, StartTime=now, EndTime=now - timedelta(hours=1))[0] == (
        "InvalidTimeRangeException"
    )
    for size in (0, 51):
        assert error_of(cloudtrail.lookup_events, MaxResults=size)[0] == "InvalidMaxResultsException"
    long_value = [{"AttributeKey": "EventName", "AttributeValue": "x" * 2001}]
    assert error_of(cloudtrail.lookup_events, LookupAttributes=long_value)[0] == "InvalidLookupAttributesException"
    assert (
        error_of(cloudtrail.lookup_events, LookupAttributes=[{"AttributeKey": "Color", "AttributeValue": "x"}])[0]
        == "ValidationException"
    )
    # The server keeps serving.
    assert "Events" in cloudtrail.lookup_events(MaxResults=1)


def test_lookup_events_needs_cloudtrail_lookup_events_in_an_identity_policy(server: KmsdServer) -> None:
    iam = server.root_client("iam")
    name = f"auditor-{uuid.uuid4().hex[:8]}"
    user_arn = iam.create_user(UserName=name)["User"]["Arn"]
    created = iam.create_access_key(UserName=name)["AccessKey"]
    auditor = server.client("cloudtrail", access_key=created["AccessKeyId"], secret_key=created["SecretAccessKey"])
    code, message = error_of(auditor.lookup_events)
    assert (code, message) == (
        "AccessDeniedException",
        f"User: {user_arn} is not authorized to perform: cloudtrail:LookupEvents because no identity-based "
        "policy allows the cloudtrail:LookupEvents action",
    )
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "cloudtrail:LookupEvents", "Resource": "*"}],
    }
    iam.put_user_policy(UserName=name, PolicyName="lookup", PolicyDocument=json.dumps(policy))
    assert "Events" in auditor.lookup_events(MaxResults=1)
    deny = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "cloudtrail:*", "Resource": "*"}]}
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=json.dumps(deny))
    code, message = error_of(auditor.lookup_events)
    assert code == "AccessDeniedException" and "with an explicit deny in an identity-based policy" in message


def test_the_aws_cli_looks_up_events(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    event = make_event(DEFAULT_ACCOUNT, "DescribeKey", key_arn=key_arn(DEFAULT_ACCOUNT))
    seed(server, [event])
    result = subprocess.run(
        [
            AWS_CLI,
            "--endpoint-url",
            server.endpoint,
            "--output",
            "json",
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            f"AttributeKey=EventId,AttributeValue={event.event_id}",
        ],
        env=cli_env(server, root_credentials),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (found,) = json.loads(result.stdout)["Events"]
    assert (found["EventId"], found["EventName"]) == (event.event_id, "DescribeKey")
    assert json.loads(found["CloudTrailEvent"])["eventID"] == event.event_id


def signed_json(server: KmsdServer, scope: str, target: str) -> tuple[int, dict[str, Any]]:
    """A JSON 1.1 request for ``target`` signed for the service ``scope``; (status, body)."""
    payload = b"{}"
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target, "Host": f"127.0.0.1:{server.port}"}
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=payload, headers=headers)
    SigV4Auth(Credentials(*server.default_credentials()), scope, "us-east-1").add_auth(request)
    reply = send(server, "POST", "/", list(request.headers.items()), payload)
    return reply.status, reply.json()


def test_the_scope_picks_the_service_and_a_wrong_one_gets_the_signature_error(server: KmsdServer) -> None:
    lookup = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
    status, body = signed_json(server, "cloudtrail", lookup)
    assert status == 200 and "Events" in body
    status, body = signed_json(server, "s3", lookup)
    assert (status, body["__type"], body["message"]) == (
        400,
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'cloudtrail'. ",
    )
    status, body = signed_json(server, "s3", "TrentService.ListKeys")
    assert body["message"] == "Credential should be scoped to correct service: 'kms'. "
    # Each service knows only its own targets.
    assert signed_json(server, "kms", lookup)[1]["__type"] == "UnknownOperationException"
    assert signed_json(server, "cloudtrail", "TrentService.ListKeys")[1]["__type"] == "UnknownOperationException"


def test_kmsd_audit_query_filters_and_prints_json_lines(server: KmsdServer) -> None:
    arn = key_arn(DEFAULT_ACCOUNT)
    marker = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    ok = make_event(DEFAULT_ACCOUNT, "Encrypt", key_arn=arn, username=marker, when=now - timedelta(seconds=2))
    denied = make_event(
        DEFAULT_ACCOUNT,
        "Decrypt",
        key_arn=arn,
        username=marker,
        error_code="AccessDeniedException",
        when=now - timedelta(seconds=1),
    )
    seed(server, [ok, denied])

    def query(*args: str) -> list[str]:
        done = server.command("audit", "query", "--store", server.store_url, "--json", *args)
        assert done.returncode == 0, done.stderr
        return [json.loads(line)["eventID"] for line in done.stdout.splitlines()]

    assert query("--key", arn) == [denied.event_id, ok.event_id]
    assert query("--key", arn.rsplit("/", 1)[1]) == [denied.event_id, ok.event_id]
    assert query("--key", arn, "--errors-only") == [denied.event_id]
    assert query("--key", arn, "--error", "AccessDeniedException") == [denied.event_id]
    assert query("--key", arn, "--event-name", "Encrypt") == [ok.event_id]
    assert query("--principal", f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/{marker}", "--max", "1") == [denied.event_id]
    assert query("--key", arn, "--account", "999999999999") == []
    assert query("--key", arn, "--start-time", (now - timedelta(seconds=1.5)).isoformat()) == [denied.event_id]
    assert query("--key", arn, "--end-time", (now - timedelta(seconds=1.5)).isoformat()) == [ok.event_id]
    text = server.command("audit", "query", "--store", server.store_url, "--key", arn)
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert len(lines) == 2 and "kms:Decrypt" in lines[0] and "AccessDeniedException" in lines[0] and arn in lines[0]


def test_kmsd_audit_verify_reports_an_edited_a_deleted_and_a_reordered_event(fresh_server: KmsdServer) -> None:
    server = fresh_server.start()
    now = datetime.now(UTC)
    events = [make_event(DEFAULT_ACCOUNT, when=now - timedelta(seconds=30 - n)) for n in range(8)]
    seed(server, events)

    def verify() -> subprocess.CompletedProcess[str]:
        return server.command("audit", "verify", "--store", server.store_url)

    intact = verify()
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "audit trail intact:" in intact.stdout and "event(s) verified" in intact.stdout
    # Find where our events sit in the chain (the server may have written its own before them).
    placed = json.loads(server.command("audit", "query", "--store", server.store_url, "--json").stdout.splitlines()[0])[
        "eventID"
    ]
    assert placed == events[-1].event_id
    sequences = _sequences(server, [event.event_id for event in events])
    tamper(
        server, "UPDATE audit_events SET record = ? WHERE event_id = ?", '{"eventName":"Nothing"}', events[1].event_id
    )
    tamper(server, "DELETE FROM audit_events WHERE event_id = ?", events[3].event_id)
    a, b = sequences[events[5].event_id], sequences[events[6].event_id]
    tamper(server, "UPDATE audit_events SET sequence = ? WHERE sequence = ?", -1, a)
    tamper(server, "UPDATE audit_events SET sequence = ? WHERE sequence = ?", a, b)
    tamper(server, "UPDATE audit_events SET sequence = ? WHERE sequence = ?", b, -1)
    broken = verify()
    assert broken.returncode == 1
    out = broken.stdout
    assert f"sequence {sequences[events[1].event_id]} (event {events[1].event_id}" in out and "was edited" in out
    assert f"event(s) removed before sequence {sequences[events[4].event_id]} (event {events[4].event_id}" in out
    assert f"(event {events[6].event_id}, Encrypt, account {DEFAULT_ACCOUNT}) is out of order" in out
    assert "is NOT intact" in broken.stderr


def _sequences(server: KmsdServer, event_ids: list[str]) -> dict[str, int]:
    from kmsd.store.audit_records import AuditEventQuery
    from kmsd.store.urls import open_store

    store = open_store(server.store_url)
    try:
        rows = store.find_audit_events(AuditEventQuery(), 1000)
    finally:
        store.close()
    return {row.event_id: row.sequence for row in rows if row.event_id in event_ids}
