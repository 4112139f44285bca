"""Request validation and response shaping driven by botocore's service models.

AWS checks every request against the service's Smithy model before any
business rule runs: JSON types (``SerializationException``), then required
members, lengths, numeric ranges, enums and patterns, all collected into one
``ValidationException`` in the "N validation errors detected: ..." form.  We
read the same model botocore ships (``models/*.json``, documentation stripped;
see ``models/README.md``) so the rules, limits and enum sets are AWS's own and
stay in step when the model is refreshed; its patterns are Java regular
expressions and are compiled with Java's meaning (:mod:`kmsd.api.java_regex`).
The query protocol (IAM, STS) rebuilds nested parameters from its flattened
form and then validates them here too (:mod:`kmsd.api.query_protocol`), its
error named ``ValidationError`` on the wire.  Handlers therefore receive
parameters that already have the right Python types: ``bytes`` for blobs,
``datetime`` for timestamps.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from kmsd.api.java_regex import compile_java_pattern
from kmsd.errors import HIDDEN, AwsError, ValidationError, constraint_violation

_JSON_TYPE_NAMES = {
    str: "STRING_VALUE",
    bool: "BOOLEAN_VALUE",
    int: "NUMBER_VALUE",
    float: "NUMBER_VALUE",
    list: "START_ARRAY",
    dict: "START_OBJECT",
}

_TARGET_TYPE_NAMES = {
    "string": "a String",
    "integer": "an Integer",
    "long": "a Long",
    "boolean": "a Boolean",
    "blob": "a ByteBuffer",
    "timestamp": "a Date",
}


def _serialization_error(value: Any, shape_type: str) -> AwsError:
    # Coral's wording for a JSON value of the wrong type.
    if isinstance(value, list):
        return AwsError("SerializationException", "Start of list found where not expected")
    if isinstance(value, dict):
        return AwsError("SerializationException", "Start of structure or map found where not expected.")
    found = _JSON_TYPE_NAMES.get(type(value), "VALUE")
    target = _TARGET_TYPE_NAMES.get(shape_type, "a " + shape_type)
    return AwsError("SerializationException", f"{found} can not be converted to {target}")


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:]


class ServiceModel:
    """One AWS service's operations and shapes, as botocore describes them."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.metadata: Mapping[str, Any] = document["metadata"]
        self.operations: Mapping[str, Any] = document["operations"]
        self.shapes: Mapping[str, Any] = document["shapes"]
        self._patterns: dict[str, re.Pattern[str]] = {}

    @classmethod
    def load(cls, service: str) -> ServiceModel:
        return _load_model(service)

    def input_shape(self, operation: str) -> str | None:
        op = self.operations[operation]
        shape = op.get("input", {}).get("shape")
        return str(shape) if shape else None

    def output_shape(self, operation: str) -> str | None:
        op = self.operations[operation]
        shape = op.get("output", {}).get("shape")
        return str(shape) if shape else None

    # --- requests -------------------------------------------------------
    def parse_request(self, operation: str, body: Any) -> dict[str, Any]:
        """Type-convert and validate ``body`` (decoded JSON) for ``operation``.

        Raises ``SerializationException`` for wrong JSON types and one
        ``ValidationException`` listing every constraint violation.
        """
        shape_name = self.input_shape(operation)
        if shape_name is None:
            return {}
        if body is None:
            body = {}
        problems: list[str] = []
        params = self._convert_structure(shape_name, body, "", problems)
        if problems:
            raise ValidationError(problems)
        return params

    def _convert(self, shape_name: str, value: Any, path: str, problems: list[str]) -> Any:
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            return self._convert_structure(shape_name, value, path, problems)
        if kind == "list":
            if not isinstance(value, list):
                raise _serialization_error(value, "list")
            items = [
                self._convert(shape["member"]["shape"], item, f"{path}.{i}.member", problems)
                for i, item in enumerate(value, start=1)
            ]
            self._check_length(shape, items, len(items), path, problems)
            return items
        if kind == "map":
            if not isinstance(value, dict):
                raise _serialization_error(value, "map")
            converted: dict[Any, Any] = {}
            for key, item in value.items():
                converted[self._convert(shape["key"]["shape"], key, path, problems)] = self._convert(
                    shape["value"]["shape"], item, path, problems
                )
            self._check_length(shape, converted, len(converted), path, problems)
            return converted
        if kind == "string":
            if not isinstance(value, str):
                raise _serialization_error(value, kind)
            self._check_length(shape, value, len(value), path, problems)
            if "enum" in shape and value not in shape["enum"]:
                problems.append(
                    constraint_violation(
                        self._shown(shape, value),
                        path,
                        "Member must satisfy enum value set: [" + ", ".join(shape["enum"]) + "]",
                    )
                )
            elif "pattern" in shape and not self._pattern(shape["pattern"]).fullmatch(value):
                problems.append(
                    constraint_violation(
                        self._shown(shape, value),
                        path,
                        "Member must satisfy regular expression pattern: " + shape["pattern"],
                    )
                )
            return value
        if kind in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _serialization_error(value, kind)
            number = int(value)
            if "min" in shape and number < shape["min"]:
                problems.append(
                    constraint_violation(
                        number, path, f"Member must have value greater than or equal to {shape['min']}"
                    )
                )
            if "max" in shape and number > shape["max"]:
                problems.append(
                    constraint_violation(number, path, f"Member must have value less than or equal to {shape['max']}")
                )
            return number
        if kind == "boolean":
            if not isinstance(value, bool):
                raise _serialization_error(value, kind)
            return value
        if kind == "blob":
            if not isinstance(value, str):
                raise _serialization_error(value, kind)
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise AwsError("SerializationException", "Could not decode a Base64 encoded blob") from None
            self._check_length(shape, data, len(data), path, problems)
            return data
        if kind == "timestamp":
            if isinstance(value, datetime):
                # The query protocol sends ISO 8601 text, which its decoder has already parsed.
                return value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _serialization_error(value, kind)
            return datetime.fromtimestamp(value, UTC)
        raise AwsError("SerializationException", f"unsupported shape type {kind}")

    def _convert_structure(self, shape_name: str, value: Any, path: str, problems: list[str]) -> dict[str, Any]:
        shape = self.shapes[shape_name]
        if not isinstance(value, dict):
            raise _serialization_error(value, "structure")
        members: Mapping[str, Any] = shape.get("members", {})
        result: dict[str, Any] = {}
        prefix = f"{path}." if path else ""
        for name, member in members.items():
            member_path = prefix + _lower_camel(name)
            if name not in value or value[name] is None:
                if name in shape.get("required", ()):
                    problems.append(constraint_violation(None, member_path, "Member must not be null"))
                continue
            result[name] = self._convert(member["shape"], value[name], member_path, problems)
        # Unknown members are ignored, as AWS's JSON protocol does.
        return result

    def _check_length(self, shape: Mapping[str, Any], value: Any, length: int, path: str, problems: list[str]) -> None:
        if "min" in shape and length < shape["min"]:
            problems.append(
                constraint_violation(
                    self._shown(shape, value),
                    path,
                    f"Member must have length greater than or equal to {shape['min']}",
                )
            )
        if "max" in shape and length > shape["max"]:
            problems.append(
                constraint_violation(
                    self._shown(shape, value),
                    path,
                    f"Member must have length less than or equal to {shape['max']}",
                )
            )

    @staticmethod
    def _shown(shape: Mapping[str, Any], value: Any) -> Any:
        """How AWS prints a value in a validation message; sensitive values are never shown."""
        if shape.get("sensitive"):
            return HIDDEN
        if isinstance(value, bytes):
            # AWS shows the Java ByteBuffer, never the bytes.
            return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
        if isinstance(value, list):
            return "[" + ", ".join(str(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
        return value

    def _pattern(self, pattern: str) -> re.Pattern[str]:
        compiled = self._patterns.get(pattern)
        if compiled is None:
            # AWS's servers match model patterns against the whole value (Java's matches()), with Java's
            # regex dialect: ASCII \w and \d, Unicode categories such as \p{L} in tag patterns.
            compiled = compile_java_pattern(pattern)
            self._patterns[pattern] = compiled
        return compiled

    # --- responses ------------------------------------------------------
    def serialize_response(self, operation: str, result: Mapping[str, Any]) -> dict[str, Any]:
        """Drop unset members and turn bytes and datetimes into their JSON wire forms."""
        return {k: _to_wire(v) for k, v in result.items() if v is not None}


def _to_wire(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime):
        # AWS JSON timestamps are epoch seconds with millisecond precision.
        return round(value.timestamp(), 3)
    if isinstance(value, dict):
        return {k: _to_wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_to_wire(v) for v in value]
    return value


@cache
def _load_model(service: str) -> ServiceModel:
    text = resources.files("kmsd.api").joinpath("models", f"{service}.json").read_text("utf-8")
    return ServiceModel(json.loads(text))
