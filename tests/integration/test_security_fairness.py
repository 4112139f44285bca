"""Issue 9, item 2: one tenant's expensive request does not hold the others, through a real ``kmsd serve``.

Wildcard matching is linear, but linear in policy size × request size: a
32 KB key policy of adversarial ``StringLike`` patterns against a 1 MB
encryption context value still costs seconds of evaluation.  kmsd runs such
an oversized call off the event loop, so while it runs ``/health`` and
another account's Encrypt are answered.  The assertion is about order, not
time: both answers arrive while the expensive call is still running (it is
sized to run for seconds), and the expensive call itself still gets the
right answer.  On a server that evaluated it on the event loop, nothing
would be answered until it finished.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from typing import Any

import pytest

from tests.helpers.clients import health, kms_call, new_account
from tests.helpers.documents import root_statement
from tests.integration.server import KmsdServer

KEY_POLICY_LIMIT = 32_768
# Substring patterns that almost match a run of "a"s: each costs a full scan of the value.
PATTERNS = [f"*a{'a' * (index % 7)}b*" for index in range(40)]
# As large as kmsd's 1 MiB request body allows, with room for the rest of the request.
CONTEXT_VALUE = "a" * 1_000_000


def adversarial_policy(account_id: str) -> str:
    """The account's root statement, then as many adversarial Deny statements as fit in 32 KB."""
    statements: list[dict[str, Any]] = [root_statement(account_id)]
    text = ""
    while True:
        deny = {
            "Sid": f"Adversarial{len(statements)}",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {"StringLike": {"kms:EncryptionContext:t": PATTERNS}},
        }
        candidate = json.dumps({"Version": "2012-10-17", "Statement": [*statements, deny]})
        if len(candidate.encode()) > KEY_POLICY_LIMIT:
            return text
        statements.append(deny)
        text = candidate


@pytest.mark.timeout(300)
def test_an_oversized_expensive_call_does_not_hold_other_tenants(server: KmsdServer) -> None:
    attacker, victim = new_account(server), new_account(server)
    attacker_kms = server.client("kms", access_key=attacker.credentials[0], secret_key=attacker.credentials[1])
    attacker_key = attacker_kms.create_key(Policy=adversarial_policy(attacker.account_id))["KeyMetadata"]["KeyId"]
    victim_kms = server.client("kms", access_key=victim.credentials[0], secret_key=victim.credentials[1])
    victim_key = victim_kms.create_key()["KeyMetadata"]["KeyId"]
    plaintext = base64.b64encode(b"secret").decode()

    expensive: dict[str, Any] = {}

    def send_expensive() -> None:
        expensive["answer"] = kms_call(
            server,
            attacker.credentials,
            "Encrypt",
            {"KeyId": attacker_key, "Plaintext": plaintext, "EncryptionContext": {"t": CONTEXT_VALUE}},
        )

    sender = threading.Thread(target=send_expensive)
    sender.start()
    time.sleep(1.0)  # the request is on the wire and being evaluated

    assert health(server) == 200
    status, answer = kms_call(server, victim.credentials, "Encrypt", {"KeyId": victim_key, "Plaintext": plaintext})
    assert status == 200, answer
    # Both were answered while the expensive call still runs: it held neither the loop nor the victim.
    assert sender.is_alive()

    sender.join(timeout=280)
    assert not sender.is_alive()
    status, answer = expensive["answer"]
    # No pattern matches (none has its "b"), so every Deny is evaluated and the root statement allows.
    assert status == 200, answer
    assert "CiphertextBlob" in answer
