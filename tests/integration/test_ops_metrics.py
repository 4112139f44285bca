"""``/metrics``: scraped over HTTP from a real ``kmsd serve``, read with Prometheus's text parser.

Calls made with boto3 (a success, an AccessDenied, a validation error, an IAM call, a refused signature)
move the request and decision counters by exactly what they are, the latency histogram counts them, the
caches and the store report their work, and no secret, key id or caller-chosen name is ever in the page.
With ``--workers 2`` every worker's scrape shows the sum of both workers' calls.
"""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.clients import client, kms_call, user_with_key
from tests.helpers.metrics import Scrape, get, scrape, scrape_on
from tests.helpers.pinned_workers import pin_both_workers
from tests.integration.server import KmsdServer
from tests.integration.stores import Stores

REQUESTS = "kmsd_requests_total"
DECISIONS = "kmsd_authorization_decisions_total"
LATENCY_COUNT = "kmsd_request_duration_seconds_count"
CACHES = ("credentials", "key_records", "key_material", "grants", "aliases", "key_policies", "decisions")


def _error_code(call: Any, **params: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**params)
    return str(raised.value.response["Error"]["Code"])


def _moved(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def test_calls_move_the_counters_by_exactly_what_they_were(fresh_server: KmsdServer) -> None:
    server = fresh_server.start()
    root = server.default_credentials()
    kms, iam = client(server, "kms", root), client(server, "iam", root)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    _, user = user_with_key(iam)
    user_kms, user_iam = client(server, "kms", user), client(server, "iam", user)
    plaintext = f"metrics-plaintext-{uuid.uuid4().hex}".encode()
    invented = f"InventedOperation{uuid.uuid4().hex[:8]}"
    before = scrape(server.port)

    for _ in range(2):
        kms.encrypt(KeyId=key_id, Plaintext=plaintext)
    assert _error_code(user_kms.encrypt, KeyId=key_id, Plaintext=plaintext) == "AccessDeniedException"
    assert _error_code(server.root_client().encrypt, KeyId=key_id, Plaintext=b"") == "ValidationException"
    iam.list_users()
    assert _error_code(user_iam.list_users) == "AccessDenied"
    client(server, "cloudtrail", root).lookup_events()
    stranger = client(server, "kms", ("AKIAZZZZZZZZZZZZZZZZ", "not-a-secret-of-anyone"))
    assert _error_code(stranger.list_keys) == "UnrecognizedClientException"
    status, _ = kms_call(server, root, invented, {})
    assert status == 400

    after = scrape(server.port)
    moved = {
        ("kms", "Encrypt", "success", ""): 2,
        ("kms", "Encrypt", "client_error", "AccessDeniedException"): 1,
        ("kms", "Encrypt", "client_error", "ValidationException"): 1,
        ("iam", "ListUsers", "success", ""): 1,
        ("iam", "ListUsers", "client_error", "AccessDenied"): 1,
        ("cloudtrail", "LookupEvents", "success", ""): 1,
        # Refused before a service: neither the service nor the operation is known.
        ("unknown", "unknown", "client_error", "UnrecognizedClientException"): 1,
        # An operation no model names is counted, under "unknown", never under the name the caller sent.
        ("kms", "unknown", "client_error", "UnknownOperationException"): 1,
    }
    for (service, operation, outcome, code), count in moved.items():
        labels = {"service": service, "operation": operation, "outcome": outcome, "error_code": code}
        assert _moved(before, after, REQUESTS, **labels) == count, labels
    assert after.total(REQUESTS) - before.total(REQUESTS) == sum(moved.values())
    assert invented not in after.text

    assert _moved(before, after, LATENCY_COUNT, service="kms", operation="Encrypt") == 4
    assert _moved(before, after, LATENCY_COUNT, service="iam", operation="ListUsers") == 2

    decisions = {
        ("kms", "allow", "key-policy"): 2,  # the default key policy names the root user's account
        ("kms", "implicit-deny", "no-identity-policy-allow"): 1,  # it delegates; the user has no policy
        ("iam", "allow", "root"): 1,
        ("iam", "implicit-deny", "no-identity-policy-allow"): 1,
        ("cloudtrail", "allow", "root"): 1,
    }
    for (service, outcome, reason), count in decisions.items():
        labels = {"service": service, "outcome": outcome, "reason": reason}
        assert _moved(before, after, DECISIONS, **labels) == count, labels
    # The validation error and the refused signature reached no decision.
    assert after.total(DECISIONS) - before.total(DECISIONS) == sum(decisions.values())

    for cache in CACHES:
        assert ("kmsd_cache_hits_total", (("cache", cache),)) in after.samples, cache
        assert ("kmsd_cache_misses_total", (("cache", cache),)) in after.samples, cache
    # Every signed call after the first of each caller finds its credentials cached; each Encrypt its key.
    assert _moved(before, after, "kmsd_cache_hits_total", cache="credentials") >= 4
    assert _moved(before, after, "kmsd_cache_misses_total", cache="credentials") >= 1  # the stranger's key
    assert _moved(before, after, "kmsd_cache_hits_total", cache="key_material") >= 1
    for kind in ("read", "write", "commit"):
        assert after.value("kmsd_store_statements_total", kind=kind) > 0, kind
        assert after.value("kmsd_store_statement_seconds_total", kind=kind) > 0, kind
    assert after.value("kmsd_store_statements_total", kind="read") >= before.value(
        "kmsd_store_statements_total", kind="read"
    )

    # The audit trail's queue (read-only calls' events wait there for its writer): a gauge, present from the start.
    assert ("kmsd_audit_queue_depth", ()) in after.samples
    assert after.value("kmsd_audit_queue_depth") >= 0

    # No secret, and nothing that names an account, a principal or a key.
    for secret in (root[1], user[1], plaintext.decode(), base64.b64encode(plaintext).decode()):
        assert secret not in after.text
    for identifier in (root[0], user[0], key_id, "arn:aws"):
        assert identifier not in after.text


@pytest.mark.sqlite_only("the token check is the same whatever the store; one server is enough")
def test_a_metrics_token_is_required_when_configured(fresh_server: KmsdServer, tmp_path: Path) -> None:
    token = uuid.uuid4().hex
    token_file = tmp_path / "metrics-token"
    token_file.write_text(token + "\n")
    fresh_server.extra_args = ["--metrics-token-file", str(token_file)]
    server = fresh_server.start()
    status, _, headers = get(server.port)
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert get(server.port, headers={"Authorization": "Bearer not-the-token"})[0] == 401
    page = scrape(server.port, token=token)
    assert page.value(REQUESTS) == 0
    assert token not in page.text


@pytest.mark.sqlite_only("whether /metrics is served does not depend on the store")
def test_metrics_off_is_not_served_and_an_unreadable_token_file_is_refused(
    fresh_server: KmsdServer, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-token"
    port = str(fresh_server.port)
    refused = fresh_server.command(
        "serve", "--store", fresh_server.store_url, "--port", port, "--metrics-token-file", str(missing)
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [f"kmsd: --metrics-token-file {missing}: No such file or directory"]
    fresh_server.extra_args = ["--metrics", "off"]
    server = fresh_server.start()
    assert get(server.port)[0] == 404
    assert get(server.port, "/health")[0] == 200


def test_every_worker_scrapes_the_sum_of_all_workers(tmp_path: Path, stores: Stores) -> None:
    """A scrape reaches one worker; it must show the calls every worker answered (multiprocess mode)."""
    server = KmsdServer(tmp_path / "workers", stores.new(tmp_path / "workers"), extra_args=["--workers", "2"])
    server.start()
    try:
        first, second = pin_both_workers(server.port)
        assert first.worker != second.worker
        root = server.default_credentials()
        before = scrape_on(first.connection)
        created = first.kms("CreateKey", root)
        assert created.status == 200, created.text
        key_id = created.body["KeyMetadata"]["KeyId"]
        plaintext = base64.b64encode(b"counted across workers").decode()
        for pinned, times in ((first, 2), (second, 3)):
            for _ in range(times):
                answer = pinned.kms("Encrypt", root, KeyId=key_id, Plaintext=plaintext)
                assert answer.status == 200, answer.text
        labels = {"service": "kms", "operation": "Encrypt", "outcome": "success", "error_code": ""}
        for pinned in (first, second):
            page = scrape_on(pinned.connection)
            assert page.worker == pinned.worker
            assert page.value(REQUESTS, **labels) - before.value(REQUESTS, **labels) == 5
            assert page.value(LATENCY_COUNT, service="kms", operation="Encrypt") == 5
            created_labels = {**labels, "operation": "CreateKey"}
            assert _moved(before, page, REQUESTS, **created_labels) == 1
        first.connection.close()
        second.connection.close()
    finally:
        server.stop()
        stores.release(server.store_url)
