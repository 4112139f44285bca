"""AWS managed keys through boto3 against a real ``kmsd serve`` (issue 11): the predefined ``alias/aws/``
aliases in ListAliases, the key DescribeKey creates behind one, its use only through its service
(``kms:ViaService`` from a trusted front end's header), a grant on it, and every change a customer tries
refused with AWS's answer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from kmsd.kms.aws_managed_keys import PREDEFINED_ALIASES
from tests.integration.authz_world import (
    NO_IDENTITY_POLICY,
    NO_RESOURCE_POLICY,
    WEST,
    Account,
    World,
    allow,
    denied,
    refused,
    running_world,
)
from tests.integration.stores import Stores

VIA_SERVICE_HEADER = "X-Kmsd-Via-Service"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(
        stores, tmp_path_factory.mktemp("kms-aws-managed-keys"), "--trusted-service-header", VIA_SERVICE_HEADER
    ) as built:
        yield built


def aws_aliases(account: Account) -> dict[str, dict[str, Any]]:
    listed = account.kms().list_aliases(Limit=100)["Aliases"]
    return {entry["AliasName"]: entry for entry in listed if entry["AliasName"].startswith("alias/aws/")}


def test_a_new_account_lists_the_predefined_aliases_without_keys(world: World) -> None:
    account = world.account("100000000001")
    listed = aws_aliases(account)
    # tests/kms/test_aws_managed_keys.py pins PREDEFINED_ALIASES to the list a new AWS account shows.
    assert sorted(listed) == sorted(PREDEFINED_ALIASES)
    assert listed["alias/aws/s3"] == {
        "AliasName": "alias/aws/s3",
        "AliasArn": f"arn:aws:kms:{WEST}:{account.account_id}:alias/aws/s3",
    }
    assert account.kms().list_keys()["Keys"] == []


def test_describe_key_of_a_predefined_alias_creates_its_aws_managed_key(world: World) -> None:
    account = world.account("100000000002")
    kms = account.kms()
    metadata = kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]
    assert metadata["KeyManager"] == "AWS"
    assert metadata["Description"] == "Default key that protects my S3 objects when no other key is defined"
    assert (metadata["KeySpec"], metadata["KeyUsage"], metadata["KeyState"]) == (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        "Enabled",
    )
    assert kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["KeyId"] == metadata["KeyId"]
    assert aws_aliases(account)["alias/aws/s3"]["TargetKeyId"] == metadata["KeyId"]
    assert [key["KeyId"] for key in kms.list_keys()["Keys"]] == [metadata["KeyId"]]
    policy = json.loads(kms.get_key_policy(KeyId=metadata["KeyId"], PolicyName="default")["Policy"])
    assert policy == {
        "Version": "2012-10-17",
        "Id": "auto-s3-2",
        "Statement": [
            {
                "Sid": "Allow access through S3 for all principals in the account that are authorized to use S3",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account.account_id,
                        "kms:ViaService": f"s3.{WEST}.amazonaws.com",
                    }
                },
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account.account_id}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            },
        ],
    }
    status = kms.get_key_rotation_status(KeyId=metadata["KeyId"])
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 365)


def test_the_key_is_used_only_through_its_service(world: World) -> None:
    account = world.account("100000000003")
    root = account.root
    key = account.kms().describe_key(KeyId="alias/aws/ssm")["KeyMetadata"]
    assert refused(account.kms().encrypt, KeyId=key["KeyId"], Plaintext=b"x") == denied(
        root.arn, "kms:Encrypt", key["Arn"], NO_RESOURCE_POLICY
    )
    through_ssm = root.kms_with_headers({VIA_SERVICE_HEADER: f"ssm.{WEST}.amazonaws.com"})
    blob = through_ssm.encrypt(KeyId="alias/aws/ssm", Plaintext=b"parameter")["CiphertextBlob"]
    assert through_ssm.decrypt(CiphertextBlob=blob)["Plaintext"] == b"parameter"
    through_ec2 = root.kms_with_headers({VIA_SERVICE_HEADER: f"ec2.{WEST}.amazonaws.com"})
    assert refused(through_ec2.decrypt, CiphertextBlob=blob) == denied(
        root.arn, "kms:Decrypt", key["Arn"], NO_RESOURCE_POLICY
    )


def test_customers_cannot_change_or_delete_it(world: World) -> None:
    account = world.account("100000000004")
    kms = account.kms()
    key = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    key_id, arn, caller = key["KeyId"], key["Arn"], account.root.arn
    attempts: list[tuple[str, Any, dict[str, Any]]] = [
        ("kms:PutKeyPolicy", kms.put_key_policy, {"PolicyName": "default", "Policy": json.dumps({})}),
        ("kms:ScheduleKeyDeletion", kms.schedule_key_deletion, {}),
        ("kms:DisableKey", kms.disable_key, {}),
        ("kms:EnableKeyRotation", kms.enable_key_rotation, {}),
        ("kms:DisableKeyRotation", kms.disable_key_rotation, {}),
        ("kms:RotateKeyOnDemand", kms.rotate_key_on_demand, {}),
        ("kms:TagResource", kms.tag_resource, {"Tags": [{"TagKey": "k", "TagValue": "v"}]}),
        ("kms:UpdateKeyDescription", kms.update_key_description, {"Description": "mine"}),
    ]
    for action, call, params in attempts:
        assert refused(call, KeyId=key_id, **params) == denied(caller, action, arn, NO_RESOURCE_POLICY), action
    # An alias of the customer's cannot point at it either.
    assert refused(kms.create_alias, AliasName="alias/mine", TargetKeyId=key_id) == denied(
        caller, "kms:CreateAlias", arn, NO_RESOURCE_POLICY
    )
    # The alias/aws/ aliases cannot be created, repointed or deleted.
    mine = kms.create_key()["KeyMetadata"]["KeyId"]
    assert refused(kms.update_alias, AliasName="alias/aws/ebs", TargetKeyId=mine)[0] == "NotAuthorizedException"
    assert refused(kms.create_alias, AliasName="alias/aws/new", TargetKeyId=mine)[0] == "NotAuthorizedException"
    assert refused(kms.delete_alias, AliasName="alias/aws/ebs") == (
        "KMSInvalidStateException",
        "The alias alias/aws/ebs is a AWS managed alias and cannot be deleted.",
        400,
    )
    after = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert (after["KeyId"], after["KeyState"], after["Description"]) == (key_id, "Enabled", key["Description"])


def test_describe_key_is_decided_by_the_new_keys_policy(world: World) -> None:
    account = world.account("100000000005")
    nobody = account.user()
    alias_arn = f"arn:aws:kms:{WEST}:{account.account_id}:alias/aws/rds"
    # The key is created, then the call is decided: the policy delegates kms:Describe* to IAM policies.
    error = refused(nobody.kms().describe_key, KeyId="alias/aws/rds")
    assert error[0] == "AccessDeniedException"
    key_arn = aws_aliases(account)["alias/aws/rds"]["TargetKeyId"]
    assert error == denied(
        nobody.arn, "kms:DescribeKey", f"arn:aws:kms:{WEST}:{account.account_id}:key/{key_arn}", NO_IDENTITY_POLICY
    )
    reader = account.user(allow("kms:DescribeKey"))
    assert reader.kms().describe_key(KeyId=alias_arn)["KeyMetadata"]["KeyManager"] == "AWS"


def test_a_grant_made_through_the_service_allows_its_grantee(world: World) -> None:
    account = world.account("100000000006")
    grantee = account.user()
    key = account.kms().describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert refused(grantee.kms().encrypt, KeyId=key["KeyId"], Plaintext=b"volume") == denied(
        grantee.arn, "kms:Encrypt", key["Arn"], NO_RESOURCE_POLICY
    )
    # The EBS key's policy lets the account create grants through EC2 only.
    grant = {"KeyId": key["KeyId"], "GranteePrincipal": grantee.arn, "Operations": ["Encrypt"]}
    assert refused(account.kms().create_grant, **grant) == denied(
        account.root.arn, "kms:CreateGrant", key["Arn"], NO_RESOURCE_POLICY
    )
    through_ec2 = account.root.kms_with_headers({VIA_SERVICE_HEADER: f"ec2.{WEST}.amazonaws.com"})
    through_ec2.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee.arn, Operations=["Encrypt"])
    assert grantee.kms().encrypt(KeyId=key["KeyId"], Plaintext=b"volume")["KeyId"] == key["Arn"]


def test_another_accounts_predefined_alias_is_not_created_for_the_caller(world: World) -> None:
    owner, other = world.account("100000000007"), world.account("100000000008")
    alias_arn = f"arn:aws:kms:{WEST}:{owner.account_id}:alias/aws/glue"
    assert refused(other.kms().describe_key, KeyId=alias_arn) == (
        "NotFoundException",
        f"Alias {alias_arn} is not found.",
        400,
    )
    assert "TargetKeyId" not in aws_aliases(owner)["alias/aws/glue"]
    # Nor does any operation but DescribeKey create one.
    assert refused(owner.kms().encrypt, KeyId="alias/aws/glue", Plaintext=b"x")[0] == "NotFoundException"
    assert owner.kms().list_keys()["Keys"] == []
