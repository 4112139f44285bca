"""The allow-lists of :mod:`kmsd.audit.redaction`, over every operation of the KMS, IAM and STS models.

For each operation, a request and a response are built from the model with
every member set: each secret member (a sensitive shape, a blob, or one of
``HIDDEN_MEMBERS``) holds a marker, as text and as bytes, and every other member
an ordinary value.  No marker may reach the record; the ordinary values must.
Then the rules the KMS Developer Guide shows on its logged examples (Encrypt,
GenerateDataKey, Decrypt), and what is done with values the model does not
describe.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from kmsd.api.shapes import ServiceModel
from kmsd.audit.redaction import HIDDEN_MEMBERS, Redactor, iso_seconds

SERVICES = ("kms", "iam", "sts")
MARKER = "SECRET-MARKER"
PLAIN = "plain-value"


def redactor(service: str) -> Redactor:
    model = ServiceModel.load(service)
    return Redactor(service, model.operations, model.shapes)


def _is_secret(service: str, shape: Mapping[str, Any], member: str | None, member_def: Mapping[str, Any]) -> bool:
    return bool(
        shape.get("sensitive")
        or member_def.get("sensitive")
        or shape["type"] == "blob"
        or (member is not None and member in HIDDEN_MEMBERS.get(service, frozenset()))
    )


def filled(
    service: str, shapes: Mapping[str, Any], name: str, secret: bool, depth: int = 0, as_bytes: bool = False
) -> Any:
    """A value of shape ``name``: markers in every secret position (inherited by what a secret member holds)."""
    shape = shapes[name]
    kind = shape["type"]
    secret = secret or bool(shape.get("sensitive"))
    if kind == "structure":
        if depth > 6:
            return {}
        value = {}
        for member, member_def in shape.get("members", {}).items():
            member_shape = shapes[member_def["shape"]]
            inner_secret = secret or _is_secret(service, member_shape, member, member_def)
            value[member] = filled(service, shapes, member_def["shape"], inner_secret, depth + 1, as_bytes)
        return value
    if kind == "list":
        return [filled(service, shapes, shape["member"]["shape"], secret, depth + 1, as_bytes)]
    if kind == "map":
        return {"map-key": filled(service, shapes, shape["value"]["shape"], secret, depth + 1, as_bytes)}
    if kind == "blob":
        # A blob is never kept, whatever it holds; text where a blob belongs must not pass either.
        return (MARKER + "-blob").encode() if as_bytes else MARKER + "-blob-as-text"
    if kind == "string":
        if secret:
            return (MARKER + "-bytes").encode() if as_bytes else MARKER + "-text"
        return PLAIN
    if kind == "timestamp":
        return datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    if kind == "boolean":
        return True
    if kind in ("integer", "long"):
        return 7
    return 1.5


def cases() -> list[tuple[str, str]]:
    return [(service, operation) for service in SERVICES for operation in ServiceModel.load(service).operations]


@pytest.mark.parametrize(("service", "operation"), cases())
def test_no_secret_member_reaches_a_record(service: str, operation: str) -> None:
    model = ServiceModel.load(service)
    allow_list = redactor(service)
    for as_bytes in (False, True):
        for shape_name, build in (
            (model.input_shape(operation), allow_list.request_parameters),
            (model.output_shape(operation), allow_list.response_elements),
        ):
            if shape_name is None:
                continue
            value = filled(service, model.shapes, shape_name, False, as_bytes=as_bytes)
            kept = build(operation, value)
            text = json.dumps(kept)  # also fails on any bytes left in the record
            assert MARKER not in text, (operation, text)


def test_every_operation_keeps_its_ordinary_members() -> None:
    # The allow-list is not empty by accident: every ordinary string member of an input is recorded.
    for service, operation in cases():
        model = ServiceModel.load(service)
        shape_name = model.input_shape(operation)
        if shape_name is None:
            continue
        value = filled(service, model.shapes, shape_name, False)
        ordinary = [
            member
            for member, member_def in model.shapes[shape_name].get("members", {}).items()
            if not _is_secret(service, model.shapes[member_def["shape"]], member, member_def)
        ]
        kept = redactor(service).request_parameters(operation, value) or {}
        assert sorted(kept) == sorted(member[:1].lower() + member[1:] for member in ordinary), operation


def test_encrypt_as_the_kms_developer_guide_logs_it() -> None:
    kms = redactor("kms")
    params = {
        "KeyId": "alias/app",
        "Plaintext": b"the secret",
        "EncryptionContext": {"Department": "Engineering"},
        "EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "GrantTokens": ["token-id"],
    }
    assert kms.request_parameters("Encrypt", params) == {
        "keyId": "alias/app",
        "encryptionContext": {"Department": "Engineering"},
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
        "grantTokens": ["token-id"],
    }
    assert kms.request_parameters("Decrypt", {"CiphertextBlob": b"blob", "KeyId": "k"}) == {"keyId": "k"}
    answer = {"CiphertextBlob": b"blob", "Plaintext": b"key", "KeyId": "arn"}
    assert kms.response_elements("GenerateDataKey", answer) == {"keyId": "arn"}


def test_secret_strings_the_models_do_not_mark() -> None:
    sts = redactor("sts")
    expires = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    answer = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": "secret",
            "SessionToken": "token",
            "Expiration": expires,
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROA:s", "Arn": "arn:aws:sts::111122223333:assumed-role/r/s"},
    }
    assert sts.response_elements("AssumeRole", answer) == {
        "credentials": {"accessKeyId": "ASIAEXAMPLE", "expiration": "2026-01-02T01:04:05Z"},
        "assumedRoleUser": {"assumedRoleId": "AROA:s", "arn": "arn:aws:sts::111122223333:assumed-role/r/s"},
    }
    assert redactor("kms").response_elements("CreateGrant", {"GrantToken": "bearer", "GrantId": "g"}) == {
        "grantId": "g"
    }
    iam = redactor("iam")
    params = {
        "UserName": "u",
        "SerialNumber": "arn:mfa",
        "AuthenticationCode1": "123456",
        "AuthenticationCode2": "654321",
    }
    assert iam.request_parameters("EnableMFADevice", params) == {"userName": "u", "serialNumber": "arn:mfa"}


def test_what_the_model_does_not_describe_is_dropped() -> None:
    kms = redactor("kms")
    params = {
        "KeyId": "k",
        "Unknown": "x",  # no such member
        "EncryptionContext": {"a": b"bytes where text belongs", "b": "kept"},
        "GrantTokens": "not a list",
        "DryRun": object(),
    }
    assert kms.request_parameters("Encrypt", params) == {"keyId": "k", "encryptionContext": {"b": "kept"}}
    assert kms.request_parameters("NoSuchOperation", {"KeyId": "k"}) is None
    assert kms.request_parameters("Encrypt", None) is None
    assert kms.request_parameters("Encrypt", {"Plaintext": b"p"}) is None  # nothing left to show


def test_times_are_utc_to_the_second() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert iso_seconds(datetime(2026, 1, 2, 3, 4, 5, 999_999, tzinfo=plus_two)) == "2026-01-02T01:04:05Z"
    assert iso_seconds(datetime(2026, 1, 2, 3, 4, 5, 1, tzinfo=UTC)) == "2026-01-02T03:04:05Z"  # the same second
    assert iso_seconds(datetime(2026, 1, 2, 3, 4, 6)) == "2026-01-02T03:04:06Z"  # naive: taken as UTC
    assert iso_seconds(datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)) == "1969-12-31T23:59:59Z"
