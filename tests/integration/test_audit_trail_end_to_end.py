"""Real calls found again in the stored trail: boto3 makes KMS, IAM and STS calls -- allowed, denied, failed and
cross-account -- and each one is found through CloudTrail's LookupEvents (boto3), as the right account sees it,
and through ``kmsd audit query``, with its identity, parameters and error code; the chain they make verifies.

Mutating calls' events are stored before their answers; read-only calls' events are written by the trail's
queue in its next batch, so a lookup of one waits for it (:func:`lookup_record`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.helpers.steps import Steps
from tests.integration.authz_world import (
    ACCOUNT_A,
    ACCOUNT_B,
    EAST,
    WEST,
    Identity,
    World,
    account_root,
    allow,
    enable_iam_policies,
    running_world,
)
from tests.integration.stores import Stores


@dataclass
class Calls(Steps):
    """What the scenario did: request ids by step, and what each step's record must say."""

    world: World
    requests: dict[str, str] = field(default_factory=dict)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    key_arn: str = ""
    shared_key_arn: str = ""
    alice: Identity | None = None
    bob: Identity | None = None


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[Calls]:
    with running_world(stores, tmp_path_factory.mktemp("audit-trail") / "kmsd") as world:
        done = Calls(world)
        a, b = world.a, world.b
        kms = a.kms()
        done.key_arn = done.did("create", kms.create_key(Description="audited"))["KeyMetadata"]["Arn"]
        done.did("encrypt", kms.encrypt(KeyId=done.key_arn, Plaintext=b"secret plaintext"))
        done.alice = a.user(allow(["kms:Encrypt", "kms:DescribeKey"]), name="alice")
        done.did("alice-encrypt", done.alice.kms().encrypt(KeyId=done.key_arn, Plaintext=b"alice's"))
        done.did("alice-whoami", done.alice.client("sts", EAST).get_caller_identity())
        done.bob = a.user(name="bob")
        assert done.failed("bob-create", done.bob.kms().create_key) == "AccessDeniedException"
        assert done.failed("missing", kms.describe_key, KeyId="alias/does-not-exist") == "NotFoundException"
        done.did("create-user", a.iam.create_user(UserName="carol"))
        shared = a.key(
            enable_iam_policies(ACCOUNT_A), allow(["kms:Encrypt", "kms:DescribeKey"], principal=account_root(ACCOUNT_B))
        )
        done.shared_key_arn = shared.arn
        done.did("cross-encrypt", b.kms().encrypt(KeyId=shared.arn, Plaintext=b"from b"))
        yield done


def lookup_record(identity: Identity, request_id: str, **attribute: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The LookupEvents event (and its parsed record) of ``request_id`` as ``identity``'s account sees it."""
    cloudtrail = identity.client("cloudtrail", EAST)
    ((key, value),) = attribute.items()
    deadline = time.monotonic() + 10
    while True:
        events = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])["Events"]
        found = [event for event in events if json.loads(event["CloudTrailEvent"])["requestID"] == request_id]
        if found:
            (event,) = found
            return event, json.loads(event["CloudTrailEvent"])
        assert time.monotonic() < deadline, f"no event of {request_id} for {identity.arn}"
        time.sleep(0.05)


def test_a_mutating_call_is_found_with_its_identity_and_parameters(calls: Calls) -> None:
    a = calls.world.a
    event, record = lookup_record(a.root, calls.requests["create"], EventName="CreateKey")
    assert event["ReadOnly"] == "false" and event["EventSource"] == "kms.amazonaws.com"
    assert event["Username"] == "root" and event["AccessKeyId"] == a.root.credentials[0]
    assert record["userIdentity"]["arn"] == account_root(ACCOUNT_A)
    assert record["requestParameters"]["description"] == "audited"
    assert {"ResourceType": "AWS::KMS::Key", "ResourceName": calls.key_arn} in event["Resources"]
    assert "errorCode" not in record and record["recipientAccountId"] == ACCOUNT_A


def test_read_only_calls_of_each_service_are_found_by_user_and_resource(calls: Calls) -> None:
    assert calls.alice is not None
    root = calls.world.a.root  # alice may not call LookupEvents; her account's root user may
    event, record = lookup_record(root, calls.requests["alice-encrypt"], Username="alice")
    assert (event["EventName"], event["ReadOnly"]) == ("Encrypt", "true")
    assert record["userIdentity"]["arn"] == calls.alice.arn
    assert record["requestParameters"]["keyId"] == calls.key_arn
    assert "plaintext" not in json.dumps(record["requestParameters"]).lower()
    same, _ = lookup_record(calls.world.a.root, calls.requests["alice-encrypt"], ResourceName=calls.key_arn)
    assert same["EventId"] == event["EventId"]
    sts, sts_record = lookup_record(root, calls.requests["alice-whoami"], EventSource="sts.amazonaws.com")
    assert sts["EventName"] == "GetCallerIdentity" and sts_record["userIdentity"]["arn"] == calls.alice.arn
    iam, _ = lookup_record(calls.world.a.root, calls.requests["create-user"], EventName="CreateUser")
    assert iam["EventSource"] == "iam.amazonaws.com"


def test_denied_and_failed_calls_are_found_with_their_error_codes(calls: Calls) -> None:
    a = calls.world.a
    assert calls.bob is not None
    _, denied = lookup_record(a.root, calls.requests["bob-create"], Username="bob")
    assert denied["errorCode"] == "AccessDeniedException" and denied["eventName"] == "CreateKey"
    assert denied["userIdentity"]["arn"] == calls.bob.arn
    _, missing = lookup_record(a.root, calls.requests["missing"], EventName="DescribeKey")
    assert missing["errorCode"] == "NotFoundException"


def test_a_cross_account_call_is_in_both_trails_each_seeing_its_own_copy(calls: Calls) -> None:
    a, b = calls.world.a, calls.world.b
    request = calls.requests["cross-encrypt"]
    in_a, record_a = lookup_record(a.root, request, ResourceName=calls.shared_key_arn)
    in_b, record_b = lookup_record(b.root, request, ResourceName=calls.shared_key_arn)
    assert (record_a["recipientAccountId"], record_b["recipientAccountId"]) == (ACCOUNT_A, ACCOUNT_B)
    assert record_a["userIdentity"]["arn"] == record_b["userIdentity"]["arn"] == account_root(ACCOUNT_B)
    assert in_a["EventId"] != in_b["EventId"]
    # Neither account's lookup returns the other's copy.
    for identity, account in ((a.root, ACCOUNT_A), (b.root, ACCOUNT_B)):
        cloudtrail = identity.client("cloudtrail", EAST)
        events = cloudtrail.lookup_events(
            LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": calls.shared_key_arn}]
        )["Events"]
        assert {json.loads(event["CloudTrailEvent"])["recipientAccountId"] for event in events} == {account}
    # B's own key list shows none of A's events: every lookup is scoped to the caller's account.
    create_in_b = b.root.client("cloudtrail", WEST).lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}]
    )["Events"]
    assert create_in_b == []


def test_kmsd_audit_query_finds_the_calls_and_the_chain_verifies(calls: Calls) -> None:
    server = calls.world.server
    assert calls.alice is not None
    lookup_record(calls.world.a.root, calls.requests["alice-encrypt"], Username="alice")  # written by now

    def query(*args: str) -> list[dict[str, Any]]:
        done = server.command("audit", "query", "--store", server.store_url, "--json", *args)
        assert done.returncode == 0, done.stderr
        return [json.loads(line) for line in done.stdout.splitlines()]

    by_alice = query("--principal", calls.alice.arn)
    assert calls.requests["alice-encrypt"] in {record["requestID"] for record in by_alice}
    errors = query("--account", ACCOUNT_A, "--errors-only")
    assert {(record["requestID"], record["errorCode"]) for record in errors} >= {
        (calls.requests["bob-create"], "AccessDeniedException"),
        (calls.requests["missing"], "NotFoundException"),
    }
    denied = query("--error", "AccessDeniedException", "--event-name", "CreateKey")
    assert [record["requestID"] for record in denied] == [calls.requests["bob-create"]]
    on_key = query("--key", calls.key_arn.rsplit("/", 1)[1], "--account", ACCOUNT_A)
    assert {calls.requests["create"], calls.requests["encrypt"]} <= {record["requestID"] for record in on_key}
    verified = server.command("audit", "verify", "--store", server.store_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "audit trail intact" in verified.stdout
