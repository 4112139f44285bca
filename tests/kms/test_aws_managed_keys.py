"""AWS managed keys in the service: the predefined aliases, the key DescribeKey creates behind one, its policy,
its yearly rotation, and that nothing but DescribeKey creates it."""

from __future__ import annotations

import json
from datetime import timedelta

from kmsd.clock import ManualClock
from kmsd.kms.aws_managed_keys import PREDEFINED_ALIASES, create_aws_managed_key

from .aws_errors import aws_error
from .conftest import ACCOUNT, OTHER_ACCOUNT, REGION, Kms, caller_for

EXPECTED_PREDEFINED = [
    f"alias/aws/{service}"
    for service in (
        "acm",
        "dynamodb",
        "ebs",
        "elasticfilesystem",
        "es",
        "glue",
        "kinesisvideo",
        "lambda",
        "rds",
        "redshift",
        "s3",
        "secretsmanager",
        "ssm",
        "xray",
    )
]


def test_a_new_account_lists_the_predefined_aliases_without_a_target(kms: Kms) -> None:
    assert sorted(PREDEFINED_ALIASES) == EXPECTED_PREDEFINED
    assert kms("ListAliases")["Aliases"] == [
        {"AliasName": name, "AliasArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:{name}"} for name in EXPECTED_PREDEFINED
    ]
    assert kms("ListKeys")["Keys"] == []


def test_describe_key_creates_the_key_once(kms: Kms, clock: ManualClock) -> None:
    first = kms("DescribeKey", KeyId="alias/aws/s3")["KeyMetadata"]
    assert first["KeyManager"] == "AWS"
    assert first["Description"] == "Default key that protects my S3 objects when no other key is defined"
    assert (first["KeySpec"], first["KeyUsage"], first["Origin"], first["KeyState"]) == (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        "AWS_KMS",
        "Enabled",
    )
    again = kms("DescribeKey", KeyId=f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/s3")["KeyMetadata"]
    assert again["KeyId"] == first["KeyId"]
    assert kms("ListKeys")["Keys"] == [{"KeyId": first["KeyId"], "KeyArn": first["Arn"]}]
    (s3,) = [entry for entry in kms("ListAliases")["Aliases"] if entry["AliasName"] == "alias/aws/s3"]
    assert s3["TargetKeyId"] == first["KeyId"]
    assert s3["CreationDate"] == clock.now()
    policy = json.loads(kms("GetKeyPolicy", KeyId=first["KeyId"], PolicyName="default")["Policy"])
    assert policy["Id"] == "auto-s3-2"
    assert policy["Statement"][0]["Condition"] == {
        "StringEquals": {"kms:CallerAccount": ACCOUNT, "kms:ViaService": f"s3.{REGION}.amazonaws.com"}
    }
    status = kms("GetKeyRotationStatus", KeyId=first["KeyId"])
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 365)
    assert status["NextRotationDate"] == clock.now() + timedelta(days=365)


def test_the_key_rotates_every_year(kms: Kms, clock: ManualClock) -> None:
    key_id = kms("DescribeKey", KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"]
    clock.advance(timedelta(days=366))
    kms.service.sweep()
    rotations = kms("ListKeyRotations", KeyId=key_id)["Rotations"]
    assert [rotation["RotationType"] for rotation in rotations] == ["AUTOMATIC"]


def test_only_describe_key_creates_it(kms: Kms) -> None:
    with aws_error("NotFoundException", f"Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/lambda is not found."):
        kms("Encrypt", KeyId="alias/aws/lambda", Plaintext=b"x")
    # Another account's predefined alias is not created for it by a caller of this one.
    other_alias = f"arn:aws:kms:{REGION}:{OTHER_ACCOUNT}:alias/aws/rds"
    with aws_error("NotFoundException", f"Alias {other_alias} is not found."):
        kms("DescribeKey", KeyId=other_alias)
    other = kms.as_caller(caller_for(OTHER_ACCOUNT))
    assert other("ListKeys")["Keys"] == []
    # An unknown alias/aws/ name is just an unknown alias.
    with aws_error("NotFoundException", f"Alias arn:aws:kms:{REGION}:{ACCOUNT}:alias/aws/nothing is not found."):
        kms("DescribeKey", KeyId="alias/aws/nothing")
    assert kms("ListKeys")["Keys"] == []


def test_creating_the_key_twice_creates_one(kms: Kms) -> None:
    # Two requests (or two processes) that both found the alias without a key: the second creates nothing.
    ctx = kms.service.context
    with ctx.store.transaction():
        create_aws_managed_key(ctx, ACCOUNT, REGION, "alias/aws/xray")
        create_aws_managed_key(ctx, ACCOUNT, REGION, "alias/aws/xray")
    (key,) = kms("ListKeys")["Keys"]
    assert kms("DescribeKey", KeyId="alias/aws/xray")["KeyMetadata"]["KeyId"] == key["KeyId"]
