"""Failures of one node or of its link to the database: what the rest of the service still promises.

- A node whose notification connection drops honours changes within one second all the same (its caches live
  at most the listener's fallback period while it cannot listen), and listens again once it can.
- ``kill -9`` of a node during a burst of writes loses no acknowledged write: every key, grant and key policy
  that was answered is on every surviving node, and every returned ciphertext decrypts.
- Background work runs on one node of the service: the holder of the background lease (an advisory lock) purges
  a key whose deletion window ended, exactly once; when the holder is killed, another node takes the lease over.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from kmsd.kms.materials import PURGE_COUNT_SETTING
from kmsd.store.postgres.connections import BACKGROUND_LOCK
from tests.helpers import documents
from tests.helpers.postgres import PostgresDatabases
from tests.multi_node.cluster import VISIBILITY_BOUND, Cluster, Node, cluster, error_code, proxy_for, through
from tests.multi_node.pg_proxy import PostgresProxy, split

PLAINTEXT = b"acknowledged"
REVOCATIONS = 6


@pytest.fixture
def deafened(databases: PostgresDatabases, tmp_path: Path) -> Iterator[tuple[Cluster, PostgresProxy]]:
    """Two nodes; node 2 reaches the database through a proxy that can cut its notification connection."""
    service = Cluster(databases.create(), tmp_path)
    proxy = proxy_for(service.url)
    try:
        service.add()
        service.add(url=through(proxy, service.url))
        yield service, proxy
    finally:
        service.stop()
        proxy.close()


def listen_attempts(proxy: PostgresProxy) -> int:
    return sum(sql.startswith("LISTEN") for sql in proxy.first_sql.values())


def wait_for(condition: Any, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_node_that_cannot_hear_notifications_still_honours_changes_within_a_second(
    deafened: tuple[Cluster, PostgresProxy],
) -> None:
    service, proxy = deafened
    first, second = service.client(service.nodes[0]), service.client(service.nodes[1])
    key_id = first.create_key()["KeyMetadata"]["KeyId"]
    assert error_code(lambda: second.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)) is None  # cached on node 2
    # Cut node 2's listener, and every new one as soon as it says LISTEN: node 2 stays deaf until told otherwise.
    attempts = listen_attempts(proxy)
    proxy.deaf.set()
    proxy.cut_listeners()
    wait_for(lambda: listen_attempts(proxy) > attempts, "node 2 to notice and try to listen again")
    first.disable_key(KeyId=key_id)
    changed_at = time.monotonic()
    while error_code(lambda: second.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)) != "DisabledException":
        assert time.monotonic() - changed_at <= VISIBILITY_BOUND, "node 2 serves a disabled key past the bound"
    latencies = [time.monotonic() - changed_at]
    # Grants live in the authorizer's cache, which only the per-request check empties (the key cache has a check
    # of its own): revocations must be honoured within the bound too, whatever those checks' timing.
    iam = service.client(service.nodes[0], "iam")
    arn = iam.create_user(UserName="deaf-grantee")["User"]["Arn"]
    created = iam.create_access_key(UserName="deaf-grantee")["AccessKey"]
    grantee = service.client(service.nodes[1], credentials=(created["AccessKeyId"], created["SecretAccessKey"]))
    granted = first.create_key()["KeyMetadata"]["KeyId"]
    for _ in range(REVOCATIONS):
        grant_id = first.create_grant(KeyId=granted, GranteePrincipal=arn, Operations=["Encrypt"])["GrantId"]
        assert error_code(lambda: grantee.encrypt(KeyId=granted, Plaintext=PLAINTEXT)) is None
        first.revoke_grant(KeyId=granted, GrantId=grant_id)
        changed_at = time.monotonic()
        while error_code(lambda: grantee.encrypt(KeyId=granted, Plaintext=PLAINTEXT)) != "AccessDeniedException":
            assert time.monotonic() - changed_at <= VISIBILITY_BOUND, "node 2 honours a revoked grant past the bound"
        latencies.append(time.monotonic() - changed_at)
    print(f"\nwithout notifications: honoured after at most {max(latencies) * 1000:.0f} ms")
    # Let it listen again: it reconnects, hears node 1's changes, and stops emptying its caches on a timer.
    attempts = listen_attempts(proxy)
    proxy.deaf.clear()
    wait_for(lambda: listen_attempts(proxy) > attempts, "node 2 to listen again")
    first.enable_key(KeyId=key_id)
    changed_at = time.monotonic()
    while error_code(lambda: second.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)) is not None:
        assert time.monotonic() - changed_at <= VISIBILITY_BOUND
    # The reconnection and node 1's change each empty node 2's caches once, in either order; after that, node 2
    # serves from its caches again (while deaf it emptied them every fallback period, 0.5 s).
    settled_at = time.monotonic() + 0.3
    while time.monotonic() < settled_at:
        second.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)
    mark = proxy.mark()
    quiet_until = time.monotonic() + 1.2  # longer than two fallback periods
    while time.monotonic() < quiet_until:
        second.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)
    seen = split(proxy, proxy.since(mark))
    assert seen.requests == []
    assert seen.sweep_transactions_only()


def test_a_node_whose_notification_connection_goes_silent_honours_changes_within_a_second(
    deafened: tuple[Cluster, PostgresProxy],
) -> None:
    """The connection stays open but nothing comes through (a partition, a stuck middlebox): the listener's probe
    then waits on TCP for minutes, and the node must count itself deaf meanwhile."""
    service, proxy = deafened
    first, second = service.client(service.nodes[0]), service.client(service.nodes[1])
    key_id = first.create_key()["KeyMetadata"]["KeyId"]
    assert error_code(lambda: second.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)) is None  # cached on node 2
    proxy.stall_listeners(True)
    try:
        first.disable_key(KeyId=key_id)
        changed_at = time.monotonic()
        while error_code(lambda: second.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)) != "DisabledException":
            assert time.monotonic() - changed_at <= VISIBILITY_BOUND, "node 2 serves a disabled key past the bound"
        print(f"\nsilent notification connection: honoured after {(time.monotonic() - changed_at) * 1000:.0f} ms")
    finally:
        proxy.stall_listeners(False)


def test_a_grant_or_alias_made_while_notifications_are_in_flight_is_usable_at_once(
    deafened: tuple[Cluster, PostgresProxy],
) -> None:
    """Node 2 has just refused a user (its caches hold the key's grants and aliases); node 1 then makes a grant, or
    an alias that the user's policy allows by (kms:ResourceAliases), while node 2's notifications are held up.
    New grants and aliases are usable everywhere at once, so node 2's very next request must succeed."""
    service, proxy = deafened
    first, second = service.client(service.nodes[0]), service.client(service.nodes[1])
    iam = service.client(service.nodes[0], "iam")
    arn = iam.create_user(UserName="late-news")["User"]["Arn"]
    created = iam.create_access_key(UserName="late-news")["AccessKey"]
    user = service.client(service.nodes[1], credentials=(created["AccessKeyId"], created["SecretAccessKey"]))
    # kms:ResourceAliases is a condition key of IAM policies only ("not key policies").
    iam.put_user_policy(
        UserName="late-news",
        PolicyName="by-alias",
        PolicyDocument=documents.policy(
            documents.allow(
                "kms:Encrypt",
                Condition={"ForAnyValue:StringEquals": {"kms:ResourceAliases": "alias/opens-the-key"}},
            )
        ),
    )
    by_grant, by_alias = (first.create_key()["KeyMetadata"]["KeyId"] for _ in range(2))
    for key_id in (by_grant, by_alias):
        assert error_code(lambda key_id=key_id: user.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)) == (
            "AccessDeniedException"
        )
    proxy.stall_listeners(True)
    try:
        first.create_grant(KeyId=by_grant, GranteePrincipal=arn, Operations=["Encrypt"])
        first.create_alias(AliasName="alias/opens-the-key", TargetKeyId=by_alias)
        for key_id in (by_grant, by_alias):
            assert error_code(lambda key_id=key_id: user.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)) is None
    finally:
        proxy.stall_listeners(False)
    assert error_code(lambda: second.encrypt(KeyId=by_grant, Plaintext=PLAINTEXT)) is None


@dataclass
class Acknowledged:
    """What the service answered during the burst; only these must survive."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ciphertexts: dict[str, list[bytes]] = field(default_factory=dict)  # by key id
    grants: dict[str, list[str]] = field(default_factory=dict)  # by key id
    policies: dict[str, str] = field(default_factory=dict)  # the one policy each key was sent, if answered


def burst(service: Cluster, worker: int, stop: threading.Event, seen: Acknowledged) -> None:
    """CreateKey, Encrypt, CreateGrant, PutKeyPolicy, Encrypt again, on nodes in turn, until ``stop``."""
    clients = [service.client(node) for node in service.nodes]
    account = ""
    for turn in range(10_000):
        if stop.is_set():
            return
        kms = clients[(worker + turn) % len(clients)]
        try:
            key_id = kms.create_key()["KeyMetadata"]["KeyId"]
            with seen.lock:
                seen.ciphertexts[key_id] = []
                seen.grants[key_id] = []
            account = account or kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
            ciphertext = kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)["CiphertextBlob"]
            with seen.lock:
                seen.ciphertexts[key_id].append(ciphertext)
            grant_id = kms.create_grant(
                KeyId=key_id, GranteePrincipal=f"arn:aws:iam::{account}:root", Operations=["Decrypt"]
            )["GrantId"]
            with seen.lock:
                seen.grants[key_id].append(grant_id)
            policy = json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": f"burst-{worker}-{turn}",
                            "Effect": "Allow",
                            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ],
                }
            )
            kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy)
            with seen.lock:
                seen.policies[key_id] = policy
            ciphertext = kms.encrypt(KeyId=key_id, Plaintext=PLAINTEXT)["CiphertextBlob"]
            with seen.lock:
                seen.ciphertexts[key_id].append(ciphertext)
        except (BotoCoreError, ClientError):
            # A request the killed node never answered (or answered with an error): nothing acknowledged.
            continue


def test_kill_9_of_a_node_during_a_burst_loses_no_acknowledged_write(
    databases: PostgresDatabases, tmp_path: Path
) -> None:
    with cluster(databases, tmp_path, 3) as service:
        seen = Acknowledged()
        stop = threading.Event()
        threads = [threading.Thread(target=burst, args=(service, worker, stop, seen)) for worker in range(6)]
        for thread in threads:
            thread.start()
        victim = service.nodes[2]
        wait_for(lambda: len(seen.policies) >= 12, "a dozen keys through the whole burst", timeout=30)
        assert victim.process is not None
        victim.process.send_signal(signal.SIGKILL)
        killed_at = len(seen.policies)
        wait_for(lambda: len(seen.policies) >= killed_at + 12, "the survivors to go on writing", timeout=30)
        stop.set()
        for thread in threads:
            thread.join()
        victim.process.wait()
        survivors = service.nodes[:2]
        print(
            f"\nkill -9: {len(seen.ciphertexts)} keys, {sum(map(len, seen.grants.values()))} grants, "
            f"{len(seen.policies)} policies, {sum(map(len, seen.ciphertexts.values()))} ciphertexts acknowledged"
        )
        for node in survivors:
            kms = service.client(node)
            listed = set()
            for page in kms.get_paginator("list_keys").paginate():
                listed |= {key["KeyId"] for key in page["Keys"]}
            assert set(seen.ciphertexts) <= listed
            for key_id, grant_ids in seen.grants.items():
                if grant_ids:
                    stored = {grant["GrantId"] for grant in kms.list_grants(KeyId=key_id)["Grants"]}
                    assert set(grant_ids) <= stored, key_id
            for key_id, policy in seen.policies.items():
                assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == policy
            for ciphertexts in seen.ciphertexts.values():
                for ciphertext in ciphertexts:
                    assert kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == PLAINTEXT


def lease_holders(service: Cluster) -> list[str]:
    """The application names (kmsd-node-N) of the sessions holding the background lease's advisory lock."""
    rows = service.query(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1 "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        (BACKGROUND_LOCK >> 32, BACKGROUND_LOCK & 0xFFFFFFFF),
    )
    return [str(name) for (name,) in rows]


def purge_count(service: Cluster) -> int:
    rows = service.query("SELECT value FROM settings WHERE name = %s", (PURGE_COUNT_SETTING,))
    return int(rows[0][0]) if rows else 0


def end_deletion_window(service: Cluster, node: Node) -> str:
    """A key pending deletion whose window has ended (moved back in the store: the clock is real)."""
    kms = service.client(node)
    key_id = str(kms.create_key()["KeyMetadata"]["KeyId"])
    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    service.query(
        "UPDATE keys SET deletion_date = '2000-01-01T00:00:00+00:00' WHERE key_id = %s RETURNING 1", (key_id,)
    )
    return key_id


def test_background_work_runs_on_one_node_and_moves_when_it_dies(databases: PostgresDatabases, tmp_path: Path) -> None:
    with cluster(databases, tmp_path, 3) as service:
        # Every node tries the lease at each sweep (every 5 s); one holds it.
        wait_for(lambda: len(lease_holders(service)) == 1, "a lease holder", timeout=15)
        holder = lease_holders(service)[0]
        purged = end_deletion_window(service, service.nodes[0])
        wait_for(lambda: service.query("SELECT 1 FROM keys WHERE key_id = %s", (purged,)) == [], "the purge", 15)
        assert purge_count(service) == 1
        assert lease_holders(service) == [holder]
        victim = next(node for node in service.nodes if node.name == holder)
        victim.stop(kill=True)
        wait_for(lambda: len(lease_holders(service)) == 1, "another node to take the lease", timeout=15)
        successor = lease_holders(service)[0]
        assert successor != holder
        survivor = next(node for node in service.nodes if node.name not in (holder, successor))
        purged = end_deletion_window(service, survivor)
        wait_for(lambda: service.query("SELECT 1 FROM keys WHERE key_id = %s", (purged,)) == [], "the purge", 15)
        assert purge_count(service) == 2
        assert error_code(lambda: service.client(survivor).describe_key(KeyId=purged)) == "NotFoundException"
