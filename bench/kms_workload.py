"""What the benchmark asks of a KMS: the three operations, their parameters, and the answers to expect.

Every target gets the same requests (a 64-byte plaintext, an AES-256 data key)
so their requests/s compare like for like.  Before a cell is measured, one
request is sent and its answer checked here: a KMS that answers 200 with the
wrong plaintext must not be benchmarked as if it worked.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from failures import BenchmarkFailure

OPERATIONS = ("Encrypt", "Decrypt", "GenerateDataKey")
PLAINTEXT = b"kmsd benchmark plaintext: 64 bytes, the size of a wrapped secret"
DATA_KEY_BYTES = 32


@dataclass(frozen=True)
class KeyFixture:
    """A key on one target and a ciphertext that target made with it."""

    key_id: str
    ciphertext_blob: bytes


def params_for(operation: str, key: KeyFixture) -> dict[str, Any]:
    if operation == "Encrypt":
        return {"KeyId": key.key_id, "Plaintext": _b64(PLAINTEXT)}
    if operation == "Decrypt":
        return {"KeyId": key.key_id, "CiphertextBlob": _b64(key.ciphertext_blob)}
    if operation == "GenerateDataKey":
        return {"KeyId": key.key_id, "KeySpec": "AES_256"}
    raise ValueError(f"the benchmark has no workload for {operation}")


def check_answer(target: str, operation: str, status: int, body: bytes) -> None:
    """Raise unless ``body`` is a correct answer to ``operation`` as ``params_for`` asked it."""
    if status != 200:
        raise BenchmarkFailure(f"{target} {operation}: HTTP {status}: {body[:300]!r}")
    answer = decode_json(target, operation, body)
    if operation == "Encrypt":
        blob = _field_bytes(answer, "CiphertextBlob", target, operation)
        if PLAINTEXT in blob:
            raise BenchmarkFailure(f"{target} Encrypt: the ciphertext contains the plaintext")
    elif operation == "Decrypt":
        if _field_bytes(answer, "Plaintext", target, operation) != PLAINTEXT:
            raise BenchmarkFailure(f"{target} Decrypt: the plaintext differs from what was encrypted")
    elif operation == "GenerateDataKey":
        if len(_field_bytes(answer, "Plaintext", target, operation)) != DATA_KEY_BYTES:
            raise BenchmarkFailure(f"{target} GenerateDataKey: the data key is not {DATA_KEY_BYTES} bytes")
        _field_bytes(answer, "CiphertextBlob", target, operation)


def decode_json(target: str, operation: str, body: bytes) -> dict[str, Any]:
    try:
        answer = json.loads(body)
    except ValueError:
        raise BenchmarkFailure(f"{target} {operation}: the answer is not JSON: {body[:300]!r}") from None
    if not isinstance(answer, dict):
        raise BenchmarkFailure(f"{target} {operation}: the answer is not a JSON object: {body[:300]!r}")
    return answer


def _field_bytes(answer: dict[str, Any], field: str, target: str, operation: str) -> bytes:
    value = answer.get(field)
    if not isinstance(value, str) or not value:
        raise BenchmarkFailure(f"{target} {operation}: the answer has no {field}")
    return base64.b64decode(value)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
