"""Explaining decisions: ``kmsd authz explain`` offline, the trace of a denial, and the server options.

``kmsd serve --explain-denials`` adds the trace to the AccessDenied JSON body as ``kmsdExplanation``;
``--trusted-proxy-header`` and ``--trusted-service-header`` name the headers a trusted front end sets
for ``aws:SourceIp`` and ``kms:ViaService``.  The app tests call :class:`KmsdApp` in-process with
requests signed by botocore, in ``--dev`` mode (a 12-digit access key id is that account's root user).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from kmsd.api.app import KmsdApp
from kmsd.authz.denial import AccessDeniedError
from kmsd.authz.explain import ExplainError, explain
from kmsd.cli import main
from kmsd.server import build_runtime, open_parts

from .conftest import (
    REGION,
    A,
    World,
    allow,
    denial,
    key_statement,
    no_identity_policy,
    policy,
    root_arn,
)

# --- kmsd authz explain ----------------------------------------------------------------------------------


def test_explain_an_allow(world: World) -> None:
    key = world.key()
    answer = explain(world.store, world.clock, root_arn(), "kms:Encrypt", key["Arn"])
    assert answer.allowed
    text = answer.render_text()
    assert text.startswith(f"kms:Encrypt on {key['Arn']} by {root_arn()}: ALLOWED")
    assert "allowed by: key policy" in text
    assert "key-policy:Enable IAM User Permissions [resource] Allow: matched via principal" in text


def test_explain_a_denial_with_every_statement(world: World) -> None:
    key = world.key()
    user = world.user("alice", allow("kms:Decrypt"))
    answer = explain(world.store, world.clock, user.principal.arn, "kms:Encrypt", key["Arn"])
    assert not answer.allowed
    assert answer.message() == denial(user.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))
    report = answer.to_json()
    assert report["decision"] == "Deny"
    [check] = report["checks"]
    trace = check["policies"]["trace"]
    assert {entry["statement"]: entry["matched"] for entry in trace} == {
        "key-policy:Enable IAM User Permissions": True,
        f"{user.principal.arn}#inline:#0": False,
    }
    assert "no match (action): `kms:Encrypt` is not in Action [`kms:Decrypt`]" in answer.render_text()


def test_explain_with_context_and_grants(world: World) -> None:
    user = world.user("bob")
    key = world.key(
        policy(
            key_statement(root_arn()),
            key_statement(user.principal.arn, "kms:Encrypt", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
        )
    )
    inside = explain(world.store, world.clock, user.principal.arn, "kms:Encrypt", key["Arn"], ["aws:SourceIp=10.0.0.9"])
    assert inside.allowed
    outside = explain(world.store, world.clock, user.principal.arn, "kms:Encrypt", key["Arn"], ["aws:SourceIp=1.2.3.4"])
    assert not outside.allowed
    world.kms()(
        "CreateGrant",
        KeyId=key["KeyId"],
        GranteePrincipal=user.principal.arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": {"app": "pay"}},
    )
    granted = explain(
        world.store, world.clock, user.principal.arn, "kms:Decrypt", key["Arn"], ["kms:EncryptionContext:app=pay"]
    )
    assert granted.allowed and granted.result.grants_matched
    assert "grants:" in granted.render_text()
    refused = explain(world.store, world.clock, user.principal.arn, "kms:Decrypt", key["Arn"], [])
    assert not refused.allowed


def test_explain_sessions_aliases_and_actions_on_no_key(world: World) -> None:
    session = world.role_session("app", allow("kms:DescribeKey"))
    key = world.key()
    world.kms()("CreateAlias", AliasName="alias/app", TargetKeyId=key["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{A}:alias/app"
    assert explain(world.store, world.clock, session.principal.arn, "kms:DescribeKey", alias_arn).allowed
    assert session.principal.role_arn is not None
    assert explain(world.store, world.clock, session.principal.role_arn, "kms:DescribeKey", key["Arn"]).allowed
    create = explain(world.store, world.clock, session.principal.arn, "kms:CreateKey", None)
    assert (create.allowed, create.resource) == (False, "*")


@pytest.mark.parametrize(
    ("principal", "action", "key"),
    [
        (f"arn:aws:iam::{A}:user/nobody", "kms:Encrypt", None),
        ("999988887777", "kms:CreateKey", None),
        (root_arn(), "kms:Fly", None),
        (root_arn(), "kms:Encrypt", f"arn:aws:kms:{REGION}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        (root_arn(), "kms:Encrypt", "not-an-arn"),
    ],
)
def test_explain_refuses_questions_about_nothing(world: World, principal: str, action: str, key: str | None) -> None:
    with pytest.raises(ExplainError):
        explain(world.store, world.clock, principal, action, key)


def test_the_command_line(world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = world.key()
    user = world.user("carol")
    url = f"sqlite:///{tmp_path / 'kmsd.db'}"
    arguments = ["authz", "explain", "--store", url, "--principal", user.principal.arn, "--action", "kms:Encrypt"]
    assert main([*arguments, "--key", key["Arn"], "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["message"] == denial(user.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))
    assert main([*arguments, "--key", key["Arn"], "--context", "kms:EncryptionContext:a=b"]) == 0
    assert "DENIED" in capsys.readouterr().out
    assert main([*arguments, "--key", key["Arn"], "--context", "no-equals-sign"]) == 1
    assert "is not KEY=VALUE" in capsys.readouterr().err


# --- the trace of a denial -------------------------------------------------------------------------------


def test_a_denial_carries_its_explanation(world: World) -> None:
    key = world.key()
    user = world.user("dan")
    with pytest.raises(AccessDeniedError) as raised:
        world.kms(user)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    explanation = raised.value.explanation()
    assert explanation is not None
    assert (explanation["operation"], explanation["principal"], explanation["decision"]) == (
        "Encrypt",
        user.principal.arn,
        "Deny",
    )
    [check] = explanation["checks"]
    assert (check["action"], check["resource"], check["allowed"]) == ("kms:Encrypt", key["Arn"], False)
    assert check["policies"]["kinds"]["resource"]["allow_via"] == "account"
    assert check["reason"] == no_identity_policy("kms:Encrypt")


# --- the server's options ----------------------------------------------------------------------------------


class Answer:
    def __init__(self) -> None:
        self.status = 0
        self.body = b""

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


def call_app(
    app: KmsdApp, operation: str, params: dict[str, Any], extra_headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """One signed KMS request (as the root user of account A, in --dev mode) through the ASGI app."""
    body = json.dumps(params).encode()
    headers = {
        "Host": "127.0.0.1:4599",
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"TrentService.{operation}",
    }
    headers.update(extra_headers or {})
    request = AWSRequest(method="POST", url="http://127.0.0.1:4599/", data=body, headers=headers)
    SigV4Auth(Credentials(A, "any-secret"), "kms", REGION).add_auth(request)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(name.lower().encode(), str(value).encode()) for name, value in request.headers.items()],
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    answer = Answer()
    asyncio.run(app(scope, receive, answer))
    return answer.status, json.loads(answer.body)


@pytest.fixture
def app_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("KMSD_ROOT_KEY", raising=False)

    def build(**options: Any) -> KmsdApp:
        parts = open_parts(f"sqlite:///{tmp_path / 'app.db'}")
        return KmsdApp(build_runtime(parts, dev=True), **options)

    return build


def conditional_key(app: KmsdApp, condition: dict[str, Any]) -> str:
    """A key whose policy lets the account's root user encrypt only under ``condition``."""
    document = policy(
        key_statement(root_arn(), "kms:PutKeyPolicy"),
        key_statement(root_arn(), "kms:Encrypt", Condition=condition),
    )
    status, created = call_app(app, "CreateKey", {"Policy": json.dumps(document)})
    assert status == 200, created
    key_id: str = created["KeyMetadata"]["KeyId"]
    return key_id


def test_explain_denials_adds_the_trace_to_the_body(app_options: Any) -> None:
    for explain_denials in (False, True):
        app = app_options(explain_denials=explain_denials)
        key_id = conditional_key(app, {"Bool": {"aws:SecureTransport": "true"}})
        status, body = call_app(app, "Encrypt", {"KeyId": key_id, "Plaintext": "eA=="})
        assert (status, body["__type"]) == (400, "AccessDeniedException")
        assert body["message"].endswith("because no resource-based policy allows the kms:Encrypt action")
        if explain_denials:
            [check] = body["kmsdExplanation"]["checks"]
            failed = [entry for entry in check["policies"]["trace"] if entry["mismatch"] == "condition"]
            assert failed and failed[0]["conditions"] == [
                {"operator": "Bool", "key": "aws:SecureTransport", "held": False}
            ]
        else:
            assert "kmsdExplanation" not in body


def test_the_trusted_proxy_header_sets_the_source_ip(app_options: Any) -> None:
    app = app_options(trusted_proxy_header="X-Forwarded-For")
    key_id = conditional_key(app, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    encrypt = {"KeyId": key_id, "Plaintext": "eA=="}
    assert call_app(app, "Encrypt", encrypt)[0] == 400  # the TCP peer is 127.0.0.1
    assert call_app(app, "Encrypt", encrypt, {"X-Forwarded-For": "203.0.113.9, 10.1.2.3"})[0] == 200
    assert call_app(app, "Encrypt", encrypt, {"X-Forwarded-For": "10.1.2.3, 203.0.113.9"})[0] == 400
    assert call_app(app, "Encrypt", encrypt, {"X-Forwarded-For": "not-an-address"})[0] == 400
    untrusting = app_options()
    other_key = conditional_key(untrusting, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert call_app(untrusting, "Encrypt", {**encrypt, "KeyId": other_key}, {"X-Forwarded-For": "10.1.2.3"})[0] == 400


def test_the_trusted_service_header_sets_via_service(app_options: Any) -> None:
    via = "ec2.us-west-2.amazonaws.com"
    app = app_options(trusted_service_header="X-Kmsd-Via-Service")
    key_id = conditional_key(app, {"StringEquals": {"kms:ViaService": via}})
    encrypt = {"KeyId": key_id, "Plaintext": "eA=="}
    assert call_app(app, "Encrypt", encrypt)[0] == 400
    assert call_app(app, "Encrypt", encrypt, {"X-Kmsd-Via-Service": via})[0] == 200
    assert call_app(app, "Encrypt", encrypt, {"X-Kmsd-Via-Service": "not a service"})[0] == 400
    untrusting = app_options()
    other_key = conditional_key(untrusting, {"StringEquals": {"kms:ViaService": via}})
    assert call_app(untrusting, "Encrypt", {**encrypt, "KeyId": other_key}, {"X-Kmsd-Via-Service": via})[0] == 400
