"""The audit trail's observer of calls: the events of each call, handed to the sinks that keep them.

CloudTrail records calls made with valid credentials; a request whose
signature does not verify has no caller, and no trail records it (the
observer skips it: :attr:`CallRecord.caller` is None).

A call is recorded in its caller's account and, when it acted on a resource
of another account, in that account as well: "Cross-account operations on KMS
keys are logged in both the caller account and the KMS key owner account.
However, cross-account AWS KMS requests that are rejected because access is
denied are logged only in the caller's account" (KMS Developer Guide, "Logging
AWS KMS API calls with AWS CloudTrail").  The copies are separate events, each
with its own ``eventID`` and ``recipientAccountId``, and the same
``sharedEventID``, which CloudTrail adds only to events delivered to several
accounts ("CloudTrail record contents", ``sharedEventID``).

A call that changes something (``record.writes``) is handed over with
``durable=True`` on the thread that ran it, before its answer is sent, so the
sinks keep it before the caller hears of the change.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kmsd.audit.call_record import CallRecord
from kmsd.audit.event import AuditEvent, AuditSink, EventResource
from kmsd.audit.records import cloudtrail_record
from kmsd.audit.redaction import Redactor
from kmsd.audit.user_identity import username
from kmsd.call_notes import ResourceNote
from kmsd.uuids import time_ordered_uuid

# A call denied on another account's resource is recorded only in the caller's account (KMS's and STS's codes).
_ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied"})
ROLE_RESOURCE_TYPE = "AWS::IAM::Role"


class AuditObserver:
    """Builds the audit events of each authenticated call and gives them to ``sink``.

    ``redactors``: the allow-list of each service's parameters and answers, by the service's name in the
    SigV4 scope (``kms``, ``iam``, ``sts``); a service without one has its calls recorded without them.
    """

    def __init__(self, sink: AuditSink, redactors: Mapping[str, Redactor]) -> None:
        self.sink = sink
        self.redactors = redactors

    def call_finished(self, record: CallRecord) -> None:
        events = audit_events(record, self.redactors.get(record.service))
        if events:
            self.sink.record(events, durable=record.writes)


def audit_events(record: CallRecord, redactor: Redactor | None) -> tuple[AuditEvent, ...]:
    """The events of one call: none without a verified caller, one per account that records it."""
    caller = record.caller
    if caller is None:
        return ()
    resources = _resources(record)
    caller_account = caller.principal.account_id
    body = cloudtrail_record(record, redactor, new_event_id(), resources)
    error = record.error
    others: list[str] = []
    if error is None or error.code not in _ACCESS_DENIED:
        for note in resources:
            if note.account_id != caller_account and note.account_id not in others:
                others.append(note.account_id)
    principal = caller.principal
    event_resources = tuple(EventResource(note.type, note.arn) for note in resources)
    name = username(principal)
    error_code = error.code if error is not None else None
    access_key_id = body["userIdentity"]["accessKeyId"] or None
    if not others:
        return (_event(body, record, name, access_key_id, principal.arn, error_code, event_resources),)
    body["sharedEventID"] = new_event_id()
    # A shallow copy each: the copies share every nested value, which no one changes once built.
    copies = [body, *({**body, "eventID": new_event_id(), "recipientAccountId": other} for other in others)]
    return tuple(
        _event(copy, record, name, access_key_id, principal.arn, error_code, event_resources) for copy in copies
    )


# _event stores exactly these fields: a field added to AuditEvent must be added there too.
_EVENT_FIELDS = (
    "account_id",
    "event_id",
    "event_time",
    "event_source",
    "event_name",
    "read_only",
    "username",
    "access_key_id",
    "principal_arn",
    "error_code",
    "resources",
    "record",
)
if tuple(field.name for field in dataclasses.fields(AuditEvent)) != _EVENT_FIELDS:
    raise ImportError("kmsd.audit.observer._event does not set every field of AuditEvent")


def _event(
    body: dict[str, Any],
    record: CallRecord,
    name: str | None,
    access_key_id: str | None,
    principal_arn: str,
    error_code: str | None,
    resources: tuple[EventResource, ...],
) -> AuditEvent:
    """``AuditEvent(...)`` of one record, its fields stored straight into the instance dictionary.

    A frozen dataclass's ``__init__`` sets each of its twelve fields through ``object.__setattr__``, a quarter of
    what building the whole record costs; one event is built per call (as kmsd.api.app builds its Caller).
    """
    event = object.__new__(AuditEvent)
    fields = event.__dict__
    fields["account_id"] = body["recipientAccountId"]
    fields["event_id"] = body["eventID"]
    fields["event_time"] = record.event_time
    fields["event_source"] = body["eventSource"]
    fields["event_name"] = body["eventName"]
    fields["read_only"] = body["readOnly"]
    fields["username"] = name
    fields["access_key_id"] = access_key_id
    fields["principal_arn"] = principal_arn
    fields["error_code"] = error_code
    fields["resources"] = resources
    fields["record"] = body
    return event


def new_event_id() -> str:
    """An eventID: a UUID, time-ordered so that the store's index of event ids grows at its end
    (:func:`kmsd.uuids.time_ordered_uuid`)."""
    return time_ordered_uuid()


def _resources(record: CallRecord) -> list[ResourceNote]:
    """What the call acted on: the services' notes (KMS keys), and the role AssumeRole names."""
    resources = record.notes.resources
    if record.service == "sts" and record.operation == "AssumeRole" and record.params is not None:
        role_arn = record.params.get("RoleArn")
        if isinstance(role_arn, str):
            parts = role_arn.split(":", 5)
            if len(parts) == 6 and parts[0] == "arn" and parts[2] == "iam" and parts[4]:
                resources = [*resources, ResourceNote(role_arn, parts[4], ROLE_RESOURCE_TYPE)]
    return resources
