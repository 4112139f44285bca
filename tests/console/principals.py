"""The principals the console tests sign in as, made through boto3 by the account's root user on a real server.

``read_only`` holds exactly the founding document's read-only console policy
(/work/shared/reference/iam-policies-with-kms.md, "Allow a User Read-Only Access to All CMKs through the AWS KMS
Console"); ``power_user`` has the AWS managed AWSKeyManagementServicePowerUser attached; ``kms_reader`` has only
that policy's KMS read actions, so the wizard's pickers (iam:ListUsers, iam:ListRoles) are denied to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tests.helpers.documents import READ_ONLY_CONSOLE_POLICY
from tests.integration.server import KmsdServer

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"

# The founding document's read-only console policy without iam:ListUsers and iam:ListRoles: its KMS actions only.
KMS_READ_ACTIONS = tuple(
    action for action in READ_ONLY_CONSOLE_POLICY["Statement"]["Action"] if action.startswith("kms:")
)
KMS_READER_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Action": list(KMS_READ_ACTIONS), "Resource": "*"},
}

POWER_USER_POLICY_ARN = "arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser"


@dataclass(frozen=True)
class Principal:
    """An IAM user with an access key: what the sign-in form takes, and the ARN the console shows for it."""

    user_name: str
    arn: str
    access_key_id: str
    secret_access_key: str = field(repr=False)


@dataclass(frozen=True)
class Principals:
    root: Principal
    read_only: Principal
    power_user: Principal
    kms_reader: Principal
    # A user with no policy at all: somebody for the wizard to name as key user.
    plain: Principal


def make_user(iam: Any, name: str, *, inline: dict[str, Any] | None = None, managed: tuple[str, ...] = ()) -> Principal:
    """A new IAM user ``name`` with an access key, ``inline`` as its one inline policy and ``managed`` attached."""
    arn = str(iam.create_user(UserName=name)["User"]["Arn"])
    if inline is not None:
        iam.put_user_policy(UserName=name, PolicyName="console", PolicyDocument=json.dumps(inline))
    for policy_arn in managed:
        iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Principal(name, arn, str(key["AccessKeyId"]), str(key["SecretAccessKey"]))


def make_principals(server: KmsdServer) -> Principals:
    access_key, secret_key = server.default_credentials()
    sts = server.client("sts", access_key=access_key, secret_key=secret_key, region=REGION)
    root = Principal("root", str(sts.get_caller_identity()["Arn"]), access_key, secret_key)
    iam = server.client("iam", access_key=access_key, secret_key=secret_key, region=REGION)
    return Principals(
        root=root,
        read_only=make_user(iam, "console-read-only", inline=READ_ONLY_CONSOLE_POLICY),
        power_user=make_user(iam, "console-power-user", managed=(POWER_USER_POLICY_ARN,)),
        kms_reader=make_user(iam, "console-kms-reader", inline=KMS_READER_POLICY),
        plain=make_user(iam, "console-key-user"),
    )
