"""Managed policies through ``IamService.call``: CreatePolicy, versions, DeletePolicy, attachments and the lists.

Each rule is AWS's, from the IAM API Reference page of the operation and
"IAM and AWS STS quotas"; the messages are the ones AWS returns.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

from kmsd.clock import ManualClock
from tests.iam.conftest import ACCOUNT, OTHER_ACCOUNT, Iam, aws_error


def allow(*actions: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    )


def arn_of(name: str, path: str = "/", account_id: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account_id}:policy{path}{name}"


def create(iam: Iam, name: str, document: str | None = None, **params: Any) -> dict[str, Any]:
    policy: dict[str, Any] = iam(
        "CreatePolicy", PolicyName=name, PolicyDocument=document or allow("kms:List*"), **params
    )["Policy"]
    return policy


ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


# --- CreatePolicy / GetPolicy ---------------------------------------------------------------------


def test_create_policy_returns_the_policy_with_version_v1(iam: Iam, clock: ManualClock) -> None:
    policy = create(iam, "KmsReaders", Path="/team/", Description="read keys", Tags=[{"Key": "env", "Value": "dev"}])
    assert policy["Arn"] == arn_of("KmsReaders", "/team/")
    assert policy["PolicyName"] == "KmsReaders"
    assert policy["Path"] == "/team/"
    assert policy["PolicyId"].startswith("ANPA") and len(policy["PolicyId"]) == 21
    assert policy["DefaultVersionId"] == "v1"
    assert (policy["AttachmentCount"], policy["PermissionsBoundaryUsageCount"], policy["IsAttachable"]) == (0, 0, True)
    assert policy["CreateDate"] == policy["UpdateDate"] == clock.now()
    assert policy["Tags"] == [{"Key": "env", "Value": "dev"}]
    # Policy.Description: "included in the response to the GetPolicy operation".
    assert "Description" not in policy


def test_get_policy_adds_description_and_tags(iam: Iam) -> None:
    created = create(iam, "P", Description="read keys", Tags=[{"Key": "env", "Value": "dev"}])
    policy = iam("GetPolicy", PolicyArn=created["Arn"])["Policy"]
    assert policy["Description"] == "read keys"
    assert policy["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert policy["PolicyId"] == created["PolicyId"]


def test_get_policy_leaves_out_an_empty_description_and_no_tags(iam: Iam) -> None:
    policy = iam("GetPolicy", PolicyArn=create(iam, "P")["Arn"])["Policy"]
    assert "Description" not in policy and "Tags" not in policy


def test_policy_names_are_unique_in_the_account_whatever_the_path_or_case(iam: Iam) -> None:
    create(iam, "Readers")
    message = "A policy called readers already exists. Duplicate names are not allowed."
    with aws_error("EntityAlreadyExists", message, 409):
        create(iam, "readers", Path="/other/")


def test_the_same_name_is_fine_in_another_account(iam: Iam) -> None:
    create(iam, "Readers")
    assert create(iam.as_root(OTHER_ACCOUNT), "Readers")["Arn"] == arn_of("Readers", account_id=OTHER_ACCOUNT)


def test_a_malformed_document_is_refused_with_the_engines_reason(iam: Iam) -> None:
    with aws_error("MalformedPolicyDocument", "Syntax errors in policy.", 400):
        create(iam, "P", "{not json")
    principal = (
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}'
    )
    with aws_error("MalformedPolicyDocument", "Has prohibited field Principal", 400):
        create(iam, "P", principal)
    with aws_error("NoSuchEntity"):
        iam("GetPolicy", PolicyArn=arn_of("P"))


def _document_of_size(characters: int) -> str:
    """An identity policy of exactly ``characters`` non-whitespace characters, padded with spaces too."""
    base = allow("kms:DescribeKey")
    sid_room = characters - len(base.replace(" ", "")) - len('"Sid":"",')
    document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Sid": "S" * sid_room, "Effect": "Allow", "Action": ["kms:DescribeKey"], "Resource": "*"}],
        },
        indent=8,
    )
    assert len("".join(document.split())) == characters
    return document


def test_the_managed_policy_size_quota_counts_characters_without_whitespace(iam: Iam) -> None:
    # "IAM and AWS STS quotas": managed policy size 6,144 characters; white space is not counted.
    at_limit = _document_of_size(6144)
    assert len(at_limit) > 6144
    create(iam, "AtLimit", at_limit)
    with aws_error("LimitExceeded", "Cannot exceed quota for PolicySize: 6144", 409):
        create(iam, "OverLimit", _document_of_size(6145))


def test_get_policy_errors(iam: Iam) -> None:
    missing = arn_of("Nope")
    with aws_error("NoSuchEntity", f"Policy {missing} was not found.", 404):
        iam("GetPolicy", PolicyArn=missing)
    with aws_error("InvalidInput", "ARN arn:aws:iam::aws:user/Bob is not valid.", 400):
        iam("GetPolicy", PolicyArn="arn:aws:iam::aws:user/Bob")


# --- versions ---------------------------------------------------------------------------------------


def test_get_policy_version_returns_the_document_url_encoded(iam: Iam) -> None:
    document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}'
    arn = create(iam, "P", document)["Arn"]
    version = iam("GetPolicyVersion", PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert version["VersionId"] == "v1" and version["IsDefaultVersion"] is True
    encoded = version["Document"]
    assert "%22Version%22%3A%20%222012-10-17%22" in encoded
    assert " " not in encoded and '"' not in encoded
    assert unquote(encoded) == document


def test_create_policy_version_keeps_the_default_unless_asked(iam: Iam, clock: ManualClock) -> None:
    arn = create(iam, "P")["Arn"]
    clock.advance(timedelta(minutes=5))
    v2 = iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("kms:Get*"))["PolicyVersion"]
    assert v2 == {"VersionId": "v2", "IsDefaultVersion": False, "CreateDate": clock.now()}
    policy = iam("GetPolicy", PolicyArn=arn)["Policy"]
    assert policy["DefaultVersionId"] == "v1"
    # Policy.UpdateDate: when the most recent policy version was created.
    assert policy["UpdateDate"] == clock.now() != policy["CreateDate"]
    v3 = iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("kms:Get*"), SetAsDefault=True)
    assert v3["PolicyVersion"]["IsDefaultVersion"] is True
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"


def test_a_policy_has_at_most_five_versions_and_ids_are_not_reused(iam: Iam) -> None:
    arn = create(iam, "P")["Arn"]
    for _ in range(4):
        iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("kms:Get*"))
    message = (
        "A managed policy can have up to 5 versions. Before you create a new version, you must delete an "
        "existing version."
    )
    with aws_error("LimitExceeded", message, 409):
        iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("kms:Get*"))
    iam("DeletePolicyVersion", PolicyArn=arn, VersionId="v2")
    created = iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("kms:Get*"))["PolicyVersion"]
    assert created["VersionId"] == "v6"


def test_create_policy_version_validates_the_document(iam: Iam) -> None:
    arn = create(iam, "P")["Arn"]
    with aws_error("MalformedPolicyDocument", "Syntax errors in policy.", 400):
        iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument="[]")
    with aws_error("LimitExceeded", "Cannot exceed quota for PolicySize: 6144", 409):
        iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=_document_of_size(6145))
    missing = arn_of("Nope")
    with aws_error("NoSuchEntity", f"Policy {missing} was not found.", 404):
        iam("CreatePolicyVersion", PolicyArn=missing, PolicyDocument=allow("kms:Get*"))


def test_list_policy_versions_newest_first_without_documents_and_paged(iam: Iam) -> None:
    arn = create(iam, "P")["Arn"]
    iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("kms:Get*"))
    iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("kms:List*"), SetAsDefault=True)
    listed = iam("ListPolicyVersions", PolicyArn=arn)
    assert [v["VersionId"] for v in listed["Versions"]] == ["v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in listed["Versions"]] == [True, False, False]
    assert all("Document" not in v for v in listed["Versions"])
    assert listed["IsTruncated"] is False and "Marker" not in listed
    first = iam("ListPolicyVersions", PolicyArn=arn, MaxItems=2)
    assert [v["VersionId"] for v in first["Versions"]] == ["v3", "v2"] and first["IsTruncated"] is True
    rest = iam("ListPolicyVersions", PolicyArn=arn, MaxItems=2, Marker=first["Marker"])
    assert [v["VersionId"] for v in rest["Versions"]] == ["v1"] and rest["IsTruncated"] is False


def test_version_errors(iam: Iam) -> None:
    arn = create(iam, "P")["Arn"]
    missing = f"Policy {arn} version v9 does not exist or is not attachable."
    with aws_error("NoSuchEntity", missing, 404):
        iam("GetPolicyVersion", PolicyArn=arn, VersionId="v9")
    with aws_error("NoSuchEntity", missing, 404):
        iam("DeletePolicyVersion", PolicyArn=arn, VersionId="v9")
    with aws_error("NoSuchEntity", missing, 404):
        iam("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v9")
    # DeletePolicyVersion: the default version cannot be deleted this way.
    with aws_error("DeleteConflict", "Cannot delete the default version of a policy.", 409):
        iam("DeletePolicyVersion", PolicyArn=arn, VersionId="v1")


def test_set_default_policy_version_switches_the_document_in_force(iam: Iam) -> None:
    arn = create(iam, "P", allow("kms:List*"))["Arn"]
    iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("kms:Get*"))
    iam("SetDefaultPolicyVersion", PolicyArn=arn, VersionId="v2")
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    assert iam("GetPolicyVersion", PolicyArn=arn, VersionId="v1")["PolicyVersion"]["IsDefaultVersion"] is False
    iam("DeletePolicyVersion", PolicyArn=arn, VersionId="v1")
    assert [v["VersionId"] for v in iam("ListPolicyVersions", PolicyArn=arn)["Versions"]] == ["v2"]


def test_aws_managed_policies_cannot_be_changed_even_by_root(iam: Iam) -> None:
    denied = f"User: arn:aws:iam::{ACCOUNT}:root is not authorized to perform: iam:CreatePolicyVersion"
    with aws_error("AccessDenied", f"{denied} on resource: policy {ADMIN}", 403):
        iam("CreatePolicyVersion", PolicyArn=ADMIN, PolicyDocument=allow("kms:Get*"))
    for operation, params in (
        ("DeletePolicy", {}),
        ("DeletePolicyVersion", {"VersionId": "v1"}),
        ("SetDefaultPolicyVersion", {"VersionId": "v1"}),
    ):
        with aws_error("AccessDenied", status=403):
            iam(operation, PolicyArn=ADMIN, **params)
    assert iam("GetPolicy", PolicyArn=ADMIN)["Policy"]["DefaultVersionId"] == "v1"


# --- DeletePolicy -----------------------------------------------------------------------------------


def test_delete_policy(iam: Iam) -> None:
    arn = create(iam, "P")["Arn"]
    iam("DeletePolicy", PolicyArn=arn)
    with aws_error("NoSuchEntity", f"Policy {arn} was not found.", 404):
        iam("GetPolicy", PolicyArn=arn)
    with aws_error("NoSuchEntity", f"Policy {arn} was not found.", 404):
        iam("DeletePolicy", PolicyArn=arn)
    assert create(iam, "P")["Arn"] == arn  # the name is free again


def test_delete_policy_refuses_while_other_versions_exist(iam: Iam) -> None:
    arn = create(iam, "P")["Arn"]
    iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=allow("kms:Get*"))
    message = (
        "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. "
        "The default version is deleted with the policy."
    )
    with aws_error("DeleteConflict", message, 409):
        iam("DeletePolicy", PolicyArn=arn)
    iam("DeletePolicyVersion", PolicyArn=arn, VersionId="v2")
    iam("DeletePolicy", PolicyArn=arn)


def test_delete_policy_refuses_while_attached_or_used_as_a_boundary(iam: Iam) -> None:
    arn = create(iam, "P")["Arn"]
    iam.create_user("alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=arn)
    with aws_error("DeleteConflict", "Cannot delete a policy attached to entities.", 409):
        iam("DeletePolicy", PolicyArn=arn)
    iam("DetachUserPolicy", UserName="alice", PolicyArn=arn)
    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=arn)
    with aws_error("DeleteConflict", "Cannot delete a policy attached to entities.", 409):
        iam("DeletePolicy", PolicyArn=arn)
    iam("DeleteUserPermissionsBoundary", UserName="alice")
    iam("DeletePolicy", PolicyArn=arn)


# --- ListPolicies ------------------------------------------------------------------------------------


def _names(result: dict[str, Any]) -> list[str]:
    return [policy["PolicyName"] for policy in result["Policies"]]


def test_list_policies_by_scope(iam: Iam) -> None:
    create(iam, "Zeta")
    create(iam, "alpha")
    local = iam("ListPolicies", Scope="Local")
    assert _names(local) == ["alpha", "Zeta"]
    aws_names = _names(iam("ListPolicies", Scope="AWS"))
    assert "AdministratorAccess" in aws_names and "AWSKeyManagementServicePowerUser" in aws_names
    assert "alpha" not in aws_names
    everything = _names(iam("ListPolicies"))
    assert set(everything) == set(aws_names) | {"alpha", "Zeta"}
    assert everything == sorted(everything, key=str.lower)
    # Policy.Description and Tags are not in ListPolicies' answer.
    assert all("Description" not in policy and "Tags" not in policy for policy in local["Policies"])


def test_list_policies_does_not_show_another_accounts_policies(iam: Iam) -> None:
    create(iam.as_root(OTHER_ACCOUNT), "Theirs")
    assert "Theirs" not in _names(iam("ListPolicies"))


def test_list_policies_only_attached_and_usage_filters(iam: Iam) -> None:
    attached = create(iam, "Attached")["Arn"]
    bounding = create(iam, "Bounding")["Arn"]
    create(iam, "Idle")
    iam.create_user("alice")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=attached)
    iam("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=bounding)
    assert _names(iam("ListPolicies", OnlyAttached=True)) == ["AdministratorAccess", "Attached"]
    assert _names(iam("ListPolicies", Scope="Local", OnlyAttached=True)) == ["Attached"]
    assert _names(iam("ListPolicies", Scope="Local", PolicyUsageFilter="PermissionsPolicy")) == ["Attached"]
    assert _names(iam("ListPolicies", PolicyUsageFilter="PermissionsBoundary")) == ["Bounding"]
    counts = {p["PolicyName"]: p for p in iam("ListPolicies", Scope="Local")["Policies"]}
    assert counts["Attached"]["AttachmentCount"] == 1 and counts["Bounding"]["PermissionsBoundaryUsageCount"] == 1


def test_list_policies_path_prefix_and_paging(iam: Iam) -> None:
    for name in ("a", "b", "c", "d"):
        create(iam, name, Path="/team/")
    create(iam, "e", Path="/other/")
    assert _names(iam("ListPolicies", PathPrefix="/team/")) == ["a", "b", "c", "d"]
    seen: list[str] = []
    params: dict[str, Any] = {"Scope": "Local", "PathPrefix": "/team/", "MaxItems": 3}
    while True:
        page = iam("ListPolicies", **params)
        seen += _names(page)
        if not page["IsTruncated"]:
            break
        params["Marker"] = page["Marker"]
    assert seen == ["a", "b", "c", "d"]


def test_list_policies_refuses_a_made_up_marker(iam: Iam) -> None:
    with aws_error("ValidationError", "Invalid Marker.", 400):
        iam("ListPolicies", Marker="bm90IGEgbWFya2Vy")


# --- attachments ---------------------------------------------------------------------------------------


def _attached(iam: Iam, kind: str, name: str, **params: Any) -> list[str]:
    result = iam(f"ListAttached{kind}Policies", **{f"{kind}Name": name}, **params)
    return [item["PolicyArn"] for item in result["AttachedPolicies"]]


def _make_entities(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_group("devs")
    iam.create_role("deployer")


ENTITIES = (("User", "alice"), ("Group", "devs"), ("Role", "deployer"))


def test_attach_list_and_detach_for_users_groups_and_roles(iam: Iam) -> None:
    _make_entities(iam)
    arn = create(iam, "P")["Arn"]
    for kind, name in ENTITIES:
        iam(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)
        iam(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)  # idempotent
        assert _attached(iam, kind, name) == [arn]
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    for kind, name in ENTITIES:
        iam(f"Detach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)
        assert _attached(iam, kind, name) == []
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["AttachmentCount"] == 0


def test_list_attached_policies_names_them_and_filters_by_policy_path(iam: Iam) -> None:
    iam.create_user("alice")
    team = create(iam, "TeamPolicy", Path="/team/")["Arn"]
    iam("AttachUserPolicy", UserName="alice", PolicyArn=team)
    iam("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    result = iam("ListAttachedUserPolicies", UserName="alice")
    assert result["AttachedPolicies"] == [
        {"PolicyName": "AdministratorAccess", "PolicyArn": ADMIN},
        {"PolicyName": "TeamPolicy", "PolicyArn": team},
    ]
    assert _attached(iam, "User", "alice", PathPrefix="/team/") == [team]
    first = iam("ListAttachedUserPolicies", UserName="alice", MaxItems=1)
    assert first["IsTruncated"] is True
    second = iam("ListAttachedUserPolicies", UserName="alice", MaxItems=1, Marker=first["Marker"])
    assert [item["PolicyArn"] for item in second["AttachedPolicies"]] == [team]


def test_attach_errors(iam: Iam) -> None:
    _make_entities(iam)
    arn = create(iam, "P")["Arn"]
    for kind, name in ENTITIES:
        with aws_error("NoSuchEntity", f"The {kind.lower()} with name nobody cannot be found.", 404):
            iam(f"Attach{kind}Policy", **{f"{kind}Name": "nobody"}, PolicyArn=arn)
        missing = arn_of("Nope")
        with aws_error("NoSuchEntity", f"Policy {missing} does not exist or is not attachable.", 404):
            iam(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=missing)
        with aws_error("InvalidInput", "ARN not-an-arn-at-all-really is not valid.", 400):
            iam(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn="not-an-arn-at-all-really")
    theirs = create(iam.as_root(OTHER_ACCOUNT), "Theirs")["Arn"]
    with aws_error("NoSuchEntity", f"Policy {theirs} does not exist or is not attachable.", 404):
        iam("AttachUserPolicy", UserName="alice", PolicyArn=theirs)


def test_service_linked_role_policies_cannot_be_attached(iam: Iam) -> None:
    _make_entities(iam)
    arn = "arn:aws:iam::aws:policy/aws-service-role/AWSKeyManagementServiceMultiRegionKeysServiceRolePolicy"
    assert iam("GetPolicy", PolicyArn=arn)["Policy"]["IsAttachable"] is True
    with aws_error("PolicyNotAttachable", "Cannot attach a Service Role Policy to a Customer Role.", 400):
        iam("AttachRolePolicy", RoleName="deployer", PolicyArn=arn)
    with aws_error("PolicyNotAttachable", "Cannot attach a Service Role Policy to a User.", 400):
        iam("AttachUserPolicy", UserName="alice", PolicyArn=arn)


def test_at_most_ten_managed_policies_per_entity(iam: Iam) -> None:
    # "IAM and AWS STS quotas": managed policies attached to an IAM user / group / role: 10.
    _make_entities(iam)
    arns = [create(iam, f"P{i}")["Arn"] for i in range(11)]
    for kind, name in ENTITIES:
        for arn in arns[:10]:
            iam(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)
        iam(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arns[0])  # already attached: fine
        with aws_error("LimitExceeded", f"Cannot exceed quota for PoliciesPer{kind}: 10", 409):
            iam(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arns[10])


def test_detach_errors(iam: Iam) -> None:
    _make_entities(iam)
    arn = create(iam, "P")["Arn"]
    for kind, name in ENTITIES:
        with aws_error("NoSuchEntity", f"Policy {arn} was not found.", 404):
            iam(f"Detach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)
        with aws_error("NoSuchEntity", f"The {kind.lower()} with name nobody cannot be found.", 404):
            iam(f"Detach{kind}Policy", **{f"{kind}Name": "nobody"}, PolicyArn=arn)
    with aws_error("NoSuchEntity", "The user with name nobody cannot be found.", 404):
        iam("ListAttachedUserPolicies", UserName="nobody")


# --- ListEntitiesForPolicy ------------------------------------------------------------------------------


def test_list_entities_for_policy(iam: Iam) -> None:
    _make_entities(iam)
    iam.create_user("bob", Path="/ops/")
    arn = create(iam, "P")["Arn"]
    for kind, name in (*ENTITIES, ("User", "bob")):
        iam(f"Attach{kind}Policy", **{f"{kind}Name": name}, PolicyArn=arn)
    result = iam("ListEntitiesForPolicy", PolicyArn=arn)
    users = {u["UserName"]: u["UserId"] for u in result["PolicyUsers"]}
    assert sorted(users) == ["alice", "bob"] and all(uid.startswith("AIDA") for uid in users.values())
    assert [g["GroupName"] for g in result["PolicyGroups"]] == ["devs"]
    assert [r["RoleName"] for r in result["PolicyRoles"]] == ["deployer"]
    assert result["IsTruncated"] is False
    only_roles = iam("ListEntitiesForPolicy", PolicyArn=arn, EntityFilter="Role")
    assert (only_roles["PolicyUsers"], only_roles["PolicyGroups"]) == ([], [])
    assert [r["RoleName"] for r in only_roles["PolicyRoles"]] == ["deployer"]
    ops = iam("ListEntitiesForPolicy", PolicyArn=arn, PathPrefix="/ops/")
    assert [u["UserName"] for u in ops["PolicyUsers"]] == ["bob"] and ops["PolicyRoles"] == []
    seen: list[str] = []
    params: dict[str, Any] = {"PolicyArn": arn, "MaxItems": 3}
    while True:
        page = iam("ListEntitiesForPolicy", **params)
        seen += [e["GroupName"] for e in page["PolicyGroups"]]
        seen += [e["RoleName"] for e in page["PolicyRoles"]] + [e["UserName"] for e in page["PolicyUsers"]]
        if not page["IsTruncated"]:
            break
        params["Marker"] = page["Marker"]
    assert sorted(seen) == ["alice", "bob", "deployer", "devs"]


def test_list_entities_for_policy_usage_filter(iam: Iam) -> None:
    _make_entities(iam)
    arn = create(iam, "P")["Arn"]
    iam("AttachGroupPolicy", GroupName="devs", PolicyArn=arn)
    iam("PutRolePermissionsBoundary", RoleName="deployer", PermissionsBoundary=arn)
    as_policy = iam("ListEntitiesForPolicy", PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy")
    assert [g["GroupName"] for g in as_policy["PolicyGroups"]] == ["devs"] and as_policy["PolicyRoles"] == []
    as_boundary = iam("ListEntitiesForPolicy", PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [r["RoleName"] for r in as_boundary["PolicyRoles"]] == ["deployer"] and as_boundary["PolicyGroups"] == []
    both = iam("ListEntitiesForPolicy", PolicyArn=arn)
    assert len(both["PolicyGroups"]) == len(both["PolicyRoles"]) == 1


def test_list_entities_for_an_aws_managed_policy_shows_only_this_account(iam: Iam) -> None:
    iam.create_user("alice")
    other = iam.as_root(OTHER_ACCOUNT)
    other.create_user("zed")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=ADMIN)
    other("AttachUserPolicy", UserName="zed", PolicyArn=ADMIN)
    assert [u["UserName"] for u in iam("ListEntitiesForPolicy", PolicyArn=ADMIN)["PolicyUsers"]] == ["alice"]
    assert [u["UserName"] for u in other("ListEntitiesForPolicy", PolicyArn=ADMIN)["PolicyUsers"]] == ["zed"]
    missing = arn_of("Nope")
    with aws_error("NoSuchEntity", f"Policy {missing} was not found.", 404):
        iam("ListEntitiesForPolicy", PolicyArn=missing)
