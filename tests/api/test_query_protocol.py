"""The query-protocol codec (IAM, STS) checked against botocore itself.

Requests are serialized by botocore's ``QuerySerializer`` and decoded by
:class:`QueryCodec`; responses and errors written by the codec are parsed by
botocore's ``QueryParser`` (plus the ``json_decode_policies`` handler boto3
runs for IAM).  Both directions run over every operation of both models with
every member filled in, so nested lists, maps, structures and every scalar
type round-trip; then AWS's validation wording and the protocol's own errors.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import unquote

import botocore.model
import pytest
from botocore.handlers import json_decode_policies
from botocore.parsers import QueryParser
from botocore.serialize import QuerySerializer
from botocore.utils import percent_encode_sequence

from kmsd.api.java_regex import compile_java_pattern, translate
from kmsd.api.query_protocol import QueryCodec, read_fields
from kmsd.api.shapes import ServiceModel
from kmsd.api.xml_writer import escape, format_timestamp
from kmsd.errors import AwsError, ValidationError
from kmsd.iam.documents import url_encoded

SERVICES = ("iam", "sts")
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "kms:Encrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalTag/team": "a b&c<d>+%/é"}},
            }
        ],
    }
)


def codec(service: str) -> QueryCodec:
    return QueryCodec.load(service)


@pytest.fixture(scope="module")
def botocore_models() -> dict[str, botocore.model.ServiceModel]:
    # botocore reads the very model files kmsd serves from, so both sides agree on every shape.
    return {
        service: botocore.model.ServiceModel(
            json.loads(resources.files("kmsd.api").joinpath("models", f"{service}.json").read_text("utf-8")),
            service_name=service,
        )
        for service in SERVICES
    }


class Samples:
    """A value for every member of a shape, varied enough that a mix-up would show."""

    def __init__(self, model: ServiceModel) -> None:
        self.shapes = model.shapes
        self.counter = itertools.count(1)

    def value(self, shape_name: str, depth: int = 0) -> Any:
        shape = self.shapes[shape_name]
        kind = shape["type"]
        n = next(self.counter)
        if kind == "structure":
            if depth > 5:
                return {}
            return {name: self.value(member["shape"], depth + 1) for name, member in shape.get("members", {}).items()}
        if kind == "list":
            return [self.value(shape["member"]["shape"], depth + 1) for _ in range(2)]
        if kind == "map":
            return {
                self.value(shape["key"]["shape"], depth + 1): self.value(shape["value"]["shape"], depth + 1)
                for _ in range(2)
            }
        if kind == "string":
            if "enum" in shape:
                return shape["enum"][n % len(shape["enum"])]
            if shape_name == "policyDocumentType":
                # IAM's handlers return documents URL-encoded, as IAM sends them (kmsd.iam.documents).
                return url_encoded(POLICY)
            return f"v{n} a&b<c>\"d' é/+%=.\r\nz"
        if kind in ("integer", "long"):
            return int(shape.get("min", 0)) + n
        if kind == "boolean":
            return n % 2 == 0
        if kind == "timestamp":
            return datetime(2024, 5, 1, 12, 30, n % 60, 123000, tzinfo=UTC)
        if kind == "blob":
            return bytes([n % 256, 0, 255]) + b"blob"
        raise AssertionError(f"unexpected shape type {kind}")


def wire_fields(params: dict[str, Any], operation_model: botocore.model.OperationModel) -> dict[str, str]:
    """What reaches the server: botocore's serialized body, form-encoded as botocore sends it, read back."""
    body = QuerySerializer().serialize_to_request(params, operation_model)["body"]
    return read_fields("", percent_encode_sequence(body).encode("ascii"))


def operations(service: str, direction: str) -> Iterator[tuple[str, str]]:
    model = ServiceModel.load(service)
    for name, operation in sorted(model.operations.items()):
        if direction in operation:
            yield service, name


def as_wire_input(value: Any) -> Any:
    """What the codec's unflatten returns for a botocore input: blobs stay base64 text until validation."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: as_wire_input(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_wire_input(v) for v in value]
    return value


def as_boto3_output(value: Any, shape_name: str, model: ServiceModel) -> Any:
    """What boto3 hands its caller for a result: policy documents decoded into dicts."""
    shape = model.shapes[shape_name]
    if shape["type"] == "structure":
        members = shape.get("members", {})
        return {k: as_boto3_output(v, members[k]["shape"], model) for k, v in value.items()}
    if shape["type"] == "list":
        return [as_boto3_output(v, shape["member"]["shape"], model) for v in value]
    if shape_name == "policyDocumentType":
        return json.loads(unquote(value))
    return value


# --- requests: botocore's QuerySerializer → QueryCodec ------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "operation"), [*operations("iam", "input"), *operations("sts", "input")], ids=lambda v: str(v)
)
def test_every_request_shape_round_trips_from_botocore(
    service: str, operation: str, botocore_models: dict[str, botocore.model.ServiceModel]
) -> None:
    model = ServiceModel.load(service)
    input_shape = model.input_shape(operation)
    assert input_shape is not None
    params = Samples(model).value(input_shape)
    operation_model = botocore_models[service].operation_model(operation)
    fields = wire_fields(params, operation_model)
    decoder = codec(service)
    assert decoder.operation(fields) == operation
    assert decoder.unflatten(operation, fields) == as_wire_input(params)


def test_empty_lists_and_missing_members(botocore_models: dict[str, botocore.model.ServiceModel]) -> None:
    operation_model = botocore_models["iam"].operation_model("CreateUser")
    fields = wire_fields({"UserName": "bob", "Tags": []}, operation_model)
    assert fields["Tags"] == ""
    assert codec("iam").decode("CreateUser", fields) == {"UserName": "bob", "Tags": []}


def test_a_real_create_user_request_decodes_to_typed_params() -> None:
    fields = read_fields(
        "",
        b"Action=CreateUser&Version=2010-05-08&UserName=alice&Path=%2Fteam%2F"
        b"&Tags.member.2.Key=b&Tags.member.2.Value=2&Tags.member.1.Key=a&Tags.member.1.Value=%C3%A9+1",
    )
    decoder = codec("iam")
    operation = decoder.operation(fields)
    assert decoder.decode(operation, fields) == {
        "UserName": "alice",
        "Path": "/team/",
        # Members come back in index order, whatever order the form listed them in.
        "Tags": [{"Key": "a", "Value": "é 1"}, {"Key": "b", "Value": "2"}],
    }


def test_scalars_are_typed() -> None:
    decoder = codec("iam")
    params = decoder.decode(
        "ListPolicies",
        {"Scope": "Local", "OnlyAttached": "true", "MaxItems": "25", "PolicyUsageFilter": "PermissionsPolicy"},
    )
    assert params == {"Scope": "Local", "OnlyAttached": True, "MaxItems": 25, "PolicyUsageFilter": "PermissionsPolicy"}
    sts = codec("sts")
    assumed = sts.decode(
        "AssumeRole",
        {
            "RoleArn": "arn:aws:iam::111122223333:role/r",
            "RoleSessionName": "s1",
            "DurationSeconds": "900",
            "PolicyArns.member.1.arn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
            "TransitiveTagKeys.member.1": "team",
        },
    )
    assert assumed["DurationSeconds"] == 900
    assert assumed["PolicyArns"] == [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}]
    assert assumed["TransitiveTagKeys"] == ["team"]


def test_get_and_post_parameters_merge_with_the_query_winning() -> None:
    # Body parameters never override the query string's, which a presigned URL's signature covers.
    assert read_fields("Action=ListUsers&Version=2010-05-08&MaxItems=5", b"MaxItems=7&Marker=m") == {
        "Action": "ListUsers",
        "Version": "2010-05-08",
        "MaxItems": "5",
        "Marker": "m",
    }
    assert read_fields("Action=GetUser&Version=2010-05-08", b"") == {"Action": "GetUser", "Version": "2010-05-08"}


def test_a_body_that_is_not_utf8_is_a_malformed_query_string() -> None:
    with pytest.raises(AwsError) as excinfo:
        read_fields("", b"Action=CreateUser&UserName=%FF")
    assert (excinfo.value.code, excinfo.value.status) == ("MalformedQueryString", 404)


# --- the protocol's own errors ---------------------------------------------------------------------------------
def test_missing_action() -> None:
    with pytest.raises(AwsError) as excinfo:
        codec("iam").operation({"Version": "2010-05-08", "UserName": "bob"})
    assert (excinfo.value.code, excinfo.value.message, excinfo.value.status) == ("MissingAction", "Missing Action", 400)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"Action": "MakeCoffee", "Version": "2010-05-08"},
            "Could not find operation MakeCoffee for version 2010-05-08",
        ),
        (
            {"Action": "CreateUser", "Version": "2011-06-15"},
            "Could not find operation CreateUser for version 2011-06-15",
        ),
        (
            {"Action": "createuser", "Version": "2010-05-08"},
            "Could not find operation createuser for version 2010-05-08",
        ),
        ({"Action": "CreateUser"}, "Could not find operation CreateUser for version None"),
    ],
)
def test_unknown_action_or_wrong_version_is_invalid_action(fields: dict[str, str], message: str) -> None:
    with pytest.raises(AwsError) as excinfo:
        codec("iam").operation(fields)
    assert (excinfo.value.code, excinfo.value.message, excinfo.value.status) == ("InvalidAction", message, 400)


def test_sts_actions_are_not_iam_actions() -> None:
    with pytest.raises(AwsError) as excinfo:
        codec("iam").operation({"Action": "GetCallerIdentity", "Version": "2011-06-15"})
    assert excinfo.value.code == "InvalidAction"
    assert codec("sts").operation({"Action": "GetCallerIdentity", "Version": "2011-06-15"}) == "GetCallerIdentity"


@pytest.mark.parametrize(
    ("operation", "fields"),
    [
        ("ListUsers", {"MaxItems": "ten"}),
        ("ListUsers", {"MaxItems": "1_000"}),
        ("ListUsers", {"MaxItems": "99999999999"}),
        ("ListPolicies", {"OnlyAttached": "yes"}),
        ("CreateUser", {"UserName": "bob", "Tags.member.x.Key": "a", "Tags.member.x.Value": "b"}),
        ("CreateUser", {"UserName": "bob", "Tags.member.0.Key": "a", "Tags.member.0.Value": "b"}),
    ],
)
def test_scalars_and_indexes_that_do_not_parse_are_malformed_input(operation: str, fields: dict[str, str]) -> None:
    with pytest.raises(AwsError) as excinfo:
        codec("iam").decode(operation, fields)
    assert (excinfo.value.code, excinfo.value.status) == ("MalformedInput", 400)


# --- validation: the JSON protocol's rules, IAM's wording -----------------------------------------------------
def validation_message(service: str, operation: str, fields: dict[str, str]) -> str:
    with pytest.raises(ValidationError) as excinfo:
        codec(service).decode(operation, fields)
    return excinfo.value.message


def test_pattern_violation_in_aws_words() -> None:
    assert validation_message("iam", "CreateUser", {"UserName": "bad name!"}) == (
        "1 validation error detected: Value 'bad name!' at 'userName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
    )


def test_java_word_class_is_ascii() -> None:
    # Java's \w is [a-zA-Z_0-9]: IAM refuses a user name with an accented letter.
    assert "at 'userName'" in validation_message("iam", "CreateUser", {"UserName": "bób"})


def test_missing_required_member() -> None:
    assert validation_message("iam", "CreateUser", {}) == (
        "1 validation error detected: Value null at 'userName' failed to satisfy constraint: Member must not be null"
    )


def test_nested_tag_path_and_unicode_category_pattern() -> None:
    # Quoted from an IAM response (CreateUser with a tag value containing "&").
    assert validation_message(
        "iam", "CreateUser", {"UserName": "bob", "Tags.member.1.Key": "team", "Tags.member.1.Value": "MOJ D&T"}
    ) == (
        "1 validation error detected: Value 'MOJ D&T' at 'tags.1.member.value' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*"
    )
    # Letters, separators and numbers of any script are allowed, as \p{L}, \p{Z}, \p{N} allow them.
    params = codec("iam").decode(
        "CreateUser", {"UserName": "bob", "Tags.member.1.Key": "équipe", "Tags.member.1.Value": "日本 ٣"}
    )
    assert params["Tags"] == [{"Key": "équipe", "Value": "日本 ٣"}]


def test_several_problems_ranges_and_enums() -> None:
    assert validation_message("iam", "ListPolicies", {"Scope": "Everything", "MaxItems": "0"}) == (
        "2 validation errors detected: "
        "Value 'Everything' at 'scope' failed to satisfy constraint: Member must satisfy enum value set: "
        "[All, AWS, Local]; "
        "Value '0' at 'maxItems' failed to satisfy constraint: Member must have value greater than or equal to 1"
    )
    message = validation_message(
        "sts",
        "AssumeRole",
        {"RoleArn": "arn:aws:iam::111122223333:role/r", "RoleSessionName": "s", "DurationSeconds": "60"},
    )
    # Problems are listed in the order AWS's model declares the members.
    assert message == (
        "2 validation errors detected: "
        "Value 's' at 'roleSessionName' failed to satisfy constraint: "
        "Member must have length greater than or equal to 2; "
        "Value '60' at 'durationSeconds' failed to satisfy constraint: "
        "Member must have value greater than or equal to 900"
    )


def test_validation_failures_are_named_validation_error_on_the_wire() -> None:
    body = codec("iam").encode_error(ValidationError(["Value null at 'userName' ..."]), "req-1")
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": 400}, None)
    assert parsed["Error"]["Code"] == "ValidationError"
    assert parsed["Error"]["Message"] == "1 validation error detected: Value null at 'userName' ..."


# --- responses: QueryCodec → botocore's QueryParser ----------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "operation"), [*operations("iam", "output"), *operations("sts", "output")], ids=lambda v: str(v)
)
def test_every_result_shape_round_trips_through_botocore(
    service: str, operation: str, botocore_models: dict[str, botocore.model.ServiceModel]
) -> None:
    model = ServiceModel.load(service)
    output_shape = model.output_shape(operation)
    assert output_shape is not None
    result = Samples(model).value(output_shape)
    body = codec(service).encode_result(operation, result, "req-42")
    operation_model = botocore_models[service].operation_model(operation)
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": 200}, operation_model.output_shape)
    if service == "iam":
        json_decode_policies(parsed, operation_model)
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-42"
    assert parsed == as_boto3_output(result, output_shape, model)


def test_result_document_layout_and_namespaces() -> None:
    created = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    body = codec("iam").encode_result(
        "CreateUser",
        {"User": {"Path": "/", "UserName": "bob", "UserId": "AIDA1", "Arn": "arn:x", "CreateDate": created}},
        "rid",
    )
    assert body.decode() == (
        '<CreateUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><CreateUserResult><User>'
        # Members in the order AWS's model declares them, as AWS writes them.
        "<Path>/</Path><UserName>bob</UserName><UserId>AIDA1</UserId><Arn>arn:x</Arn>"
        "<CreateDate>2024-05-01T12:00:00Z</CreateDate></User></CreateUserResult>"
        "<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></CreateUserResponse>"
    )
    # An operation without output still answers with its response element and the request id.
    assert codec("iam").encode_result("DeleteUser", {}, "rid").decode() == (
        '<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        "<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteUserResponse>"
    )
    sts = codec("sts").encode_result("GetCallerIdentity", {"UserId": "1", "Account": "1", "Arn": "a"}, "r").decode()
    assert sts.startswith('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">')
    assert "<GetCallerIdentityResult>" in sts


def test_empty_lists_and_unset_members(botocore_models: dict[str, botocore.model.ServiceModel]) -> None:
    body = codec("iam").encode_result("ListUsers", {"Users": [], "IsTruncated": False, "Marker": None}, "r")
    assert b"<ListUsersResult><Users></Users><IsTruncated>false</IsTruncated></ListUsersResult>" in body
    shape = botocore_models["iam"].operation_model("ListUsers").output_shape
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": 200}, shape)
    assert parsed["Users"] == []
    assert parsed["IsTruncated"] is False
    assert "Marker" not in parsed


def test_timestamps_and_escaping() -> None:
    assert format_timestamp(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"
    assert format_timestamp(datetime(2024, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)) == "2024-01-02T03:04:05.678Z"
    assert escape('<a href="x">&\r</a>') == "&lt;a href=&quot;x&quot;&gt;&amp;&#13;&lt;/a&gt;"
    # XML 1.0 cannot carry NUL or a lone surrogate: they become U+FFFD instead of breaking the document.
    assert escape("a\x00b\udcff") == "a\ufffdb\ufffd"


@pytest.mark.parametrize(
    ("error", "fault"),
    [
        (AwsError("NoSuchEntity", "The user with name bob cannot be found.", 404), "Sender"),
        (AwsError("AccessDenied", "User: arn:aws:iam::1:user/u is not authorized <&>", 403), "Sender"),
        (AwsError("ServiceFailure", "", 500), "Receiver"),
    ],
)
def test_errors_parse_in_botocore(error: AwsError, fault: str) -> None:
    body = codec("iam").encode_error(error, "req-9")
    assert body.startswith(b'<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error>')
    parsed = QueryParser().parse({"body": body, "headers": {}, "status_code": error.status}, None)
    assert parsed["Error"] == {"Type": fault, "Code": error.code, "Message": error.message or None}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


# --- Java regular expressions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("service", ["iam", "sts", "kms"])
def test_every_model_pattern_compiles(service: str) -> None:
    model = ServiceModel.load(service)
    patterns = {shape["pattern"] for shape in model.shapes.values() if "pattern" in shape}
    assert patterns
    for pattern in patterns:
        compile_java_pattern(pattern)


def test_unicode_categories_and_ascii_classes() -> None:
    tag_value = compile_java_pattern(r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*")
    assert tag_value.fullmatch("équipe 日本 ٣ Ⅻ\u00a0")
    assert not tag_value.fullmatch("a(b)")
    assert not tag_value.fullmatch("\U0001f600")
    assert compile_java_pattern(r"\p{Lu}+").fullmatch("ÉA")
    assert not compile_java_pattern(r"\p{Lu}+").fullmatch("éa")
    assert not compile_java_pattern(r"[\w]+").fullmatch("é")
    assert not compile_java_pattern(r"\d+").fullmatch("٣")


@pytest.mark.parametrize("pattern", [r"[a-z&&[^e]]", r"a*+", r"(?>a)", r"\p{IsAlphabetic}", r"[a[b]]", r"[\P{L}]"])
def test_java_only_constructs_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError):
        translate(pattern)
