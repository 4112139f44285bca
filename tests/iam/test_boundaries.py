"""Permissions boundaries through ``IamService.call``: Put/Delete{User,Role}PermissionsBoundary.

A boundary is a managed policy of the account or an AWS managed policy;
GetUser / GetRole show it as ``PermissionsBoundary`` ({PermissionsBoundaryType:
PermissionsBoundaryPolicy, PermissionsBoundaryArn}) and GetPolicy counts it
in ``PermissionsBoundaryUsageCount``.
"""

from __future__ import annotations

import json

import pytest

from kmsd.iam.boundaries import boundary_shape
from tests.iam.conftest import ACCOUNT, OTHER_ACCOUNT, Iam, aws_error

POWER_USER = "arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser"
KINDS = (("User", "alice"), ("Role", "deployer"))


def _policy(iam: Iam, name: str = "Boundary") -> str:
    document = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    )
    arn: str = iam("CreatePolicy", PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
    return arn


def _entities(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_role("deployer")


def _shown(iam: Iam, kind: str, name: str) -> object:
    return iam(f"Get{kind}", **{f"{kind}Name": name})[kind].get("PermissionsBoundary")


def test_boundary_shape() -> None:
    assert boundary_shape(None) is None
    assert boundary_shape(POWER_USER) == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": POWER_USER,
    }


@pytest.mark.parametrize(("kind", "name"), KINDS)
def test_put_show_replace_and_delete(iam: Iam, kind: str, name: str) -> None:
    _entities(iam)
    own = _policy(iam)
    assert _shown(iam, kind, name) is None
    iam(f"Put{kind}PermissionsBoundary", **{f"{kind}Name": name}, PermissionsBoundary=own)
    assert _shown(iam, kind, name) == boundary_shape(own)
    assert iam("GetPolicy", PolicyArn=own)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    assert iam("GetPolicy", PolicyArn=own)["Policy"]["AttachmentCount"] == 0
    iam(f"Put{kind}PermissionsBoundary", **{f"{kind}Name": name}, PermissionsBoundary=POWER_USER)
    assert _shown(iam, kind, name) == boundary_shape(POWER_USER)
    assert iam("GetPolicy", PolicyArn=own)["Policy"]["PermissionsBoundaryUsageCount"] == 0
    assert iam("GetPolicy", PolicyArn=POWER_USER)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    iam(f"Delete{kind}PermissionsBoundary", **{f"{kind}Name": name})
    assert _shown(iam, kind, name) is None


@pytest.mark.parametrize(("kind", "name"), KINDS)
def test_errors(iam: Iam, kind: str, name: str) -> None:
    _entities(iam)
    own = _policy(iam)
    with aws_error("NoSuchEntity", f"The {kind.lower()} with name nobody cannot be found.", 404):
        iam(f"Put{kind}PermissionsBoundary", **{f"{kind}Name": "nobody"}, PermissionsBoundary=own)
    with aws_error("NoSuchEntity", f"The {kind.lower()} with name nobody cannot be found.", 404):
        iam(f"Delete{kind}PermissionsBoundary", **{f"{kind}Name": "nobody"})
    missing = f"arn:aws:iam::{ACCOUNT}:policy/Nope"
    with aws_error("NoSuchEntity", f"Scope ARN: {missing} does not exist or is not attachable.", 404):
        iam(f"Put{kind}PermissionsBoundary", **{f"{kind}Name": name}, PermissionsBoundary=missing)
    theirs = _policy(iam.as_root(OTHER_ACCOUNT), "Theirs")
    with aws_error("NoSuchEntity", f"Scope ARN: {theirs} does not exist or is not attachable.", 404):
        iam(f"Put{kind}PermissionsBoundary", **{f"{kind}Name": name}, PermissionsBoundary=theirs)
    with aws_error("InvalidInput", "ARN arn:aws:iam::aws:role/NotAPolicy is not valid.", 400):
        iam(
            f"Put{kind}PermissionsBoundary",
            **{f"{kind}Name": name},
            PermissionsBoundary="arn:aws:iam::aws:role/NotAPolicy",
        )
    service_role = "arn:aws:iam::aws:policy/aws-service-role/AWSKeyManagementServiceCustomKeyStoresServiceRolePolicy"
    with aws_error("PolicyNotAttachable", status=400):
        iam(f"Put{kind}PermissionsBoundary", **{f"{kind}Name": name}, PermissionsBoundary=service_role)
    assert _shown(iam, kind, name) is None


def test_an_aws_managed_boundary_shows_in_get_user_and_list_entities(iam: Iam) -> None:
    _entities(iam)
    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=POWER_USER)
    assert iam("GetUser", UserName="alice")["User"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == POWER_USER
    assert iam("ListEntitiesForPolicy", PolicyArn=POWER_USER)["PolicyUsers"][0]["UserName"] == "alice"
