"""AWS's default key policy text, byte for byte, and the Jackson-style layout AWS writes policies in."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kmsd.authz.default_policy import aws_pretty_json, default_key_policy

from .conftest import ACCOUNT, Kms

# GetKeyPolicy's answer for a key created without a policy (the layout AWS's API examples and
# CloudTrail records show for the default key policy).
EXPECTED = """{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::111122223333:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}"""


def test_default_key_policy_text() -> None:
    assert default_key_policy("111122223333") == EXPECTED


def test_layout_of_lists_and_empty_values() -> None:
    document = {"Action": ["kms:Encrypt", "kms:Decrypt"], "Empty": {}, "None": [], "Flag": True}
    text = aws_pretty_json(document)
    assert text == (
        '{\n  "Action" : [ "kms:Encrypt", "kms:Decrypt" ],\n  "Empty" : { },\n  "None" : [ ],\n  "Flag" : true\n}'
    )
    assert json.loads(text) == document


def test_two_statements_share_one_line_break_pattern() -> None:
    text = aws_pretty_json({"Statement": [{"Sid": "A"}, {"Sid": "B"}]})
    assert text == '{\n  "Statement" : [ {\n    "Sid" : "A"\n  }, {\n    "Sid" : "B"\n  } ]\n}'


# "Default key policy" (Developer Guide): a key created through the API without a policy gets the one
# statement whatever its type; the per-type "Allow use of the key" statements are the console's, not the API's.
KEY_TYPES = [
    {},
    {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
    {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
    {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"},
    {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
    {"Origin": "EXTERNAL"},
    {"MultiRegion": True},
]


@pytest.mark.parametrize("params", KEY_TYPES)
def test_every_key_type_created_through_the_api_gets_the_default_policy(kms: Kms, params: dict[str, Any]) -> None:
    key_id = kms.create_key(**params)["KeyId"]
    assert kms("GetKeyPolicy", KeyId=key_id, PolicyName="default")["Policy"] == default_key_policy(ACCOUNT)
