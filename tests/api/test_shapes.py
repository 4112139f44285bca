"""Model-driven validation of JSON requests, with AWS's error codes and message wording."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from kmsd.api.shapes import ServiceModel
from kmsd.errors import AwsError

KMS = ServiceModel.load("kms")


def problem(operation: str, body: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(AwsError) as raised:
        KMS.parse_request(operation, body)
    return raised.value.code, raised.value.message


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_valid_request_gets_python_types() -> None:
    params = KMS.parse_request(
        "Encrypt", {"KeyId": "alias/a", "Plaintext": b64(b"hi"), "EncryptionContext": {"k": "v"}, "Unknown": 1}
    )
    # Unknown members are ignored, as AWS's JSON protocol does; blobs arrive as bytes.
    assert params == {"KeyId": "alias/a", "Plaintext": b"hi", "EncryptionContext": {"k": "v"}}


def test_missing_members_are_listed_in_model_order() -> None:
    assert problem("Encrypt", {}) == (
        "ValidationException",
        "2 validation errors detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null; "
        "Value null at 'plaintext' failed to satisfy constraint: Member must not be null",
    )


def test_sensitive_values_are_never_shown() -> None:
    code, message = problem("Encrypt", {"KeyId": "k", "Plaintext": b64(b"x" * 4097)})
    assert code == "ValidationException"
    assert message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


def test_lengths_ranges_enums_and_patterns() -> None:
    assert problem("DescribeKey", {"KeyId": ""})[1] == (
        "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1"
    )
    assert problem("GenerateRandom", {"NumberOfBytes": 2000})[1] == (
        "1 validation error detected: Value '2000' at 'numberOfBytes' failed to satisfy constraint: "
        "Member must have value less than or equal to 1024"
    )
    message = problem("GenerateDataKey", {"KeyId": "k", "KeySpec": "AES_512"})[1]
    assert message == (
        "1 validation error detected: Value 'AES_512' at 'keySpec' failed to satisfy constraint: "
        "Member must satisfy enum value set: [AES_256, AES_128]"
    )
    message = problem("CreateAlias", {"AliasName": "alias/bad name", "TargetKeyId": "k"})[1]
    assert message.endswith("Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$")


def test_nested_list_members_are_named_by_position() -> None:
    message = problem("TagResource", {"KeyId": "k", "Tags": [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b"}]})[1]
    assert message == (
        "1 validation error detected: Value null at 'tags.2.member.tagValue' failed to satisfy constraint: "
        "Member must not be null"
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Limit": "ten"}, "STRING_VALUE can not be converted to an Integer"),
        ({"Limit": True}, "BOOLEAN_VALUE can not be converted to an Integer"),
        ({"Marker": 5}, "NUMBER_VALUE can not be converted to a String"),
        ({"Marker": []}, "Start of list found where not expected"),
        ({"Marker": {}}, "Start of structure or map found where not expected."),
    ],
)
def test_wrong_json_types_are_serialization_errors(body: dict[str, Any], expected: str) -> None:
    assert problem("ListKeys", body) == ("SerializationException", expected)


def test_bad_base64_is_a_serialization_error() -> None:
    assert problem("Decrypt", {"CiphertextBlob": "not base64!"})[0] == "SerializationException"


def test_timestamps_convert_and_impossible_ones_are_serialization_errors() -> None:
    body = {
        "KeyId": "k",
        "ImportToken": b64(b"t"),
        "EncryptedKeyMaterial": b64(b"m"),
        "ValidTo": 1767225600,
    }
    assert KMS.parse_request("ImportKeyMaterial", body)["ValidTo"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert problem("ImportKeyMaterial", {**body, "ValidTo": 2**60})[0] == "SerializationException"


def test_response_wire_forms() -> None:
    when = datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    wire = KMS.serialize_response(
        "DescribeKey", {"KeyMetadata": {"KeyId": "k", "CreationDate": when, "DeletionDate": None}}
    )
    assert wire == {"KeyMetadata": {"KeyId": "k", "CreationDate": 1767225600.123}}
    assert KMS.serialize_response("GenerateRandom", {"Plaintext": b"\x00\x01"}) == {"Plaintext": "AAE="}
