"""Policy documents for the wire tests, as JSON text or statement dictionaries."""

from __future__ import annotations

import json
from typing import Any


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(*actions: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource, **extra}


def trust(principal: str, *actions: str, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": list(actions or ["sts:AssumeRole"]), **extra}


def root_statement(account_id: str) -> dict[str, Any]:
    return {
        "Sid": "Enable IAM User Permissions",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }


# The founding document's "Allow a User Read-Only Access to All CMKs through the AWS KMS Console", verbatim.
READ_ONLY_CONSOLE_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Action": [
            "kms:ListKeys",
            "kms:ListAliases",
            "kms:DescribeKey",
            "kms:ListKeyPolicies",
            "kms:GetKeyPolicy",
            "kms:GetKeyRotationStatus",
            "iam:ListUsers",
            "iam:ListRoles",
        ],
        "Resource": "*",
    },
}
