"""Key lifecycle, aliases, tags, policies and rotation through boto3 against a real server process."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.aws_errors import error_of


def test_create_describe_list(kms: Any) -> None:
    created = kms.create_key(Description="orders", Tags=[{"TagKey": "team", "TagValue": "payments"}])
    meta = created["KeyMetadata"]
    assert meta["KeyState"] == "Enabled"
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["Origin"] == "AWS_KMS"
    assert meta["KeyManager"] == "CUSTOMER"
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:000000000000:key/{meta['KeyId']}"
    assert kms.describe_key(KeyId=meta["Arn"])["KeyMetadata"]["Description"] == "orders"
    listed = {
        k["KeyId"] for k in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1}).search("Keys")
    }
    assert meta["KeyId"] in listed
    assert kms.list_resource_tags(KeyId=meta["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "payments"}]


def test_default_key_policy_is_awss(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    assert policy == {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    assert kms.list_key_policies(KeyId=key_id)["PolicyNames"] == ["default"]


def test_put_key_policy_round_trips_and_rejects_garbage(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Key administrators may do anything",
                    "Effect": "Allow",
                    "Principal": {"AWS": "000000000000"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    )
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=document)
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == document
    with pytest.raises(ClientError) as excinfo:
        kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy="{not json")
    assert error_of(excinfo)[0] == "MalformedPolicyDocumentException"
    assert kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == document


def test_aliases(kms: Any) -> None:
    first = kms.create_key()["KeyMetadata"]["KeyId"]
    second = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=first)
    assert kms.describe_key(KeyId="alias/orders")["KeyMetadata"]["KeyId"] == first
    assert kms.describe_key(KeyId="arn:aws:kms:us-east-1:000000000000:alias/orders")["KeyMetadata"]["KeyId"] == first
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName="alias/orders", TargetKeyId=second)
    assert error_of(excinfo)[0] == "AlreadyExistsException"
    kms.update_alias(AliasName="alias/orders", TargetKeyId=second)
    names = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases(KeyId=second)["Aliases"]}
    assert names == {"alias/orders": second}
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=first)
    assert error_of(excinfo)[2] == 400
    with pytest.raises(ClientError) as excinfo:
        kms.create_alias(AliasName="orders", TargetKeyId=first)
    assert error_of(excinfo)[0] == "ValidationException"
    kms.delete_alias(AliasName="alias/orders")
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId="alias/orders")
    assert error_of(excinfo)[0] == "NotFoundException"


def test_key_states(kms: Any) -> None:
    meta = kms.create_key()["KeyMetadata"]
    key_id, arn = meta["KeyId"], meta["Arn"]
    kms.disable_key(KeyId=key_id)
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error_of(excinfo)[:2] == ("DisabledException", f"{arn} is disabled.")
    kms.enable_key(KeyId=key_id)
    kms.encrypt(KeyId=key_id, Plaintext=b"x")
    scheduled = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert scheduled["KeyState"] == "PendingDeletion"
    assert scheduled["PendingWindowInDays"] == 7
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert error_of(excinfo)[:2] == ("KMSInvalidStateException", f"{arn} is pending deletion.")
    kms.cancel_key_deletion(KeyId=key_id)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    kms.update_key_description(KeyId=key_id, Description="renamed")
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "renamed"


def test_unknown_key_is_not_found(kms: Any) -> None:
    missing = "arn:aws:kms:us-east-1:000000000000:key/11111111-2222-3333-4444-555555555555"
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId=missing)
    assert error_of(excinfo) == ("NotFoundException", f"Key '{missing}' does not exist", 400)


def test_schedule_deletion_window_is_validated(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as excinfo:
        kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=6)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value '6' at 'pendingWindowInDays' failed to satisfy constraint: "
        "Member must have value greater than or equal to 7"
    )


def test_tags(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}])
    kms.untag_resource(KeyId=key_id, TagKeys=["a"])
    assert kms.list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "b", "TagValue": "2"}]
    with pytest.raises(ClientError) as excinfo:
        kms.tag_resource(KeyId=key_id, Tags=[{"TagKey": "aws:reserved", "TagValue": "x"}])
    assert error_of(excinfo)[0] == "TagException"


def test_rotation(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    old = kms.encrypt(KeyId=key_id, Plaintext=b"before rotation")["CiphertextBlob"]
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
    kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
    status = kms.get_key_rotation_status(KeyId=key_id)
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 90
    kms.rotate_key_on_demand(KeyId=key_id)
    rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
    assert [r["RotationType"] for r in rotations] == ["ON_DEMAND"]
    new = kms.encrypt(KeyId=key_id, Plaintext=b"after rotation")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before rotation"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after rotation"
    with pytest.raises(ClientError) as excinfo:
        kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=89)
    assert error_of(excinfo)[0] == "ValidationException"
    kms.disable_key_rotation(KeyId=key_id)
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
