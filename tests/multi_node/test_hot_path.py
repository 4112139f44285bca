"""No store round trip on the hot path: Encrypt, Decrypt and GenerateDataKey with a warm cache touch no database.

The node reaches PostgreSQL through a proxy that records every statement by connection (``pg_proxy``), so the
test can say exactly what the calls cost: nothing on the request connections.  The calls go on (at least 200)
until the node's periodic sweep has run among them, and everything else is accounted for: the change listener
and the background lease talk on connections of their own (a ``SELECT 1`` when the listener has been quiet for
half a second, to notice a dead peer; one statement on the lease's per sweep), and the sweep's own statements
run on the pool's (SWEEP_MARKERS).  The sweep's one write (expired sessions) deletes nothing here, and must then
neither notify the other nodes nor empty this node's key cache.  The last-use bookkeeping of keys and access
keys writes at most once a minute per key, and the warm-up calls have just written it, so none falls in the
measured window; one more access key's first use between the warm-up and the measured calls checks that such a
write (a commit that changes no key) keeps the key cached.

The audit trail's events of these read-only calls are queued and written by the trail's own writer thread, in
batches (kmsd.audit.trail): those transactions, and nothing else, are set apart (``Split.audit``); they must touch
only the audit tables, notify no node, and be far fewer than the calls.

The callers cover each source of an authorization: the account's root (the key policy), a user allowed by an
attached identity policy, and a user allowed only by a grant.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.postgres import PostgresDatabases
from tests.multi_node.cluster import Cluster, error_code, proxy_for, through
from tests.multi_node.pg_proxy import TRANSACTION_CONTROL, PostgresProxy, lease_connections, split

CALLS = 200


def settle(proxy: PostgresProxy) -> None:
    """Wait until the warm-up's last-use records (queued on the node's store-call thread) have been written: no
    statement but the listener's poll for longer than that poll's period."""
    while True:
        mark = proxy.mark()
        time.sleep(0.6)
        if all(trip.sql == "SELECT 1" for trip in proxy.since(mark)):
            return


@pytest.fixture
def proxied(databases: PostgresDatabases, tmp_path: Path) -> Iterator[tuple[Cluster, PostgresProxy]]:
    running = Cluster(databases.create(), tmp_path)
    proxy = proxy_for(running.url)
    try:
        running.add(url=through(proxy, running.url))
        yield running, proxy
    finally:
        running.stop()
        proxy.close()


def test_encrypt_decrypt_and_generate_data_key_make_no_round_trip_once_cached(
    proxied: tuple[Cluster, PostgresProxy],
) -> None:
    service, proxy = proxied
    node = service.nodes[0]
    kms, iam = service.client(node), service.client(node, "iam")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    policy_arn = iam.create_policy(
        PolicyName="crypto",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
        ),
    )["Policy"]["Arn"]
    callers = [service.credentials]
    for name in ("by-identity-policy", "by-grant"):
        arn = iam.create_user(UserName=name)["User"]["Arn"]
        created = iam.create_access_key(UserName=name)["AccessKey"]
        callers.append((created["AccessKeyId"], created["SecretAccessKey"]))
        if name == "by-identity-policy":
            iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
        else:
            kms.create_grant(KeyId=key_id, GranteePrincipal=arn, Operations=["Encrypt", "Decrypt", "GenerateDataKey"])
    clients = [service.client(node, credentials=caller) for caller in callers]
    iam.create_user(UserName="first-use")  # an IAM write empties every cache: before the warm-up
    first_use = iam.create_access_key(UserName="first-use")["AccessKey"]
    late = service.client(node, credentials=(first_use["AccessKeyId"], first_use["SecretAccessKey"]))
    ciphertext = kms.encrypt(KeyId=key_id, Plaintext=b"warm")["CiphertextBlob"]

    def call(index: int) -> None:
        client = clients[index % len(clients)]
        operation = index % 3
        if operation == 0:
            client.encrypt(KeyId=key_id, Plaintext=b"hot")
        elif operation == 1:
            assert client.decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"warm"
        else:
            client.generate_data_key(KeyId=key_id, KeySpec="AES_256")

    for index in range(9):  # every caller and operation once: caches filled, last uses recorded
        call(index)
    settle(proxy)
    # One more access key's first use: its last-use record is written now, between the warm-up and the measured
    # calls.  Such a write commits a transaction but changes no key, so the cached key must survive it.
    mark = proxy.mark()
    assert error_code(late.list_keys) == "AccessDeniedException"
    settle(proxy)
    assert any(trip.sql.startswith("UPDATE access_keys SET last_used_at") for trip in proxy.since(mark))
    mark = proxy.mark()
    # The calls go on until the node's periodic sweep has run among them (every 5 s; a new trip on the lease
    # connection starts each one) and a little after: the sweep must not cost the requests anything either.
    calls, swept_at = 0, None
    while calls < CALLS or swept_at is None or time.monotonic() < swept_at + 0.5:
        call(calls)
        calls += 1
        if swept_at is None and any(trip.connection in lease_connections(proxy) for trip in proxy.since(mark)):
            swept_at = time.monotonic()
    trips = proxy.since(mark)
    seen = split(proxy, trips)
    print(
        f"\nhot path: {calls} calls across a sweep, {len(seen.requests)} request round trips; sweep: "
        f"{len(seen.sweep)} statements and {len(seen.control)} of transaction control; other connections: "
        f"{dict(seen.background)}; audit trail: {len(seen.audit)} transactions"
    )
    assert seen.requests == []
    assert all(all("audit_" in sql or sql in TRANSACTION_CONTROL for sql in batch) for batch in seen.audit)
    assert len(seen.audit) < calls / 2  # batches, never one write per call
    # The sweep's one write transaction (expired sessions) and nothing else; it changed nothing, so it must not
    # notify the other nodes (which would empty every node's caches at every sweep).
    assert seen.sweep_transactions_only()
    assert not any("pg_notify" in trip.sql for trip in trips)
    assert set(seen.background) <= {"SELECT 1", "SELECT pg_try_advisory_lock($1)"}
