"""GetKeyPolicy, PutKeyPolicy and ListKeyPolicies."""

from __future__ import annotations

import json

from .aws_errors import aws_error
from .conftest import ACCOUNT, Kms

NEW_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Only root",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    },
    indent=4,
)


def test_put_then_get_returns_the_same_text(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    assert kms("PutKeyPolicy", KeyId=key_id, Policy=NEW_POLICY) == {}
    assert kms("GetKeyPolicy", KeyId=key_id) == {"Policy": NEW_POLICY, "PolicyName": "default"}
    kms(
        "PutKeyPolicy",
        KeyId=key_id,
        Policy=NEW_POLICY,
        PolicyName="default",
        BypassPolicyLockoutSafetyCheck=True,
    )
    assert kms("GetKeyPolicy", KeyId=key_id, PolicyName="default")["Policy"] == NEW_POLICY


def test_policy_name_other_than_default(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    message = "No such policy exists: custom. The only valid policy name is default."
    with aws_error("NotFoundException", message):
        kms("GetKeyPolicy", KeyId=key_id, PolicyName="custom")
    with aws_error("NotFoundException", message):
        kms("PutKeyPolicy", KeyId=key_id, PolicyName="custom", Policy=NEW_POLICY)


def test_put_key_policy_rejects_malformed_documents_and_keeps_the_old_one(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    before = kms("GetKeyPolicy", KeyId=key_id)["Policy"]
    with aws_error("MalformedPolicyDocumentException"):
        kms("PutKeyPolicy", KeyId=key_id, Policy='{"Version": "2012-10-17"')
    identity_style = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    )
    with aws_error("MalformedPolicyDocumentException"):
        kms("PutKeyPolicy", KeyId=key_id, Policy=identity_style)
    assert kms("GetKeyPolicy", KeyId=key_id)["Policy"] == before


def test_put_key_policy_over_32_kb(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    padding = "x" * 33_000
    oversized = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Pad",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                    "Condition": {"StringEquals": {"kms:EncryptionContext:pad": padding}},
                }
            ],
        }
    )
    with aws_error("LimitExceededException"):
        kms("PutKeyPolicy", KeyId=key_id, Policy=oversized)


def test_key_policy_operations_in_every_key_state(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    kms("ScheduleKeyDeletion", KeyId=key_id)
    kms("PutKeyPolicy", KeyId=key_id, Policy=NEW_POLICY)
    assert kms("GetKeyPolicy", KeyId=key_id)["Policy"] == NEW_POLICY
    assert kms("ListKeyPolicies", KeyId=key_id)["PolicyNames"] == ["default"]


def test_list_key_policies(kms: Kms) -> None:
    key_id = kms.create_key()["KeyId"]
    assert kms("ListKeyPolicies", KeyId=key_id) == {"PolicyNames": ["default"], "Truncated": False}
    assert kms("ListKeyPolicies", KeyId=key_id, Limit=1)["PolicyNames"] == ["default"]
