"""The KeyId forms table against botocore's KMS model: every key member of every operation is listed, and
the forms it accepts are the ones the member's documentation names."""

from __future__ import annotations

import re
from typing import Any

import botocore.session
import pytest

from kmsd.kms.key_id_forms import ALL_FORMS, KEY_ID_FORMS, KEY_MEMBERS, KEYS_ONLY, KeyIdForm, form_of

from .aws_errors import aws_error
from .conftest import Kms

_MODEL = botocore.session.get_session().get_service_model("kms")

# Members whose documentation names no forms, or names fewer than kmsd accepts, and why (see the module
# docstring of kmsd.kms.key_id_forms).
_UNSTATED = {
    ("GenerateMac", "KeyId"): ALL_FORMS,  # kms:RequestAlias applies to it: an alias is accepted
    ("VerifyMac", "KeyId"): ALL_FORMS,
    ("RetireGrant", "KeyId"): KEYS_ONLY,  # "The key ARN"; a key id names the same key
}


def _key_members() -> dict[tuple[str, str], str]:
    """Every (operation, key member) of the model, with the member's documentation as plain text."""
    found: dict[tuple[str, str], str] = {}
    for operation in _MODEL.operation_names:
        shape = _MODEL.operation_model(operation).input_shape
        if shape is None:
            continue
        for member in KEY_MEMBERS:
            if member in shape.members:
                found[(operation, member)] = re.sub(r"<[^>]+>", "", shape.members[member].documentation)
    return found


def _documented_forms(documentation: str) -> frozenset[KeyIdForm] | None:
    if "key ID, key ARN, alias name, or alias ARN" in documentation:
        return ALL_FORMS
    if "key ID or key ARN" in documentation:
        return KEYS_ONLY
    return None


def test_every_key_member_of_the_model_is_in_the_table() -> None:
    listed = {(operation, member) for operation, members in KEY_ID_FORMS.items() for member in members}
    assert listed == set(_key_members())


@pytest.mark.parametrize(("operation", "member"), sorted(_key_members()))
def test_the_table_accepts_the_documented_forms(operation: str, member: str) -> None:
    documented = _documented_forms(_key_members()[(operation, member)])
    expected = _UNSTATED.get((operation, member), documented)
    assert expected is not None, f"{operation}.{member}: its documentation names no forms; add it to _UNSTATED"
    if (operation, member) not in _UNSTATED:
        assert documented == expected
    assert KEY_ID_FORMS[operation][member] == expected


def test_form_of_each_spelling() -> None:
    assert form_of("1234abcd-12ab-34cd-56ef-1234567890ab") is KeyIdForm.KEY_ID
    assert form_of("arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab") is KeyIdForm.KEY_ARN
    assert form_of("alias/ExampleAlias") is KeyIdForm.ALIAS_NAME
    assert form_of("arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias") is KeyIdForm.ALIAS_ARN


KEY_ONLY_OPERATIONS: list[tuple[str, dict[str, Any]]] = [
    ("EnableKey", {}),
    ("DisableKey", {}),
    ("EnableKeyRotation", {}),
    ("GetKeyPolicy", {"PolicyName": "default"}),
    ("TagResource", {"Tags": [{"TagKey": "k", "TagValue": "v"}]}),
    ("GetKeyLastUsage", {}),
]


@pytest.mark.parametrize(("operation", "extra"), KEY_ONLY_OPERATIONS)
def test_an_alias_is_refused_where_only_keys_are_accepted(kms: Kms, operation: str, extra: dict[str, Any]) -> None:
    key = kms.create_key()
    kms("CreateAlias", AliasName="alias/forms", TargetKeyId=key["KeyId"])
    alias_arn = key["Arn"].split(":key/")[0] + ":alias/forms"
    for spelling in ("alias/forms", alias_arn):
        with aws_error("InvalidArnException", "Key Aliases are not supported for this operation."):
            kms(operation, KeyId=spelling, **extra)
    kms(operation, KeyId=key["Arn"], **extra)
