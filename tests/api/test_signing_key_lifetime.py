"""Derived SigV4 signing keys live exactly as long as the credential resolver remembers their secret (issue 9, item 18).

The app is driven in-process over ASGI with requests signed by botocore, so
the test can look into the runtime's :class:`CredentialResolver` through its
public API (``cached``) and count who still refers to a derived key after
DeleteAccessKey, UpdateAccessKey Inactive or a session's expiry.  The same requests against a real server are in
``tests/integration/test_security_wire.py``.
"""

from __future__ import annotations

import asyncio
import gc
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from kmsd.api.app import KmsdApp, Runtime
from kmsd.api.sigv4 import verifier as sigv4_verifier
from kmsd.clock import ManualClock
from kmsd.server import build_runtime, open_parts

HOST = "kmsd.test"
IAM_VERSION = "2010-05-08"
STS_VERSION = "2011-06-15"


@dataclass
class Harness:
    app: KmsdApp
    runtime: Runtime
    clock: ManualClock
    root: tuple[str, str]

    def call(self, service: str, credentials: tuple[str, ...], params: dict[str, str]) -> tuple[int, str]:
        """One signed query-protocol (iam, sts) or KMS (ListKeys) request through the ASGI app."""
        if service == "kms":
            body = b"{}"
            headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.ListKeys"}
        else:
            body = urlencode(params).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        request = AWSRequest(method="POST", url=f"http://{HOST}/", data=body, headers=headers)
        SigV4Auth(Credentials(*credentials), service, "us-east-1").add_auth(request)
        raw_headers = [(b"host", HOST.encode())] + [
            (name.lower().encode(), value.encode()) for name, value in request.headers.items()
        ]
        return asyncio.run(_asgi(self.app, raw_headers, body))

    def iam(self, action: str, **params: str) -> str:
        status, text = self.call("iam", self.root, {"Action": action, "Version": IAM_VERSION, **params})
        assert status == 200, text
        return text


async def _asgi(app: KmsdApp, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, str]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(message.get("body", b"") for message in sent[1:]).decode()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    clock = ManualClock(datetime.now(UTC))
    parts = open_parts(f"sqlite:///{tmp_path / 'kmsd.db'}", clock=clock)
    root = parts.accounts.initialise_default()
    assert root is not None
    runtime = build_runtime(parts)
    yield Harness(KmsdApp(runtime), runtime, clock, (root.access_key_id, root.secret_access_key))
    parts.store.close()


def _text(xml: str, element: str) -> str:
    match = re.search(rf"<{element}>([^<]*)</{element}>", xml)
    assert match, xml
    return match.group(1)


def _other_references(states: object) -> int:
    """How many references to ``states`` exist besides the caller's one variable.

    Counted, not searched for: the keyed hash states hold no references, so CPython stops tracking the
    tuple and the dict that hold them, and ``gc.get_referrers`` could not see those holders.
    """
    gc.collect()
    # getrefcount counts its own argument, this function's parameter and the caller's variable.
    return sys.getrefcount(states) - 3


def _user_key(harness: Harness, user: str) -> tuple[str, str]:
    harness.iam("CreateUser", UserName=user)
    created = harness.iam("CreateAccessKey", UserName=user)
    return _text(created, "AccessKeyId"), _text(created, "SecretAccessKey")


def _signing_states(harness: Harness, access_key_id: str, service: str) -> object:
    """The one derived signing key the resolver holds for ``access_key_id`` (as its keyed HMAC states)."""
    resolved = harness.runtime.credentials.cached(access_key_id)
    assert resolved is not None
    assert len(resolved.signing_keys) == 1
    ((scope, states),) = resolved.signing_keys.items()
    assert scope[1:] == ("us-east-1", service)
    return states


def _whoami(harness: Harness, credentials: tuple[str, ...]) -> tuple[int, str]:
    return harness.call("sts", credentials, {"Action": "GetCallerIdentity", "Version": STS_VERSION})


def test_no_module_level_cache_keyed_by_secrets() -> None:
    assert not hasattr(sigv4_verifier.signing_key, "cache_info")
    assert not hasattr(sigv4_verifier._keyed_hashes, "cache_info")


@pytest.mark.parametrize("removal", ["DeleteAccessKey", "UpdateAccessKey"])
def test_removed_key_leaves_no_signing_key_behind(harness: Harness, removal: str) -> None:
    credentials = _user_key(harness, "alice")
    assert _whoami(harness, credentials)[0] == 200
    states = _signing_states(harness, credentials[0], "sts")
    assert _other_references(states) == 1, "the resolver holds the derived key while the key is in use"

    extra = {"Status": "Inactive"} if removal == "UpdateAccessKey" else {}
    harness.iam(removal, UserName="alice", AccessKeyId=credentials[0], **extra)

    assert harness.runtime.credentials.cached(credentials[0]) is None
    assert _other_references(states) == 0
    status, text = _whoami(harness, credentials)
    assert (status, "InvalidClientTokenId" in text) == (403, True)
    assert harness.runtime.credentials.cached(credentials[0]) is None


def test_expired_session_leaves_no_signing_key_behind(harness: Harness) -> None:
    status, text = harness.call(
        "sts", harness.root, {"Action": "GetSessionToken", "Version": STS_VERSION, "DurationSeconds": "900"}
    )
    assert status == 200, text
    session = (_text(text, "AccessKeyId"), _text(text, "SecretAccessKey"), _text(text, "SessionToken"))
    assert harness.call("kms", session, {})[0] == 200
    states = _signing_states(harness, session[0], "kms")

    harness.clock.advance(timedelta(minutes=16))
    status, text = harness.call("kms", session, {})
    assert (status, "ExpiredTokenException" in text) == (400, True)
    assert harness.runtime.credentials.cached(session[0]) is None
    assert _other_references(states) == 0
