"""The permissions table against botocore's KMS model and the API reference text it carries.

The tree's model (src/kmsd/api/models/kms.json) has its documentation stripped; botocore, installed with
boto3, ships the same operations with AWS's documentation, whose "Cross-account use" and "Required
permissions" paragraphs the table transcribes.
"""

from __future__ import annotations

import gzip
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import botocore  # type: ignore[import-untyped]
import pytest

from kmsd.authz.grants import GRANT_OPERATIONS
from kmsd.authz.permissions import (
    KEY_RESOURCE_KEYS,
    PERMISSIONS,
    PolicySource,
    Target,
    permissions_for,
)
from kmsd.kms.service import OPERATIONS

MODEL = json.loads(resources.files("kmsd.api").joinpath("models/kms.json").read_text())
BOTOCORE_MODEL: dict[str, Any] = json.loads(
    gzip.decompress((Path(botocore.__file__).parent / "data/kms/2014-11-01/service-2.json.gz").read_bytes())
)


def _documentation(operation: str) -> str:
    html = BOTOCORE_MODEL["operations"][operation]["documentation"]
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_one_row_per_operation_of_the_model() -> None:
    assert set(PERMISSIONS) == set(MODEL["operations"])
    assert set(OPERATIONS) <= set(PERMISSIONS)


@pytest.mark.parametrize("operation", sorted(MODEL["operations"]))
def test_cross_account_use_is_the_api_references(operation: str) -> None:
    match = re.search(r"Cross-account use\s*:\s*(\w+)", _documentation(operation))
    assert match is not None, operation
    # GenerateRandom says "Not applicable": it uses no key.
    assert permissions_for(operation).cross_account == (match.group(1) == "Yes")


@pytest.mark.parametrize("operation", sorted(MODEL["operations"]))
def test_required_permissions_are_the_api_references(operation: str) -> None:
    text = _documentation(operation)
    row = permissions_for(operation)
    first = row.permissions[0]
    if first.source is PolicySource.GRANT:
        assert "determined primarily by the grant" in text
        return
    # "Required permissions: kms:Encrypt (key policy)"; for alias operations "kms:CreateAlias on the alias (IAM
    # policy). kms:CreateAlias on the KMS key (key policy)"; for ReplicateKey "kms:ReplicateKey on the primary
    # key ... Include this permission in the primary key's key policy. kms:CreateKey in an IAM policy".
    for permission in row.permissions:
        wanted = "key policy" if permission.source is PolicySource.KEY_POLICY else "IAM policy"
        pattern = re.escape(permission.action) + r"(?:(?!kms:).){0,160}?" + wanted
        assert re.search(pattern, text), (operation, permission)


def test_grants_can_allow_exactly_the_grant_operations() -> None:
    grantable = {
        permission.grant_operation
        for row in PERMISSIONS.values()
        for permission in row.permissions
        if permission.grant_operation is not None
    }
    assert grantable == set(GRANT_OPERATIONS)
    assert set(BOTOCORE_MODEL["shapes"]["GrantOperation"]["enum"]) == set(GRANT_OPERATIONS)


def test_key_resource_operations_carry_the_key_condition_keys() -> None:
    for row in PERMISSIONS.values():
        if row.on_keys:
            assert row.condition_keys >= KEY_RESOURCE_KEYS, row.operation


def test_special_rows() -> None:
    re_encrypt = permissions_for("ReEncrypt")
    assert [(p.action, p.target) for p in re_encrypt.permissions] == [
        ("kms:ReEncryptFrom", Target.SOURCE_KEY),
        ("kms:ReEncryptTo", Target.DESTINATION_KEY),
    ]
    create_key = permissions_for("CreateKey")
    assert [(member, p.action) for member, p in create_key.when_present] == [("Tags", "kms:TagResource")]
    assert [p.target for p in permissions_for("UpdateAlias").permissions] == [
        Target.ALIAS,
        Target.ALIAS_KEY,
        Target.TARGET_KEY,
    ]
    for operation in ("CreateKey", "ListKeys", "ListAliases", "GenerateRandom", "CreateCustomKeyStore"):
        assert [p.source for p in permissions_for(operation).permissions] == [PolicySource.IAM_POLICY]
    encrypt = permissions_for("Encrypt")
    assert {"kms:EncryptionContext:*", "kms:EncryptionContextKeys", "kms:RequestAlias"} <= encrypt.condition_keys
