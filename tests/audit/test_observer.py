"""The events :class:`~kmsd.audit.observer.AuditObserver` makes of one call, and what it hands its sink.

Built from hand-made call records (tests/integration/test_audit_events.py has the real calls): no event
without a verified caller; one per account that records the call; the copies of a cross-account call; a
denied cross-account call only in the caller's account; and the indexed fields equal to the record's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from kmsd.audit.call_record import CallRecord
from kmsd.audit.event import AuditEvent, EventResource
from kmsd.audit.observer import AuditObserver, audit_events, new_event_id
from kmsd.call_notes import CallNotes, ResourceNote
from kmsd.errors import AwsError
from kmsd.iam.principal import Caller, Principal
from kmsd.server import audit_redactor

CALLER_ACCOUNT = "444455556666"
OWNER_ACCOUNT = "111122223333"
KEY_ARN = f"arn:aws:kms:us-west-2:{OWNER_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def call(*, error: AwsError | None = None, writes: bool = False, signed: bool = True) -> CallRecord:
    principal = Principal(
        arn=f"arn:aws:iam::{CALLER_ACCOUNT}:user/alice",
        account_id=CALLER_ACCOUNT,
        kind="user",
        user_id="AIDAEXAMPLE",
        name="alice",
        access_key_id="AKIAEXAMPLE",
    )
    notes = CallNotes()
    notes.resources.append(ResourceNote(KEY_ARN, OWNER_ACCOUNT, "AWS::KMS::Key"))
    return CallRecord(
        request_id="request-1",
        event_time=datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
        started=0.0,
        source_ip="192.0.2.7",
        user_agent="test",
        service="kms",
        operation="Encrypt",
        caller=Caller(principal, "us-west-2", "request-1") if signed else None,
        params={"KeyId": KEY_ARN, "Plaintext": b"secret"},
        result=None if error is not None else {"KeyId": KEY_ARN, "CiphertextBlob": b"blob"},
        error=error,
        writes=writes,
        notes=notes,
    )


class Kept:
    def __init__(self) -> None:
        self.batches: list[tuple[Sequence[AuditEvent], bool]] = []

    def record(self, events: Sequence[AuditEvent], *, durable: bool) -> None:
        self.batches.append((events, durable))


def test_a_cross_account_call_makes_one_event_per_account() -> None:
    caller_copy, owner_copy = audit_events(call(), audit_redactor("kms"))
    assert (caller_copy.account_id, owner_copy.account_id) == (CALLER_ACCOUNT, OWNER_ACCOUNT)
    assert caller_copy.event_id != owner_copy.event_id
    assert caller_copy.record["sharedEventID"] == owner_copy.record["sharedEventID"]
    for event in (caller_copy, owner_copy):
        record = event.record
        assert record["recipientAccountId"] == event.account_id
        assert record["eventID"] == event.event_id
        assert (event.event_source, event.event_name, event.read_only) == ("kms.amazonaws.com", "Encrypt", True)
        assert (event.username, event.access_key_id, event.principal_arn, event.error_code) == (
            "alice",
            "AKIAEXAMPLE",
            f"arn:aws:iam::{CALLER_ACCOUNT}:user/alice",
            None,
        )
        assert event.resources == (EventResource("AWS::KMS::Key", KEY_ARN),)
        assert event.event_time == datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)
        assert record["eventTime"] == "2026-01-02T03:04:05Z"
        assert record["requestParameters"] == {"keyId": KEY_ARN, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        assert record["responseElements"] is None


def test_a_denied_cross_account_call_is_only_the_callers() -> None:
    denied = AwsError("AccessDeniedException", "User: ... is not authorized to perform: kms:Encrypt", 400)
    (event,) = audit_events(call(error=denied), audit_redactor("kms"))
    assert (event.account_id, event.error_code) == (CALLER_ACCOUNT, "AccessDeniedException")
    assert event.record["errorMessage"] == denied.message
    assert "sharedEventID" not in event.record
    # Any other failure on the other account's key is the owner's business too.
    assert len(audit_events(call(error=AwsError("DisabledException", "disabled", 400)), audit_redactor("kms"))) == 2


def test_the_sink_gets_each_call_once_durable_when_it_writes() -> None:
    sink = Kept()
    observer = AuditObserver(sink, {"kms": audit_redactor("kms")})
    observer.call_finished(call())
    observer.call_finished(call(writes=True))
    observer.call_finished(call(signed=False))  # SigV4 did not verify: no one to record
    assert [(len(events), durable) for events, durable in sink.batches] == [(2, False), (2, True)]
    assert sink.batches[1][0][0].read_only is False


def test_a_service_without_an_allow_list_records_no_parameters() -> None:
    (event, _) = audit_events(call(), None)
    assert (event.record["requestParameters"], event.record["responseElements"]) == (None, None)


def test_event_ids_are_time_ordered_uuids() -> None:
    ids = [new_event_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    for event_id in ids:
        parsed = uuid.UUID(event_id)
        assert str(parsed) == event_id and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    # Their first 48 bits are the time in milliseconds: ids made later never sort before earlier ones' times.
    times = [int(event_id.replace("-", "")[:12], 16) for event_id in ids]
    assert times == sorted(times) and abs(times[-1] - time.time() * 1000) < 60_000
