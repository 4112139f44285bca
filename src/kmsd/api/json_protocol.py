"""AWS's JSON 1.1 protocol (the one KMS speaks): target header in, JSON body in, JSON body or ``__type`` error out.

A request is ``POST /`` with ``X-Amz-Target: TrentService.<Operation>`` and a
JSON object body; a success is HTTP 200 with the output members; an error is
the error's HTTP status with ``{"__type": code, "message": text}``, which is
what botocore reads into ``ClientError.response["Error"]``.
"""

from __future__ import annotations

import json
from typing import Any

from kmsd.errors import AwsError

CONTENT_TYPE = b"application/x-amz-json-1.1"


def operation_from_target(target: str | None, target_prefix: str) -> str:
    """``TrentService.Encrypt`` → ``Encrypt``; anything else is AWS's UnknownOperationException."""
    if target:
        prefix, _, operation = target.partition(".")
        if prefix == target_prefix and operation:
            return operation
    raise AwsError("UnknownOperationException", "")


def decode_body(body: bytes) -> Any:
    """The request's JSON document; an empty body is an empty object, as AWS treats it."""
    if not body.strip():
        return {}
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AwsError("SerializationException", "") from None
    if not isinstance(document, dict):
        raise AwsError("SerializationException", "Start of list found where not expected")
    return document


def encode_result(result: dict[str, Any]) -> bytes:
    return json.dumps(result, separators=(",", ":")).encode("utf-8")


def encode_error(error: AwsError) -> bytes:
    body: dict[str, str] = {"__type": error.code}
    if error.message:
        body["message"] = error.message
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
