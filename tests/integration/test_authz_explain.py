"""Why was this call denied: ``kmsd serve --explain-denials`` and ``kmsd authz explain``.

With ``--explain-denials`` the AccessDeniedException body carries, besides
AWS's ``__type`` and ``message`` (unchanged, so SDKs see the same error), a
``kmsdExplanation`` member: the operation, the caller, the decision and every
permission checked with the policies consulted, each statement's verdict
(matched, or which element failed and why) and the grants considered.
``kmsd authz explain`` answers the same question offline from the store:
"can PRINCIPAL do ACTION on KEY with CONTEXT, and why".
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.authz_world import (
    ACCOUNT_A,
    DENY_IN_RESOURCE_POLICY,
    NO_IDENTITY_POLICY,
    NO_RESOURCE_POLICY,
    Identity,
    Key,
    World,
    allow,
    denied,
    deny,
    enable_iam_policies,
    refused,
    running_world,
)
from tests.integration.stores import Stores

EXPLANATION = "kmsdExplanation"
KMS_ROOT = enable_iam_policies(ACCOUNT_A)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-explain"), "--explain-denials") as built:
        yield built


def encrypt_raw(caller: Identity, key: Key, context: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    params: dict[str, Any] = {"KeyId": key.arn, "Plaintext": base64.b64encode(b"x").decode("ascii")}
    if context is not None:
        params["EncryptionContext"] = context
    return caller.raw_kms("Encrypt", params)


def refused_check(explanation: dict[str, Any]) -> dict[str, Any]:
    """The one permission check that refused the call."""
    refusals: list[dict[str, Any]] = [check for check in explanation["checks"] if not check["allowed"]]
    assert len(refusals) == 1, explanation
    return refusals[0]


def test_denial_names_the_deny_statement_that_decided(world: World) -> None:
    caller = world.a.user(allow("kms:*"))
    key = world.a.key(KMS_ROOT, deny("kms:Encrypt", principal=caller.arn, sid="NoEncryptForCaller"))
    status, body = encrypt_raw(caller, key)
    expected = denied(caller.arn, "kms:Encrypt", key.arn, DENY_IN_RESOURCE_POLICY)
    assert (body["__type"], body["message"], status) == expected
    explanation = body[EXPLANATION]
    assert (explanation["operation"], explanation["principal"], explanation["decision"]) == (
        "Encrypt",
        caller.arn,
        "Deny",
    )
    check = refused_check(explanation)
    assert (check["action"], check["resource"], check["reason"]) == ("kms:Encrypt", key.arn, DENY_IN_RESOURCE_POLICY)
    matched = [entry for entry in check["policies"]["trace"] if entry["matched"]]
    deciding = [entry for entry in matched if "NoEncryptForCaller" in entry["statement"]]
    assert [(entry["kind"], entry["effect"]) for entry in deciding] == [("resource", "Deny")]
    # SDKs see exactly AWS's error: the extra member changes nothing for them.
    assert refused(caller.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == expected


def test_denial_says_which_condition_failed(world: World) -> None:
    caller = world.a.user()
    admin = world.a.user()
    key = world.a.key(
        allow("kms:*", principal=admin.arn, sid="Administrator"),
        allow(
            "kms:Encrypt",
            principal=caller.arn,
            sid="BackupsOnly",
            condition={"StringEquals": {"kms:EncryptionContext:purpose": "backup"}},
        ),
        bypass=True,
    )
    assert encrypt_raw(caller, key, {"purpose": "backup"})[0] == 200
    status, body = encrypt_raw(caller, key, {"purpose": "archive"})
    assert (body["__type"], body["message"], status) == denied(caller.arn, "kms:Encrypt", key.arn, NO_RESOURCE_POLICY)
    trace = {entry["statement"]: entry for entry in refused_check(body[EXPLANATION])["policies"]["trace"]}
    [backups] = [entry for name, entry in trace.items() if "BackupsOnly" in name]
    assert (backups["matched"], backups["mismatch"]) == (False, "condition")
    assert backups["conditions"] == [
        {"operator": "StringEquals", "key": "kms:EncryptionContext:purpose", "held": False}
    ]
    [administrator] = [entry for name, entry in trace.items() if "Administrator" in name]
    assert (administrator["matched"], administrator["mismatch"]) == (False, "principal")


def test_denial_lists_the_grants_considered(world: World) -> None:
    grantee = world.a.user()
    key = world.a.key()
    grant_id = world.a.kms().create_grant(KeyId=key.key_id, GranteePrincipal=grantee.arn, Operations=["Decrypt"])[
        "GrantId"
    ]
    status, body = encrypt_raw(grantee, key)
    assert (body["__type"], body["message"], status) == denied(grantee.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY)
    grants = refused_check(body[EXPLANATION])["grants"]
    assert [(g["grant_id"], g["operations"], g["matched"]) for g in grants] == [(grant_id, ["Decrypt"], False)]


def test_allowed_calls_carry_no_explanation(world: World) -> None:
    caller = world.a.user(allow("kms:Encrypt"))
    key = world.a.key()
    status, body = encrypt_raw(caller, key)
    assert status == 200
    assert body["KeyId"] == key.arn
    assert EXPLANATION not in body


# --- kmsd authz explain ----------------------------------------------------------------------------------------
def explain_offline(world: World, *args: str) -> tuple[int, str]:
    done = world.server.command("authz", "explain", "--store", world.server.store_url, *args)
    return done.returncode, done.stdout


def test_offline_explain_answers_like_the_server(world: World) -> None:
    caller = world.a.user(allow("kms:*"))
    key = world.a.key(KMS_ROOT, deny("kms:Encrypt", principal=caller.arn, sid="NoEncryptForCaller"))
    online = refused(caller.kms().encrypt, KeyId=key.arn, Plaintext=b"x")
    code, out = explain_offline(world, "--principal", caller.arn, "--action", "kms:Encrypt", "--key", key.arn, "--json")
    assert code == 0
    answer = json.loads(out)
    assert (answer["decision"], answer["message"]) == ("Deny", online[1])
    check = refused_check(answer)
    assert (check["action"], check["resource"], check["reason"]) == ("kms:Encrypt", key.arn, DENY_IN_RESOURCE_POLICY)
    deciding = [entry for entry in check["policies"]["trace"] if entry["matched"] and entry["effect"] == "Deny"]
    assert ["NoEncryptForCaller" in entry["statement"] for entry in deciding] == [True]
    code, allowed_out = explain_offline(
        world, "--principal", caller.arn, "--action", "kms:DescribeKey", "--key", key.arn, "--json"
    )
    assert (code, json.loads(allowed_out)["decision"]) == (0, "Allow")
    # A principal that does not exist cannot be asked about.
    ghost = f"arn:aws:iam::{ACCOUNT_A}:user/nobody-here"
    assert explain_offline(world, "--principal", ghost, "--action", "kms:Encrypt", "--key", key.arn)[0] == 1


def test_offline_explain_takes_the_request_context(world: World) -> None:
    caller = world.a.user(allow("kms:Encrypt", condition={"StringEquals": {"kms:EncryptionContext:purpose": "backup"}}))
    key = world.a.key()
    base = ["--principal", caller.arn, "--action", "kms:Encrypt", "--key", key.arn, "--json"]
    _, matching = explain_offline(world, *base, "--context", "kms:EncryptionContext:purpose=backup")
    assert json.loads(matching)["decision"] == "Allow"
    _, other = explain_offline(world, *base, "--context", "kms:EncryptionContext:purpose=archive")
    answer = json.loads(other)
    assert answer["decision"] == "Deny"
    assert refused_check(answer)["reason"] == NO_IDENTITY_POLICY.format(action="kms:Encrypt")
