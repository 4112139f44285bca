"""What of a call's parameters and answer an audit record may hold: an allow-list per operation, from the service model.

CloudTrail records a call's ``requestParameters`` and ``responseElements``
without the secrets in them: an Encrypt event shows ``keyId``,
``encryptionContext`` and ``encryptionAlgorithm``, never the plaintext, and a
cryptographic operation's response is not recorded at all ("For security
reasons, some fields are omitted from AWS KMS log entries, such as the
Plaintext parameter of an Encrypt request, and the response to GetKeyPolicy or
any cryptographic operation", KMS Developer Guide, "Logging AWS KMS API calls
with AWS CloudTrail").

A deny-list of secret names would leak the first secret nobody listed, so the
rule is the other way round: each operation's input and output shapes are
compiled once, from the service model, into the members a record may hold, and
anything else in a value (a member the model does not know, a value of a type
the shape does not allow) is dropped.  A member is never kept when its shape
is marked ``"sensitive": true`` in the model (plaintexts, passwords, secret
access keys, private keys), when it is a blob (every ciphertext, data key,
signature, MAC, public key, import token, wrapped key material and attestation
document of KMS is one), or when it is one of the few secret strings the
models do not mark (``HIDDEN_MEMBERS``: STS's session token, KMS's grant token,
MFA codes).  Names are turned into CloudTrail's lower camel case
(``KeyId`` -> ``keyId``, ``AWSAccountId`` -> ``aWSAccountId``), and timestamps
into ISO 8601 text.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# Secret strings the service models do not mark sensitive, by service, never recorded wherever they appear.
HIDDEN_MEMBERS: Mapping[str, frozenset[str]] = {
    # CreateGrant's GrantToken lets its bearer use the grant at once (it is a credential, like a session token).
    "kms": frozenset({"GrantToken"}),
    # The credentials STS returns: the session token (the secret access key is marked sensitive); and the MFA
    # code that proves a device (GetSessionToken, AssumeRole).
    "sts": frozenset({"SessionToken", "TokenCode"}),
    # EnableMFADevice and ResyncMFADevice: two consecutive codes of the device.
    "iam": frozenset({"AuthenticationCode1", "AuthenticationCode2"}),
}

# Shape types kept as they are (after the value's own type is checked); "timestamp" becomes ISO 8601 text.
_SCALAR_TYPES = frozenset({"string", "integer", "long", "boolean", "double", "float", "timestamp"})


class _Structure:
    """A structure: its members the record may hold, each by CloudTrail's name, with what of its value is kept."""

    __slots__ = ("members",)

    def __init__(self) -> None:
        self.members: dict[str, tuple[str, _Node]] = {}

    def keep(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return _DROPPED
        kept: dict[str, Any] = {}
        members = self.members
        for name, member_value in value.items():
            member = members.get(name)
            if member is None or member_value is None:
                continue
            safe = member[1].keep(member_value)
            if safe is not _DROPPED:
                kept[member[0]] = safe
        return kept


class _List:
    __slots__ = ("item",)

    def __init__(self, item: _Node) -> None:
        self.item = item

    def keep(self, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return _DROPPED
        keep = self.item.keep
        items = [keep(item) for item in value]
        return [item for item in items if item is not _DROPPED]


class _Map:
    __slots__ = ("value",)

    def __init__(self, value: _Node) -> None:
        self.value = value

    def keep(self, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return _DROPPED
        keep = self.value.keep
        kept = {}
        for key, entry in value.items():
            safe = keep(entry)
            if safe is not _DROPPED and isinstance(key, str):
                kept[key] = safe
        return kept


class _Scalar:
    __slots__ = ()

    def keep(self, value: Any) -> Any:
        # Only the JSON scalars; bytes (or anything else a service put where the model says text) are dropped.
        kind = type(value)
        if kind is str or kind is int or kind is bool or kind is float:
            return value
        if isinstance(value, datetime):
            return iso_seconds(value)
        return _DROPPED


_Node = _Structure | _List | _Map | _Scalar
_SCALAR = _Scalar()
_DROPPED: Any = object()  # what keep returns for a value no record may hold


class Redactor:
    """The allow-lists of one service's operations, compiled from its model on first use of each."""

    def __init__(self, service: str, operations: Mapping[str, Any], shapes: Mapping[str, Any]) -> None:
        self.service = service
        self._operations = operations
        self._shapes = shapes
        self._hidden = HIDDEN_MEMBERS.get(service, frozenset())
        self._compiled: dict[str, _Node | None] = {}  # by shape name; None: never recorded
        self._inputs: dict[str, _Node | None] = {}
        self._outputs: dict[str, _Node | None] = {}

    def request_parameters(self, operation: str, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The call's parameters as CloudTrail records them, or None when there are none to show."""
        if params is None:
            return None
        node = self._inputs.get(operation, _UNSET)
        if node is _UNSET:
            node = self._inputs[operation] = self._operation_shape(operation, "input")
        return _as_record(node, params)

    def response_elements(self, operation: str, result: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The call's answer as CloudTrail records it, or None when there is nothing to show."""
        if result is None:
            return None
        node = self._outputs.get(operation, _UNSET)
        if node is _UNSET:
            node = self._outputs[operation] = self._operation_shape(operation, "output")
        return _as_record(node, result)

    def _operation_shape(self, operation: str, direction: str) -> _Node | None:
        definition = self._operations.get(operation)
        if definition is None:
            return None
        shape_name = definition.get(direction, {}).get("shape")
        return self._compile(shape_name) if shape_name else None

    def _compile(self, shape_name: str) -> _Node | None:
        if shape_name in self._compiled:
            return self._compiled[shape_name]
        shape = self._shapes[shape_name]
        kind = shape["type"]
        if shape.get("sensitive") or kind == "blob":
            self._compiled[shape_name] = None
            return None
        if kind == "structure":
            structure = _Structure()
            # Stored before its members are compiled: a shape may contain itself.
            self._compiled[shape_name] = structure
            for name, member in shape.get("members", {}).items():
                if name in self._hidden or member.get("sensitive"):
                    continue
                node = self._compile(member["shape"])
                if node is not None:
                    structure.members[name] = (name[:1].lower() + name[1:], node)
            return structure
        compiled: _Node | None
        if kind == "list":
            item = self._compile(shape["member"]["shape"])
            compiled = None if item is None else _List(item)
        elif kind == "map":
            value = self._compile(shape["value"]["shape"])
            compiled = None if value is None or self._compile(shape["key"]["shape"]) is None else _Map(value)
        elif kind in _SCALAR_TYPES:
            compiled = _SCALAR
        else:
            compiled = None  # a type the allow-list does not know is not recorded
        self._compiled[shape_name] = compiled
        return compiled

    def recorded_members(self, operation: str) -> frozenset[str]:
        """The model member names of ``operation``'s input and output that a record may hold (for the tests)."""
        names: set[str] = set()
        for direction in ("input", "output"):
            _collect_names(self._operation_shape(operation, direction), names, set())
        return frozenset(names)


_UNSET: Any = object()


def _as_record(node: _Node | None, value: Mapping[str, Any]) -> dict[str, Any] | None:
    if node is None:
        return None
    kept = node.keep(value)
    return kept if isinstance(kept, dict) and kept else None


def _collect_names(node: _Node | None, names: set[str], seen: set[int]) -> None:
    if node is None or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, _Structure):
        for name, (_, member) in node.members.items():
            names.add(name)
            _collect_names(member, names, seen)
    elif isinstance(node, _List):
        _collect_names(node.item, names, seen)
    elif isinstance(node, _Map):
        _collect_names(node.value, names, seen)


# The last second formatted, and its text: every call of a second has the same eventTime, formatted once.
_last_second: tuple[int, str] = (-1, "")


def iso_seconds(moment: datetime) -> str:
    """CloudTrail's time format: UTC, to the second, with a ``Z`` (``2025-05-20T20:46:16Z``); a naive
    ``moment`` is taken as UTC."""
    global _last_second
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    second = math.floor(moment.timestamp())
    last = _last_second  # one read: another thread may replace it meanwhile
    if last[0] == second:
        return last[1]
    text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(second))
    _last_second = (second, text)
    return text
