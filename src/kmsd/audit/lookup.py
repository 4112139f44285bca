"""CloudTrail's LookupEvents over the stored trail: the caller's own account's events, newest first, in pages.

The request is AWS's (``LookupAttributes`` with at most one attribute, ``StartTime``/``EndTime``,
``EventCategory``, ``MaxResults`` 1 to 50, default 50, and ``NextToken``), so is the answer (``Events`` with
``CloudTrailEvent`` the record as a JSON string, ``ReadOnly`` as the string ``"true"``/``"false"``), and so
are the errors: CloudTrail names its own exceptions for a bad attribute, time range, page size or token
instead of a ValidationException.  Without ``StartTime`` the lookup covers CloudTrail's event history, the
last 90 days.  An account sees only its own trail, whoever asks; a cross-account call is in both accounts'
trails, each with its own copy.

Access is ``cloudtrail:LookupEvents`` on ``*``, decided by the caller's identity policies, as every
non-resource action is; the denial reads as CloudTrail's, with no resource named.

NextToken is the position of the last event of the page (its time and sequence) and a digest of the request's
filters, base64: a token used with other filters is InvalidNextTokenException, as AWS documents.  It needs no
secret: it can only move the reader within its own account's events.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from kmsd.clock import Clock
from kmsd.errors import AwsError
from kmsd.iam.authorization import authorize_call
from kmsd.iam.principal import Caller
from kmsd.store.audit_records import AuditEventQuery, AuditEventRow
from kmsd.store.base import Store
from kmsd.store.sql.codec import decode_time, encode_time

ACTION = "cloudtrail:LookupEvents"
HISTORY = timedelta(days=90)  # CloudTrail's event history
MAX_RESULTS = 50
MAX_ATTRIBUTE_VALUE = 2000
# LookupAttributeKey → the query's field.
_ATTRIBUTES = {
    "EventId": "event_id",
    "EventName": "event_name",
    "ReadOnly": "read_only",
    "Username": "username",
    "ResourceType": "resource_type",
    "ResourceName": "resource_name",
    "EventSource": "event_source",
    "AccessKeyId": "access_key_id",
}


class CloudTrailService:
    """The CloudTrail operations kmsd serves (LookupEvents), over one store."""

    operations = frozenset({"LookupEvents"})

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # What authorize_call needs of a service context.
    @property
    def store(self) -> Store:
        return self._store

    @property
    def clock(self) -> Clock:
        return self._clock

    def writes(self, operation: str) -> bool:
        return False

    def call(self, operation: str, params: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
        if operation != "LookupEvents":
            raise AwsError("UnsupportedOperationException", f"kmsd does not support {operation} yet.")
        self._authorize(caller)
        return self._lookup_events(params, caller.principal.account_id)

    def _authorize(self, caller: Caller) -> None:
        try:
            authorize_call(self, caller, ACTION, "*")
        except AwsError as error:
            if error.code != "AccessDenied":
                raise
            # CloudTrail names no resource for a non-resource action: "User: ... is not authorized to perform:
            # cloudtrail:LookupEvents because no identity-based policy allows the cloudtrail:LookupEvents action".
            raise AwsError("AccessDeniedException", error.message.replace(" on resource: *", "", 1)) from None

    def _lookup_events(self, params: Mapping[str, Any], account_id: str) -> dict[str, Any]:
        filters = _filters(params.get("LookupAttributes") or [])
        start: datetime | None = params.get("StartTime")
        end: datetime | None = params.get("EndTime")
        if start is not None and end is not None and start > end:
            raise AwsError(
                "InvalidTimeRangeException",
                "Invalid time range: the start time occurs after the end time.",
            )
        limit = params.get("MaxResults")
        if limit is None:
            limit = MAX_RESULTS
        if not 1 <= limit <= MAX_RESULTS:
            raise AwsError(
                "InvalidMaxResultsException", f"MaxResults must be between 1 and {MAX_RESULTS}, not {limit}."
            )
        digest = _digest(params)
        before = _read_token(params["NextToken"], digest) if params.get("NextToken") is not None else None
        if params.get("EventCategory") == "insight":
            # kmsd records management events only: there are no Insights events to return.
            return {"Events": []}
        query = AuditEventQuery(
            account_id=account_id,
            start=start if start is not None else self._clock.now() - HISTORY,
            end=end,
            before=before,
            **filters,
        )
        rows = self._store.find_audit_events(query, limit + 1)
        page = rows[:limit]
        answer: dict[str, Any] = {"Events": [_event(row) for row in page]}
        if len(rows) > limit:
            answer["NextToken"] = _token(page[-1], digest)
        return answer


def _filters(attributes: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The one lookup attribute as query fields; CloudTrail's InvalidLookupAttributesException otherwise."""
    if len(attributes) > 1:
        raise AwsError("InvalidLookupAttributesException", "Lookup attributes may contain at most one attribute.")
    if not attributes:
        return {}
    key, value = attributes[0]["AttributeKey"], attributes[0]["AttributeValue"]
    if not 1 <= len(value) <= MAX_ATTRIBUTE_VALUE:
        raise AwsError(
            "InvalidLookupAttributesException",
            f"The value of lookup attribute {key} must be 1 to {MAX_ATTRIBUTE_VALUE} characters long.",
        )
    if key == "ReadOnly":
        if value.lower() not in ("true", "false"):
            raise AwsError(
                "InvalidLookupAttributesException", "The value of lookup attribute ReadOnly must be true or false."
            )
        return {"read_only": value.lower() == "true"}
    return {_ATTRIBUTES[key]: value}


def _event(row: AuditEventRow) -> dict[str, Any]:
    event: dict[str, Any] = {
        "EventId": row.event_id,
        "EventName": row.event_name,
        "ReadOnly": "true" if row.read_only else "false",
        "AccessKeyId": row.access_key_id,
        "EventTime": row.event_time,
        "EventSource": row.event_source,
        "Username": row.username,
        "Resources": [{"ResourceType": kind, "ResourceName": name} for kind, name in row.resources],
        "CloudTrailEvent": row.record,
    }
    return {name: value for name, value in event.items() if value is not None}


def _digest(params: Mapping[str, Any]) -> str:
    """What a token is bound to: the request's filters (not its page size or token)."""
    filters = {
        "attributes": [dict(attribute) for attribute in params.get("LookupAttributes") or []],
        "start": encode_time(params["StartTime"]) if params.get("StartTime") is not None else None,
        "end": encode_time(params["EndTime"]) if params.get("EndTime") is not None else None,
        "category": params.get("EventCategory"),
    }
    encoded = json.dumps(filters, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:32]


def _token(row: AuditEventRow, digest: str) -> str:
    position = {"t": encode_time(row.event_time), "s": row.sequence, "f": digest}
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode("ascii")).decode("ascii")


def _read_token(token: str, digest: str) -> tuple[datetime, int]:
    invalid = AwsError(
        "InvalidNextTokenException",
        "A token that is not valid, or a token that was previously used in a request with different parameters.",
    )
    try:
        position = json.loads(base64.urlsafe_b64decode(token.encode("ascii")))
        when, sequence, bound = decode_time(position["t"]), position["s"], position["f"]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError):
        raise invalid from None
    if not isinstance(sequence, int) or bound != digest:
        raise invalid
    return when, sequence
