"""What the services note about the one API call they are running, for the audit trail and the metrics.

The API layer opens a :class:`CallNotes` around each call (:func:`collecting`);
the services, deep inside, add to it without a parameter threaded through
every function: the resources the call named once they are resolved (a KMS
key's ARN and its owner account, which decides whether the call is recorded
in a second account's trail, as CloudTrail records cross-account calls),
each authorization decision taken (its outcome and the reason, for the
metrics), and what CloudTrail shows of the call in ``additionalEventData``
(the key material a cryptographic operation used).  Outside a call (the offline commands, unit tests) nothing is
collecting and every note is dropped.  A ``ContextVar`` because the call runs
on whichever thread the API picked, and a thread pool reuses threads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

DecisionOutcome = Literal["allow", "explicit-deny", "implicit-deny"]


@dataclass(frozen=True)
class ResourceNote:
    """One resource a call acted on, as CloudTrail's ``resources`` lists it."""

    arn: str
    account_id: str
    type: str  # CloudTrail's resource type, e.g. "AWS::KMS::Key"


@dataclass(frozen=True)
class DecisionNote:
    """One authorization decision of a call: which service decided, the outcome and its reason."""

    service: str  # "kms", "iam", "sts", "cloudtrail"
    action: str  # e.g. "kms:Encrypt"
    outcome: DecisionOutcome
    reason: str  # a short, fixed vocabulary, e.g. "key-policy", "grant", "identity-policy", "no-allow"


@dataclass
class CallNotes:
    resources: list[ResourceNote] = field(default_factory=list)
    decisions: list[DecisionNote] = field(default_factory=list)
    # CloudTrail's additionalEventData of the call, by its name there (e.g. "keyMaterialId").
    event_data: dict[str, str] = field(default_factory=dict)


_current: ContextVar[CallNotes | None] = ContextVar("kmsd_call_notes", default=None)


@contextmanager
def collecting(notes: CallNotes) -> Iterator[CallNotes]:
    """Collect the notes of the call run inside this block into ``notes``."""
    token = _current.set(notes)
    try:
        yield notes
    finally:
        _current.reset(token)


def note_resource(arn: str, account_id: str, resource_type: str) -> None:
    """Note a resource the current call acts on (once per ARN); nothing outside a call."""
    notes = _current.get()
    if notes is not None and all(known.arn != arn for known in notes.resources):
        notes.resources.append(ResourceNote(arn, account_id, resource_type))


def note_decision(service: str, action: str, outcome: DecisionOutcome, reason: str) -> None:
    """Note an authorization decision of the current call; nothing outside a call."""
    notes = _current.get()
    if notes is not None:
        notes.decisions.append(DecisionNote(service, action, outcome, reason))


def note_event_data(name: str, value: str) -> None:
    """Note a value CloudTrail shows in the call's ``additionalEventData`` (never a secret); nothing outside a call."""
    notes = _current.get()
    if notes is not None:
        notes.event_data[name] = value
