"""Audit events written straight into a server's store, sealed with its root key, for the tests of the trail's
reading side (LookupEvents, ``kmsd audit query|verify``) independent of which calls make events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from kmsd.audit.chain import ChainSeal, append
from kmsd.audit.event import AuditEvent, EventResource
from kmsd.crypto import FileRootKey
from kmsd.store.urls import open_store
from tests.integration.server import KmsdServer


def make_event(
    account_id: str,
    event_name: str = "Encrypt",
    *,
    when: datetime | None = None,
    key_arn: str | None = None,
    username: str = "alice",
    error_code: str | None = None,
    read_only: bool = True,
    event_id: str | None = None,
) -> AuditEvent:
    event_id = event_id or str(uuid.uuid4())
    when = when or datetime.now(UTC) - timedelta(minutes=1)
    arn = f"arn:aws:iam::{account_id}:user/{username}"
    record: dict[str, Any] = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": arn, "accountId": account_id, "accessKeyId": "AKIAEXAMPLE"},
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "kms.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "eventID": event_id,
        "readOnly": read_only,
        "recipientAccountId": account_id,
    }
    if error_code is not None:
        record["errorCode"] = error_code
    resources = (EventResource("AWS::KMS::Key", key_arn),) if key_arn else ()
    return AuditEvent(
        account_id=account_id,
        event_id=event_id,
        event_time=when,
        event_source="kms.amazonaws.com",
        event_name=event_name,
        read_only=read_only,
        username=username,
        access_key_id="AKIAEXAMPLE",
        principal_arn=arn,
        error_code=error_code,
        resources=resources,
        record=record,
    )


def seed(server: KmsdServer, events: list[AuditEvent]) -> None:
    """Append ``events`` to the server's trail, as its own writer would (same store, same root key)."""
    seal = ChainSeal(FileRootKey.load(server.root_key_path).audit_chain_key())
    store = open_store(server.store_url)
    try:
        append(store, seal, events)
    finally:
        store.close()


def tamper(server: KmsdServer, sql: str, *parameters: object) -> None:
    """Change the server's audit tables behind its back, as someone with database access but no root key could."""
    store = open_store(server.store_url)
    try:
        with store.transaction():
            store._write(sql, parameters, "tampering")  # type: ignore[attr-defined]
    finally:
        store.close()
