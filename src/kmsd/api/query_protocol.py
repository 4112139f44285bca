"""AWS's query protocol (the one IAM and STS speak): form parameters in, XML out.

A request is ``POST /`` with an ``application/x-www-form-urlencoded`` body
``Action=CreateUser&Version=2010-05-08&UserName=bob`` or the same parameters
in a GET query string (AWS accepts both).  A parameter in both keeps the
query string's value: on a presigned URL the query is what the signature
covers, and a body must never change what it names (issue 9, item 1).
Nested members arrive flattened, as botocore's ``QuerySerializer`` writes
them: ``Tags.member.1.Key``, ``Map.entry.1.key`` / ``.value``, an empty list
as ``Tags=``; scalars are text (``true``/``false``, decimal integers, ISO 8601
timestamps, base64 blobs).  :class:`QueryCodec` rebuilds the nested
parameters from the operation's input shape, validates them with the same
rules as the JSON protocol (:meth:`ServiceModel.parse_request`), and writes
results and errors with :class:`kmsd.api.xml_writer.XmlWriter`.

Errors of the protocol itself: an ``Action`` the service does not have, or a
``Version`` other than the model's ``apiVersion`` → ``InvalidAction`` "Could not
find operation X for version V" (quoted from SES and SNS responses, which share
IAM's and STS's front end); no ``Action`` → ``MissingAction``, a common error
of the query APIs whose message AWS does not document.  AWS documents no code
for a scalar that does not parse as its type; kmsd answers ``MalformedInput``
(400) and names the parameter.  Model validation failures are
``ValidationError`` here (IAM's and STS's name for ``ValidationException``),
with the same message.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from kmsd.api.shapes import ServiceModel
from kmsd.api.xml_writer import XmlWriter
from kmsd.errors import AwsError, ValidationError

CONTENT_TYPE = b"text/xml"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

_INTEGER = re.compile(r"[+-]?[0-9]+")
# More digits than any 64-bit integer has; longer text is refused before int() sees it, which would raise
# ValueError past sys.get_int_max_str_digits() (a 500 with a traceback) and costs quadratic time before.
_MAX_INTEGER_TEXT = 21
_RANGES = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_INDEX = re.compile(r"[1-9][0-9]{0,8}")


def read_fields(query_string: str, body: bytes) -> dict[str, str]:
    """The request's parameters: the query string's, then those of the form body that the query lacks.

    Keys and values are percent-decoded as UTF-8; bytes that are not UTF-8 are
    AWS's ``MalformedQueryString`` (404), the common error for a query string
    that does not parse.  A repeated key keeps its first value, and a key in
    both keeps the query string's: body parameters never override it.
    """
    fields: dict[str, str] = {}
    try:
        for text in (query_string, body.decode("utf-8")):
            for key, value in parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict"):
                fields.setdefault(key, value)
    except UnicodeDecodeError:
        raise AwsError("MalformedQueryString", "The query string is not valid UTF-8.", 404) from None
    return fields


@dataclass
class _Node:
    """One dotted path segment of the flattened parameters: its own text (if sent) and its children."""

    text: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(fields: Mapping[str, str]) -> _Node:
    root = _Node()
    for key, value in fields.items():
        node = root
        for part in key.split("."):
            node = node.children.setdefault(part, _Node())
        node.text = value
    return root


def _malformed(message: str) -> AwsError:
    return AwsError("MalformedInput", message)


class QueryCodec:
    """Decodes requests and encodes responses of one query-protocol service (IAM or STS)."""

    def __init__(self, model: ServiceModel) -> None:
        self.model = model
        self.api_version = str(model.metadata["apiVersion"])
        self.writer = XmlWriter(model)

    @classmethod
    def load(cls, service: str) -> QueryCodec:
        return cls(ServiceModel.load(service))

    # --- requests -------------------------------------------------------------
    def operation(self, fields: Mapping[str, str]) -> str:
        """The operation ``fields`` name, or AWS's MissingAction / InvalidAction."""
        action = fields.get("Action")
        if not action:
            # "The request is missing an action or a required parameter." (Common Errors, HTTP 400)
            raise AwsError("MissingAction", "Missing Action")
        version = fields.get("Version")
        # Coral looks an operation up by (Action, Version): an unknown name and a wrong or missing
        # version get the same answer, e.g. "Could not find operation GetSendQuota for version 2009-10-16".
        if action not in self.model.operations or version != self.api_version:
            raise AwsError("InvalidAction", f"Could not find operation {action} for version {version}")
        return action

    def decode(self, operation: str, fields: Mapping[str, str]) -> dict[str, Any]:
        """The validated, typed parameters of ``operation`` from the flattened ``fields``."""
        return self.model.parse_request(operation, self.unflatten(operation, fields))

    def unflatten(self, operation: str, fields: Mapping[str, str]) -> dict[str, Any]:
        """The nested parameters ``fields`` spell, typed but not yet validated (blobs still base64)."""
        shape_name = self.model.input_shape(operation)
        if shape_name is None:
            return {}
        return self._structure(shape_name, _tree(fields), "")

    def _value(self, shape_name: str, node: _Node, path: str) -> Any:
        shape = self.model.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            return self._structure(shape_name, node, path)
        if kind == "list":
            member = shape["member"]
            items = self._indexed(node.children.get(member.get("locationName", "member")), path)
            return [self._value(member["shape"], item, f"{path}.{index}") for index, item in items]
        if kind == "map":
            entries = self._indexed(node.children.get("entry"), path)
            key_name = shape["key"].get("locationName", "key")
            value_name = shape["value"].get("locationName", "value")
            result: dict[Any, Any] = {}
            for index, entry in entries:
                key_node, value_node = entry.children.get(key_name), entry.children.get(value_name)
                if key_node is None or value_node is None:
                    raise _malformed(f"Map entry {path}.entry.{index} needs both a {key_name} and a {value_name}.")
                key = self._value(shape["key"]["shape"], key_node, f"{path}.entry.{index}.{key_name}")
                result[key] = self._value(shape["value"]["shape"], value_node, f"{path}.entry.{index}.{value_name}")
            return result
        if node.text is None:
            raise _malformed(f"Parameter {path} must be a single value.")
        return self._scalar(kind, node.text, path)

    def _structure(self, shape_name: str, node: _Node, path: str) -> dict[str, Any]:
        members: Mapping[str, Any] = self.model.shapes[shape_name].get("members", {})
        result: dict[str, Any] = {}
        for name, member in members.items():
            child = node.children.get(member.get("locationName", name))
            if child is not None:
                # Unknown parameters are ignored, as AWS's query services do.
                result[name] = self._value(member["shape"], child, f"{path}.{name}" if path else name)
        return result

    @staticmethod
    def _indexed(node: _Node | None, path: str) -> list[tuple[int, _Node]]:
        """``member.N`` / ``entry.N`` children in index order; ``Tags=`` with no members is an empty list."""
        if node is None:
            return []
        items: list[tuple[int, _Node]] = []
        for index, child in node.children.items():
            if not _INDEX.fullmatch(index):
                raise _malformed(f"{index} is not a valid index for {path}.")
            items.append((int(index), child))
        return sorted(items, key=lambda item: item[0])

    @staticmethod
    def _scalar(kind: str, text: str, path: str) -> Any:
        if kind in _RANGES:
            low, high = _RANGES[kind]
            if len(text) > _MAX_INTEGER_TEXT or not _INTEGER.fullmatch(text) or not low <= int(text) <= high:
                raise _malformed(f"Value '{text}' for parameter {path} is not a valid {kind}.")
            return int(text)
        if kind == "boolean":
            if text.lower() not in ("true", "false"):
                raise _malformed(f"Value '{text}' for parameter {path} is not a valid boolean.")
            return text.lower() == "true"
        if kind == "timestamp":
            return _timestamp(text, path)
        if kind == "blob":
            # Validated (and decoded) by ServiceModel, which raises SerializationException as for JSON.
            try:
                base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise _malformed(f"Value for parameter {path} is not valid base64.") from None
            return text
        return text

    # --- responses ------------------------------------------------------------
    def encode_result(self, operation: str, result: Mapping[str, Any], request_id: str) -> bytes:
        return self.writer.result(operation, result, request_id)

    def encode_error(self, error: AwsError, request_id: str) -> bytes:
        # IAM and STS name a model-validation failure ValidationError, not ValidationException.
        code = "ValidationError" if isinstance(error, ValidationError) else error.code
        return self.writer.error(code, error.message, error.status, request_id)


def _timestamp(text: str, path: str) -> datetime:
    """ISO 8601 (botocore's query serializer) or epoch seconds."""
    if len(text) > 64:
        # No timestamp is this long; float() of thousands of digits is only wasted work.
        raise _malformed(f"Value for parameter {path} is not a valid timestamp.")
    try:
        if _INTEGER.fullmatch(text) or re.fullmatch(r"[0-9]+\.[0-9]+", text):
            return datetime.fromtimestamp(float(text), UTC)
        value = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise _malformed(f"Value '{text}' for parameter {path} is not a valid timestamp.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
