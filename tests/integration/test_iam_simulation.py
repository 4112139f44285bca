"""IAM's policy simulator (SimulatePrincipalPolicy, SimulateCustomPolicy) through boto3 against ``kmsd serve``.

Every input member (PolicySourceArn of a user, group and role, PolicyInputList,
PermissionsBoundaryPolicyInputList, ActionNames, ResourceArns, ResourcePolicy,
ResourceOwner, CallerArn, ContextEntries of every type, ResourceHandlingOption,
MaxItems/Marker) and every output member (EvalDecision, MatchedStatements with
source ids and positions, MissingContextValues, EvalDecisionDetails,
ResourceSpecificResults, PermissionsBoundaryDecisionDetail, IsTruncated/Marker),
AWS's errors, the authorization of the simulator itself, and the KMS-aware mode:
for a key ARN, the key's real policy and grants decide, as they do live.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.aws_errors import error_from
from tests.helpers.clients import client, unique, user_with_key
from tests.integration.server import KmsdServer

ACCOUNT = "000000000000"
OTHER = "210987654321"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def deny(actions: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": actions, "Resource": resource, **extra}


@pytest.fixture
def iam(server: KmsdServer, root_credentials: tuple[str, str]) -> Any:
    return client(server, "iam", root_credentials)


def decisions(response: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in response["EvaluationResults"]]


def test_custom_policy_decisions_statements_and_positions(iam: Any) -> None:
    compact = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}'  # noqa: E501
    response = iam.simulate_custom_policy(
        PolicyInputList=[compact], ActionNames=["s3:GetObject", "s3:DeleteObject", "s3:PutObject"]
    )
    assert decisions(response) == [
        ("s3:GetObject", "*", "allowed"),
        ("s3:DeleteObject", "*", "explicitDeny"),
        ("s3:PutObject", "*", "implicitDeny"),
    ]
    allowed, denied, implicit = response["EvaluationResults"]
    # AWS's positions: from just after the "[" (or ",") before a statement to just after its "}".
    assert allowed["MatchedStatements"] == [
        {
            "SourcePolicyId": "PolicyInputList.1",
            "SourcePolicyType": "IAM Policy",
            "StartPosition": {"Line": 1, "Column": 38},
            "EndPosition": {"Line": 1, "Column": 95},
        }
    ]
    assert denied["MatchedStatements"][0]["StartPosition"] == {"Line": 1, "Column": 96}
    assert implicit["MatchedStatements"] == []
    assert implicit["MissingContextValues"] == []
    # Without ResourceArns there is no per-resource detail, and no EvalDecisionDetails for "*".
    assert "ResourceSpecificResults" not in allowed and "EvalDecisionDetails" not in allowed
    assert response["IsTruncated"] is False


def test_pretty_printed_positions_match_aws_for_administrator_access(iam: Any) -> None:
    document = '{\n  "Version": "2012-10-17",\n  "Statement": [\n    {\n      "Effect": "Allow",\n      "Action": "*",\n      "Resource": "*"\n    }\n  ]\n}'  # noqa: E501
    result = iam.simulate_custom_policy(PolicyInputList=[document], ActionNames=["iam:ListUsers"])
    (statement,) = result["EvaluationResults"][0]["MatchedStatements"]
    # AWS's answer for AdministratorAccess: line 3, column 17 to line 8, column 6.
    assert (statement["StartPosition"], statement["EndPosition"]) == (
        {"Line": 3, "Column": 17},
        {"Line": 8, "Column": 6},
    )


def test_principal_policy_of_user_group_and_role(iam: Any) -> None:
    user = unique("sim-user")
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="own", PolicyDocument=policy(allow("s3:GetObject")))
    group = unique("sim-group")
    iam.create_group(GroupName=group)
    iam.put_group_policy(GroupName=group, PolicyName="team", PolicyDocument=policy(allow("s3:ListBucket")))
    iam.add_user_to_group(GroupName=group, UserName=user)
    role = unique("sim-role")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    iam.attach_role_policy(RoleName=role, PolicyArn=ADMIN)
    actions = ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]

    by_user = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/{user}", ActionNames=actions)
    assert [r["EvalDecision"] for r in by_user["EvaluationResults"]] == ["allowed", "allowed", "implicitDeny"]
    sources = [r["MatchedStatements"][0]["SourcePolicyId"] for r in by_user["EvaluationResults"][:2]]
    # Inline policies are named <kind>_<entity>_<policy>, as AWS's simulator names them.
    assert sources == [f"user_{user}_own", f"group_{group}_team"]

    by_group = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:group/{group}", ActionNames=actions
    )
    assert [r["EvalDecision"] for r in by_group["EvaluationResults"]] == ["implicitDeny", "allowed", "implicitDeny"]

    by_role = iam.simulate_principal_policy(PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", ActionNames=actions)
    assert {r["EvalDecision"] for r in by_role["EvaluationResults"]} == {"allowed"}
    # A managed policy is named by its name.
    assert by_role["EvaluationResults"][0]["MatchedStatements"][0]["SourcePolicyId"] == "AdministratorAccess"

    # PolicyInputList adds to the entity's own policies.
    added = iam.simulate_principal_policy(
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:group/{group}",
        ActionNames=["s3:GetObject"],
        PolicyInputList=[policy(deny("s3:*")), policy(allow("s3:GetObject"))],
    )
    (result,) = added["EvaluationResults"]
    assert result["EvalDecision"] == "explicitDeny"
    assert [s["SourcePolicyId"] for s in result["MatchedStatements"]] == ["PolicyInputList.1"]


def test_resource_arns_give_resource_specific_results_and_details(iam: Any) -> None:
    bucket = "arn:aws:s3:::sim-bucket/*"
    response = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:GetObject", bucket))],
        ActionNames=["s3:GetObject"],
        ResourceArns=[bucket, "arn:aws:s3:::other/*"],
    )
    first, second = response["EvaluationResults"]
    assert (first["EvalDecision"], second["EvalDecision"]) == ("allowed", "implicitDeny")
    assert first["ResourceSpecificResults"] == [
        {
            "EvalResourceName": bucket,
            "EvalResourceDecision": "allowed",
            "MatchedStatements": first["MatchedStatements"],
            "MissingContextValues": [],
            "EvalDecisionDetails": {},
        }
    ]
    # Within one account a resource ARN gives an empty EvalDecisionDetails (AWS fills it across accounts).
    assert first["EvalDecisionDetails"] == {}


def test_resource_policy_caller_and_cross_account_owner(iam: Any) -> None:
    user = unique("sim-caller")
    iam.create_user(UserName=user)
    caller = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    bucket = "arn:aws:s3:::shared-bucket"
    resource_policy = policy(
        {"Sid": "Share", "Effect": "Allow", "Principal": {"AWS": caller}, "Action": "s3:ListBucket", "Resource": bucket}
    )
    same = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:PutObject"))],
        ActionNames=["s3:ListBucket"],
        ResourceArns=[bucket],
        ResourcePolicy=resource_policy,
        CallerArn=caller,
    )
    (result,) = same["EvaluationResults"]
    # Same account: a resource policy naming the caller is enough.
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][0]["SourcePolicyId"] == "ResourcePolicy"
    assert result["MatchedStatements"][0]["SourcePolicyType"] == "Resource Policy"

    # The bucket ARN names no account: ResourceOwner puts it in another one, and the caller's own account
    # must then allow it too.
    cross = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:PutObject"))],
        ActionNames=["s3:ListBucket"],
        ResourceArns=[bucket],
        ResourcePolicy=resource_policy,
        CallerArn=caller,
        ResourceOwner=f"arn:aws:iam::{OTHER}:root",
    )
    (result,) = cross["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"
    assert result["EvalDecisionDetails"] == {"IAM Policy": "implicitDeny", "Resource Policy": "allowed"}

    both = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:ListBucket"))],
        ActionNames=["s3:ListBucket"],
        ResourceArns=[bucket],
        ResourcePolicy=resource_policy,
        CallerArn=caller,
        ResourceOwner=f"arn:aws:iam::{OTHER}:root",
    )
    assert both["EvaluationResults"][0]["EvalDecision"] == "allowed"
    assert both["EvaluationResults"][0]["EvalDecisionDetails"] == {
        "IAM Policy": "allowed",
        "Resource Policy": "allowed",
    }


def test_permissions_boundary_limits_and_is_reported(iam: Any) -> None:
    boundary = policy(allow("s3:GetObject"))
    response = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("s3:*"))],
        PermissionsBoundaryPolicyInputList=[boundary],
        ActionNames=["s3:GetObject", "s3:PutObject"],
    )
    inside, outside = response["EvaluationResults"]
    assert (inside["EvalDecision"], outside["EvalDecision"]) == ("allowed", "implicitDeny")
    assert inside["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": True}
    assert outside["PermissionsBoundaryDecisionDetail"] == {"AllowedByPermissionsBoundary": False}

    # A user's stored boundary counts in SimulatePrincipalPolicy unless the request gives one.
    arn = iam.create_policy(PolicyName=unique("sim-boundary"), PolicyDocument=boundary)["Policy"]["Arn"]
    user = unique("sim-bounded")
    iam.create_user(UserName=user, PermissionsBoundary=arn)
    iam.put_user_policy(UserName=user, PolicyName="all", PolicyDocument=policy(allow("s3:*")))
    source = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    stored = iam.simulate_principal_policy(PolicySourceArn=source, ActionNames=["s3:GetObject", "s3:PutObject"])
    assert [r["EvalDecision"] for r in stored["EvaluationResults"]] == ["allowed", "implicitDeny"]
    replaced = iam.simulate_principal_policy(
        PolicySourceArn=source,
        ActionNames=["s3:GetObject", "s3:PutObject"],
        PermissionsBoundaryPolicyInputList=[policy(allow("s3:PutObject"))],
    )
    assert [r["EvalDecision"] for r in replaced["EvaluationResults"]] == ["implicitDeny", "allowed"]


CONTEXT_CASES = [
    ("string", ["prod"], "StringEquals", "prod"),
    ("stringList", ["a", "prod"], "ForAnyValue:StringEquals", "prod"),
    ("numeric", ["7"], "NumericLessThan", "10"),
    ("numericList", ["20", "7"], "ForAnyValue:NumericLessThan", "10"),
    ("boolean", ["true"], "Bool", "true"),
    ("booleanList", ["false", "true"], "ForAnyValue:Bool", "true"),
    ("ip", ["10.1.2.3"], "IpAddress", "10.0.0.0/8"),
    ("ipList", ["192.0.2.1", "10.1.2.3"], "ForAnyValue:IpAddress", "10.0.0.0/8"),
    ("binary", ["cHJvZA=="], "BinaryEquals", "cHJvZA=="),
    ("binaryList", ["eA==", "cHJvZA=="], "ForAnyValue:BinaryEquals", "cHJvZA=="),
    ("date", ["2020-01-01T00:00:00Z"], "DateLessThan", "2021-01-01T00:00:00Z"),
    ("dateList", ["2030-01-01T00:00:00Z", "2020-01-01T00:00:00Z"], "ForAnyValue:DateLessThan", "2021-01-01T00:00:00Z"),
]


@pytest.mark.parametrize(("kind", "values", "operator", "expected"), CONTEXT_CASES, ids=[c[0] for c in CONTEXT_CASES])
def test_context_entries_of_every_type(iam: Any, kind: str, values: list[str], operator: str, expected: str) -> None:
    document = policy(allow("s3:GetObject", Condition={operator: {"test:key": expected}}))
    entry = {"ContextKeyName": "test:key", "ContextKeyValues": values, "ContextKeyType": kind}
    with_key = iam.simulate_custom_policy(
        PolicyInputList=[document], ActionNames=["s3:GetObject"], ContextEntries=[entry]
    )
    assert with_key["EvaluationResults"][0]["EvalDecision"] == "allowed"
    assert with_key["EvaluationResults"][0]["MissingContextValues"] == []
    without = iam.simulate_custom_policy(PolicyInputList=[document], ActionNames=["s3:GetObject"])
    assert without["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"
    # The condition's key was not given: AWS lists it.
    assert without["EvaluationResults"][0]["MissingContextValues"] == ["test:key"]


def test_paging_with_max_items_and_marker(iam: Any) -> None:
    actions = [f"s3:Action{index}" for index in range(5)]
    document = policy(allow("s3:*"))
    first = iam.simulate_custom_policy(PolicyInputList=[document], ActionNames=actions, MaxItems=2)
    assert first["IsTruncated"] is True and len(first["EvaluationResults"]) == 2
    seen = [r["EvalActionName"] for r in first["EvaluationResults"]]
    marker = first["Marker"]
    while marker is not None:
        page = iam.simulate_custom_policy(PolicyInputList=[document], ActionNames=actions, MaxItems=2, Marker=marker)
        seen += [r["EvalActionName"] for r in page["EvaluationResults"]]
        marker = page.get("Marker")
    assert seen == actions
    # botocore's paginator walks the same pages.
    paginator = iam.get_paginator("simulate_custom_policy")
    pages = paginator.paginate(PolicyInputList=[document], ActionNames=actions, PaginationConfig={"PageSize": 2})
    assert [r["EvalActionName"] for page in pages for r in page["EvaluationResults"]] == actions


def test_resource_handling_option_groups_resources(iam: Any) -> None:
    instance = "arn:aws:ec2:us-east-1:000000000000:instance/i-1"
    volume = "arn:aws:ec2:us-east-1:000000000000:volume/v-1"
    response = iam.simulate_custom_policy(
        PolicyInputList=[policy(allow("ec2:RunInstances", instance))],
        ActionNames=["ec2:RunInstances"],
        ResourceArns=[instance, volume],
        ResourceHandlingOption="EC2-VPC-EBS",
    )
    (result,) = response["EvaluationResults"]
    assert result["EvalDecision"] == "implicitDeny"
    assert [(r["EvalResourceName"], r["EvalResourceDecision"]) for r in result["ResourceSpecificResults"]] == [
        (instance, "allowed"),
        (volume, "implicitDeny"),
    ]


def test_errors(iam: Any) -> None:
    assert error_from(
        iam.simulate_principal_policy,
        PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody-{unique('x')}",
        ActionNames=["s3:GetObject"],
    )[0:3:2] == ("NoSuchEntity", 404)
    code, message, status = error_from(
        iam.simulate_principal_policy, PolicySourceArn="arn:aws:s3:::some-bucket", ActionNames=["s3:GetObject"]
    )
    assert (code, status) == ("InvalidInput", 400) and "arn:aws:s3:::some-bucket" in message
    code, message, status = error_from(iam.simulate_custom_policy, PolicyInputList=["{"], ActionNames=["s3:GetObject"])
    assert (code, status) == ("InvalidInput", 400) and message.startswith("PolicyInputList.1:")
    code, _, status = error_from(
        iam.simulate_custom_policy, PolicyInputList=[policy(allow("s3:*"))], ActionNames=["GetObject"]
    )
    assert (code, status) == ("InvalidInput", 400)
    bad_entry = {"ContextKeyName": "test:key", "ContextKeyValues": ["x"], "ContextKeyType": "numeric"}
    code, _, _ = error_from(
        iam.simulate_custom_policy,
        PolicyInputList=[policy(allow("s3:*"))],
        ActionNames=["s3:GetObject"],
        ContextEntries=[bad_entry],
    )
    assert code == "InvalidInput"
    code, _, _ = error_from(
        iam.simulate_custom_policy,
        PolicyInputList=[policy(allow("s3:*"))],
        ActionNames=["s3:GetObject"],
        ResourceOwner="123456789012",
    )
    assert code == "InvalidInput"
    code, _, _ = error_from(
        iam.simulate_custom_policy,
        PolicyInputList=[policy(allow("s3:*"))],
        ActionNames=["s3:GetObject"],
        ResourcePolicy=policy({"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}),
    )
    assert code == "InvalidInput"
    code, _, _ = error_from(
        iam.simulate_custom_policy,
        PolicyInputList=[policy(allow("s3:*"))],
        ActionNames=["s3:GetObject"],
        ResourceHandlingOption="EC2-Classic",
    )
    assert code == "InvalidInput"


def test_simulating_needs_its_own_permission(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    own = client(server, "iam", credentials)
    assert error_from(own.simulate_custom_policy, PolicyInputList=[policy(allow("s3:*"))], ActionNames=["s3:X"]) == (
        "AccessDenied",
        f"User: {arn} is not authorized to perform: iam:SimulateCustomPolicy on resource: * "
        "because no identity-based policy allows the iam:SimulateCustomPolicy action",
        403,
    )
    # iam:SimulatePrincipalPolicy is authorized on the simulated entity.
    iam.put_user_policy(
        UserName=name, PolicyName="self", PolicyDocument=policy(allow("iam:SimulatePrincipalPolicy", arn))
    )
    assert own.simulate_principal_policy(PolicySourceArn=arn, ActionNames=["s3:X"])["EvaluationResults"]
    other = f"arn:aws:iam::{ACCOUNT}:user/{unique('other')}"
    iam.create_user(UserName=other.rsplit("/", 1)[1])
    assert error_from(own.simulate_principal_policy, PolicySourceArn=other, ActionNames=["s3:X"])[0] == "AccessDenied"


def test_kms_aware_mode_uses_the_key_policy_and_grants(server: KmsdServer, iam: Any, kms: Any) -> None:
    user = unique("sim-kms")
    iam.create_user(UserName=user)
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{user}"
    iam.put_user_policy(UserName=user, PolicyName="kms", PolicyDocument=policy(allow("kms:Encrypt")))
    delegating = kms.create_key()["KeyMetadata"]["Arn"]  # the default key policy delegates to the account
    closed = kms.create_key(
        Policy=policy(
            {
                "Sid": "Root",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": ["kms:PutKeyPolicy", "kms:CreateGrant"],
                "Resource": "*",
            }
        )
    )["KeyMetadata"]["Arn"]
    actions = ["kms:Encrypt", "kms:Decrypt"]
    response = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=actions, ResourceArns=[delegating, closed]
    )
    assert decisions(response) == [
        ("kms:Encrypt", delegating, "allowed"),
        ("kms:Encrypt", closed, "implicitDeny"),
        ("kms:Decrypt", delegating, "implicitDeny"),
        ("kms:Decrypt", closed, "implicitDeny"),
    ]
    allowed = response["EvaluationResults"][0]
    # The key policy's delegation and the identity policy both decided.
    assert [s["SourcePolicyId"] for s in allowed["MatchedStatements"]] == ["ResourcePolicy", f"user_{user}_kms"]

    # A grant allows Decrypt on the closed key, under its encryption context constraint.
    kms.create_grant(
        KeyId=closed,
        GranteePrincipal=user_arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"app": "orders"}},
    )
    entry = {"ContextKeyName": "kms:EncryptionContext:app", "ContextKeyValues": ["orders"], "ContextKeyType": "string"}
    granted = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["kms:Decrypt"], ResourceArns=[closed], ContextEntries=[entry]
    )
    (result,) = granted["EvaluationResults"]
    assert result["EvalDecision"] == "allowed"
    assert result["MatchedStatements"][-1]["SourcePolicyId"].startswith("grant/")
    ungranted = iam.simulate_principal_policy(
        PolicySourceArn=user_arn, ActionNames=["kms:Decrypt"], ResourceArns=[closed]
    )
    assert ungranted["EvaluationResults"][0]["EvalDecision"] == "implicitDeny"

    # Giving ResourcePolicy turns the KMS-aware mode off: the given document is the key policy.
    explicit = iam.simulate_principal_policy(
        PolicySourceArn=user_arn,
        ActionNames=["kms:Encrypt"],
        ResourceArns=[closed],
        ResourcePolicy=policy(
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ),
    )
    assert explicit["EvaluationResults"][0]["EvalDecision"] == "allowed"
