"""Races between nodes are settled by the database: one winner, AWS's error for the losers, nothing half-written.

Each race releases many clients at the same instant (threads with clients of their own, spread over the three
nodes of one service), then checks the answers against AWS's rules and the stored state on every node.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from botocore.exceptions import ClientError

from tests.multi_node.cluster import VISIBILITY_BOUND, Cluster, error_code, run_together

CLIENTS = 24
PLAINTEXT = b"settled by the database"


def outcome(result: object) -> str:
    """ "ok" for an answer, the AWS error code for a refusal; anything else fails the test with its exception."""
    if isinstance(result, ClientError):
        return str(result.response["Error"]["Code"])
    if isinstance(result, BaseException):
        raise result
    return "ok"


def spread(service: Cluster, count: int, kind: str = "kms", credentials: tuple[str, str] | None = None) -> list[Any]:
    """``count`` clients of their own, round-robin over the nodes."""
    nodes = service.nodes
    return [service.client(nodes[index % len(nodes)], kind, credentials) for index in range(count)]


def test_the_same_alias_created_on_every_node(three_nodes: Cluster) -> None:
    kms = three_nodes.client(three_nodes.nodes[0])
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    clients = spread(three_nodes, CLIENTS)
    results = run_together(
        [
            lambda client=client: client.create_alias(AliasName="alias/contested", TargetKeyId=key_id)
            for client in clients
        ]
    )
    outcomes = Counter(outcome(result) for result in results)
    assert outcomes == {"ok": 1, "AlreadyExistsException": CLIENTS - 1}, outcomes
    assert three_nodes.query("SELECT count(*) FROM aliases WHERE alias_name = 'alias/contested'") == [(1,)]
    for node in three_nodes.nodes:
        listed = three_nodes.client(node).list_aliases(KeyId=key_id)["Aliases"]
        assert [alias["AliasName"] for alias in listed] == ["alias/contested"]


def test_rotate_key_on_demand_from_every_node(three_nodes: Cluster) -> None:
    """AWS allows 25 on-demand rotations per key ("Resource quotas"); the 26th and later are LimitExceeded."""
    kms = three_nodes.client(three_nodes.nodes[0])
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    before = kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)["CiphertextBlob"]
    attempts = 32
    clients = spread(three_nodes, attempts)
    results = run_together([lambda client=client: client.rotate_key_on_demand(KeyId=key_id) for client in clients])
    outcomes = Counter(outcome(result) for result in results)
    assert outcomes == {"ok": 25, "LimitExceededException": attempts - 25}, outcomes
    versions = three_nodes.query("SELECT version, material_id FROM key_materials WHERE key_id = %s", (key_id,))
    assert sorted(version for version, _ in versions) == list(range(1, 27))
    assert len({material for _, material in versions}) == 26
    for node in three_nodes.nodes:
        client = three_nodes.client(node)
        rotations = client.list_key_rotations(KeyId=key_id, Limit=100)["Rotations"]
        assert [rotation["RotationType"] for rotation in rotations] == ["ON_DEMAND"] * 25
        assert sum(rotation["KeyMaterialState"] == "CURRENT" for rotation in rotations) == 1
        after = client.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)["CiphertextBlob"]
        for ciphertext in (before, after):
            assert client.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == PLAINTEXT


def test_create_grant_with_the_same_name_on_every_node(three_nodes: Cluster) -> None:
    """CreateGrant's Name: "if the grant already exists, the original GrantId is returned without creating a new
    grant" (the grant token differs with every request)."""
    kms = three_nodes.client(three_nodes.nodes[0])
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
    grantee = f"arn:aws:iam::{account}:root"
    clients = spread(three_nodes, CLIENTS)
    results = run_together(
        [
            lambda client=client: client.create_grant(
                KeyId=key_id, GranteePrincipal=grantee, Operations=["Encrypt", "Decrypt"], Name="retried-grant"
            )
            for client in clients
        ]
    )
    assert Counter(outcome(result) for result in results) == {"ok": CLIENTS}
    answers = [result for result in results if isinstance(result, dict)]
    assert len({answer["GrantId"] for answer in answers}) == 1
    assert len({answer["GrantToken"] for answer in answers}) == CLIENTS
    for node in three_nodes.nodes:
        grants = three_nodes.client(node).list_grants(KeyId=key_id)["Grants"]
        assert [grant["GrantId"] for grant in grants] == [answers[0]["GrantId"]]


def test_delete_user_against_attach_user_policy(three_nodes: Cluster) -> None:
    """Either the attachment wins and DeleteUser is refused (DeleteConflict: "Cannot delete entity, must detach all
    policies first."), or the deletion wins and AttachUserPolicy finds no user (NoSuchEntity); never both."""
    iam = three_nodes.client(three_nodes.nodes[0], "iam")
    policy_arn = iam.create_policy(
        PolicyName="contested-attachment",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    pairs = 12
    names = [f"contested-user-{index}" for index in range(pairs)]
    for name in names:
        iam.create_user(UserName=name)
    nodes = three_nodes.nodes
    deleters = [three_nodes.client(nodes[index % 3], "iam") for index in range(pairs)]
    attachers = [three_nodes.client(nodes[(index + 1) % 3], "iam") for index in range(pairs)]
    calls = [
        *(
            lambda client=client, name=name: client.delete_user(UserName=name)
            for client, name in zip(deleters, names, strict=True)
        ),
        *(
            lambda client=client, name=name: client.attach_user_policy(UserName=name, PolicyArn=policy_arn)
            for client, name in zip(attachers, names, strict=True)
        ),
    ]
    results = run_together(calls)
    deletions, attachments = results[:pairs], results[pairs:]
    attached_names = set()
    for name, deleted, attached in zip(names, deletions, attachments, strict=True):
        pair = (outcome(deleted), outcome(attached))
        assert pair in (("DeleteConflict", "ok"), ("ok", "NoSuchEntity")), (name, pair)
        if pair[1] == "ok":
            attached_names.add(name)
    print(f"\nDeleteUser against AttachUserPolicy: the attachment won {len(attached_names)} of {pairs}")
    entities = iam.list_entities_for_policy(PolicyArn=policy_arn)["PolicyUsers"]
    assert {entity["UserName"] for entity in entities} == attached_names
    assert iam.get_policy(PolicyArn=policy_arn)["Policy"]["AttachmentCount"] == len(attached_names)
    for node in nodes:
        client = three_nodes.client(node, "iam")
        for name in names:
            if name in attached_names:
                attached = client.list_attached_user_policies(UserName=name)["AttachedPolicies"]
                assert [policy["PolicyArn"] for policy in attached] == [policy_arn]
            else:
                assert error_code(lambda client=client, name=name: client.get_user(UserName=name)) == "NoSuchEntity"
    rows = three_nodes.query(
        "SELECT count(*) FROM iam_policy_attachments WHERE policy_arn = %s "
        "AND user_id NOT IN (SELECT user_id FROM iam_users)",
        (policy_arn,),
    )
    assert rows == [(0,)]


def test_put_key_policy_from_every_node(three_nodes: Cluster) -> None:
    """Every PutKeyPolicy succeeds (the last one wins, as in AWS); the stored policy is exactly one of those sent,
    and every node answers it within one second."""
    kms = three_nodes.client(three_nodes.nodes[0])
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
    sent = [
        json.dumps(
            {
                "Version": "2012-10-17",
                "Id": f"policy-{index}",
                "Statement": [
                    {
                        "Sid": f"from-client-{index}",
                        "Effect": "Allow",
                        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            }
        )
        for index in range(CLIENTS)
    ]
    clients = spread(three_nodes, CLIENTS)
    results = run_together(
        [
            lambda client=client, policy=policy: client.put_key_policy(
                KeyId=key_id, PolicyName="default", Policy=policy
            )
            for client, policy in zip(clients, sent, strict=True)
        ]
    )
    assert Counter(outcome(result) for result in results) == {"ok": CLIENTS}
    stored = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
    assert stored in sent
    deadline = time.monotonic() + VISIBILITY_BOUND
    for node in three_nodes.nodes:
        client = three_nodes.client(node)
        while (answer := client.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]) != stored:
            assert time.monotonic() < deadline, f"{node.name} still answers {answer[:60]}"


def test_the_first_use_of_an_aws_managed_key_on_every_node(three_nodes: Cluster) -> None:
    """DescribeKey of alias/aws/<service> creates the AWS managed key on first use; concurrent first uses on
    several nodes must all answer the one key that was created."""
    clients = spread(three_nodes, CLIENTS)
    results = run_together([lambda client=client: client.describe_key(KeyId="alias/aws/s3") for client in clients])
    assert Counter(outcome(result) for result in results) == {"ok": CLIENTS}
    key_ids = {result["KeyMetadata"]["KeyId"] for result in results if isinstance(result, dict)}
    assert len(key_ids) == 1
    assert three_nodes.query("SELECT count(*) FROM aliases WHERE alias_name = 'alias/aws/s3'") == [(1,)]
    assert three_nodes.query("SELECT count(*) FROM keys WHERE key_manager = 'AWS'") == [(1,)]
