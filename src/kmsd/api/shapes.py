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

import binascii
import json
import re
from collections.abc import Callable, Mapping
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


# kmsd's own rule, not AWS's: a string it stores or looks up may not hold U+0000, which PostgreSQL's text cannot
# hold, so that one service behaves alike on SQLite and PostgreSQL and a SQLite store always copies to PostgreSQL.
# AWS's patterns already exclude it from most members (names, ARNs, policies); this covers the rest (a key's
# Description, a policy's Description, KeyId).  Encryption contexts and grant tokens are never stored as text
# (a grant's constraints are JSON, which escapes U+0000) and keep every character AWS allows; so do tags, JSON too.
ANY_CHARACTER_SHAPES = frozenset(
    {"EncryptionContextKey", "EncryptionContextValue", "GrantTokenType", "TagKeyType", "TagValueType"}
)
NUL_RULE = "Member must not contain the character U+0000"


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


# A shape compiled into one function: the decoded JSON value, its path for messages, and the list of
# constraint violations to append to; it returns the converted value or raises SerializationException.
Converter = Callable[[Any, str, list[str]], Any]


class ServiceModel:
    """One AWS service's operations and shapes, as botocore describes them.

    Each shape is compiled, on first use, into a :data:`Converter` closure that
    holds its limits, enum set and compiled pattern, so a request walks
    precomputed checks instead of reading the model's dictionaries each time.
    """

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.metadata: Mapping[str, Any] = document["metadata"]
        self.operations: Mapping[str, Any] = document["operations"]
        self.shapes: Mapping[str, Any] = document["shapes"]
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._converters: dict[str, Converter] = {}
        self._request_converters: dict[str, Converter | None] = {}  # by operation; None: it takes no input

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
        try:
            converter = self._request_converters[operation]
        except KeyError:
            shape_name = self.input_shape(operation)
            converter = None if shape_name is None else self._converter(shape_name)
            self._request_converters[operation] = converter
        if converter is None:
            return {}
        if body is None:
            body = {}
        problems: list[str] = []
        params: dict[str, Any] = converter(body, "", problems)
        if problems:
            raise ValidationError(problems)
        return params

    def _converter(self, shape_name: str) -> Converter:
        converter = self._converters.get(shape_name)
        if converter is None:
            # Registered before it is built, so a shape that contains itself finds its own converter.
            built: list[Converter] = []
            self._converters[shape_name] = lambda value, path, problems: built[0](value, path, problems)
            converter = self._compile(shape_name)
            built.append(converter)
            self._converters[shape_name] = converter
        return converter

    def _compile(self, shape_name: str) -> Converter:
        shape = self.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            return self._compile_structure(shape)
        if kind == "list":
            return self._compile_list(shape)
        if kind == "map":
            return self._compile_map(shape)
        if kind == "string":
            return self._compile_string(shape, refuse_nul=shape_name not in ANY_CHARACTER_SHAPES)
        if kind in ("integer", "long"):
            return _compile_number(shape, kind)
        if kind == "boolean":
            return _convert_boolean
        if kind == "blob":
            return _compile_blob(shape)
        if kind == "timestamp":
            return _convert_timestamp
        return _unsupported(kind)

    def _compile_structure(self, shape: Mapping[str, Any]) -> Converter:
        required = shape.get("required", ())
        members = [
            (name, _lower_camel(name), self._converter(member["shape"]), name in required)
            for name, member in shape.get("members", {}).items()
        ]

        def convert(value: Any, path: str, problems: list[str]) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise _serialization_error(value, "structure")
            result: dict[str, Any] = {}
            prefix = f"{path}." if path else ""
            for name, camel, member_converter, is_required in members:
                item = value.get(name)
                if item is None:
                    if is_required:
                        problems.append(constraint_violation(None, prefix + camel, "Member must not be null"))
                    continue
                result[name] = member_converter(item, prefix + camel, problems)
            # Unknown members are ignored, as AWS's JSON protocol does.
            return result

        return convert

    def _compile_list(self, shape: Mapping[str, Any]) -> Converter:
        member_converter = self._converter(shape["member"]["shape"])
        check_length = _length_check(shape)

        def convert(value: Any, path: str, problems: list[str]) -> list[Any]:
            if not isinstance(value, list):
                raise _serialization_error(value, "list")
            items = [member_converter(item, f"{path}.{i}.member", problems) for i, item in enumerate(value, start=1)]
            if check_length is not None:
                check_length(items, len(items), path, problems)
            return items

        return convert

    def _compile_map(self, shape: Mapping[str, Any]) -> Converter:
        key_converter = self._converter(shape["key"]["shape"])
        value_converter = self._converter(shape["value"]["shape"])
        check_length = _length_check(shape)

        def convert(value: Any, path: str, problems: list[str]) -> dict[Any, Any]:
            if not isinstance(value, dict):
                raise _serialization_error(value, "map")
            converted: dict[Any, Any] = {}
            for key, item in value.items():
                converted[key_converter(key, path, problems)] = value_converter(item, path, problems)
            if check_length is not None:
                check_length(converted, len(converted), path, problems)
            return converted

        return convert

    def _compile_string(self, shape: Mapping[str, Any], *, refuse_nul: bool) -> Converter:
        check_length = _length_check(shape)
        enum: frozenset[str] | None = None
        enum_rule = ""
        if "enum" in shape:
            enum = frozenset(shape["enum"])
            enum_rule = "Member must satisfy enum value set: [" + ", ".join(shape["enum"]) + "]"
        pattern: re.Pattern[str] | None = None
        pattern_rule = ""
        if "pattern" in shape:
            pattern = self._pattern(shape["pattern"])
            pattern_rule = "Member must satisfy regular expression pattern: " + shape["pattern"]

        def convert(value: Any, path: str, problems: list[str]) -> str:
            if not isinstance(value, str):
                raise _serialization_error(value, "string")
            if check_length is not None:
                check_length(value, len(value), path, problems)
            if enum is not None and value not in enum:
                problems.append(constraint_violation(_shown(shape, value), path, enum_rule))
            elif pattern is not None and not pattern.fullmatch(value):
                problems.append(constraint_violation(_shown(shape, value), path, pattern_rule))
            elif refuse_nul and "\x00" in value:
                problems.append(constraint_violation(HIDDEN, path, NUL_RULE))
            return value

        return convert

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


LengthCheck = Callable[[Any, int, str, list[str]], None]


def _length_check(shape: Mapping[str, Any]) -> LengthCheck | None:
    """The shape's min/max length rule (of a string, blob, list or map), or None when it has none."""
    low: int | None = shape.get("min")
    high: int | None = shape.get("max")
    if low is None and high is None:
        return None
    low_rule = f"Member must have length greater than or equal to {low}"
    high_rule = f"Member must have length less than or equal to {high}"

    def check(value: Any, length: int, path: str, problems: list[str]) -> None:
        if low is not None and length < low:
            problems.append(constraint_violation(_shown(shape, value), path, low_rule))
        if high is not None and length > high:
            problems.append(constraint_violation(_shown(shape, value), path, high_rule))

    return check


def _compile_number(shape: Mapping[str, Any], kind: str) -> Converter:
    low: int | None = shape.get("min")
    high: int | None = shape.get("max")
    low_rule = f"Member must have value greater than or equal to {low}"
    high_rule = f"Member must have value less than or equal to {high}"

    def convert(value: Any, path: str, problems: list[str]) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _serialization_error(value, kind)
        number = int(value)
        if low is not None and number < low:
            problems.append(constraint_violation(number, path, low_rule))
        if high is not None and number > high:
            problems.append(constraint_violation(number, path, high_rule))
        return number

    return convert


def _convert_boolean(value: Any, path: str, problems: list[str]) -> bool:
    if not isinstance(value, bool):
        raise _serialization_error(value, "boolean")
    return value


def _compile_blob(shape: Mapping[str, Any]) -> Converter:
    check_length = _length_check(shape)

    def convert(value: Any, path: str, problems: list[str]) -> bytes:
        if not isinstance(value, str):
            raise _serialization_error(value, "blob")
        try:
            # base64.b64decode(value, validate=True), without its argument handling.
            data = binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
        except (binascii.Error, ValueError):
            raise AwsError("SerializationException", "Could not decode a Base64 encoded blob") from None
        if check_length is not None:
            check_length(data, len(data), path, problems)
        return data

    return convert


def _convert_timestamp(value: Any, path: str, problems: list[str]) -> datetime:
    if isinstance(value, datetime):
        # The query protocol sends ISO 8601 text, which its decoder has already parsed.
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _serialization_error(value, "timestamp")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (ValueError, OverflowError, OSError):
        # A number no date can have (e.g. 2**40 seconds, NaN) is a wire-format error, as AWS answers it.
        raise AwsError("SerializationException", f"{value} is not a valid timestamp") from None


def _unsupported(kind: str) -> Converter:
    def convert(value: Any, path: str, problems: list[str]) -> Any:
        raise AwsError("SerializationException", f"unsupported shape type {kind}")

    return convert


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


def _to_wire(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        # base64.b64encode(value), without its argument handling.
        return binascii.b2a_base64(value, newline=False).decode("ascii")
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
