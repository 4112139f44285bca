"""No store round trip on the hot path: Encrypt, Decrypt and GenerateDataKey with a warm cache touch no database.

The node reaches PostgreSQL through a proxy that records every statement by connection (``pg_proxy``), so the
test can say exactly what the 200 calls cost: nothing on the request connections.  Two connections talk to the
database on their own clock, not per request, and are reported apart: the change listener (a ``SELECT 1`` when
it has been quiet for half a second, to notice a dead peer) and the background lease (one ``SELECT 1`` per
sweep).  The last-use bookkeeping of keys and access keys writes at most once a minute per key, and the warm-up
calls have just written it, so none falls in the measured window; one more access key's first use between the
warm-up and the measured calls checks that such a write (a commit that changes no key) keeps the key cached.

The callers cover each source of an authorization: the account's root (the key policy), a user allowed by an
attached identity policy, and a user allowed only by a grant.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.multi_node.cluster import Cluster, Databases, error_code, proxy_for, through
from tests.multi_node.pg_proxy import PostgresProxy

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
def proxied(databases: Databases, tmp_path: Path) -> Iterator[tuple[Cluster, PostgresProxy]]:
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
    for index in range(CALLS):
        call(index)
    trips = proxy.since(mark)
    background = {
        number for number, sql in proxy.first_sql.items() if sql.startswith("LISTEN") or "pg_try_advisory_lock" in sql
    }
    on_requests = [trip.sql for trip in trips if trip.connection not in background]
    counted = Counter(trip.sql for trip in trips if trip.connection in background)
    print(f"\nhot path: {CALLS} calls, {len(on_requests)} request round trips; background: {dict(counted)}")
    assert on_requests == []
    assert set(counted) <= {"SELECT 1"}
