"""AWS managed policies: present in every account with AWS's documents, version ids, dates and policy ids.

The data is ``src/kmsd/iam/aws_managed_policies`` (``index.json`` names each
version's document and its source); these tests check that the service shows
exactly that data, that every document is a valid identity policy, and that
the policies are attachable in any account.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.iam.aws_managed import SEEDED_SETTING, AwsManagedPolicy, aws_managed_policies, ensure_aws_managed_policies
from kmsd.iam.context import IamContext
from kmsd.iam.service import IamService
from kmsd.policy import PolicyKind, parse_policy
from kmsd.store.sqlite import SqliteStore
from tests.iam.conftest import ACCOUNT, OTHER_ACCOUNT, Iam, aws_error, root_caller

DATA = Path(__file__).resolve().parents[2] / "src" / "kmsd" / "iam" / "aws_managed_policies"
POWER_USER = "arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser"
REQUIRED = {"AWSKeyManagementServicePowerUser", "AdministratorAccess", "IAMReadOnlyAccess", "IAMFullAccess"}


def test_the_index_names_a_source_and_a_document_for_every_version() -> None:
    index = json.loads((DATA / "index.json").read_text())
    names = {entry["policy_name"] for entry in index["policies"]}
    assert names >= REQUIRED
    for entry in index["policies"]:
        assert entry["policy_id"].startswith("ANPA") and len(entry["policy_id"]) == 21
        assert entry["policy_id_source"]
        version_ids = [version["version_id"] for version in entry["versions"]]
        assert entry["default_version_id"] in version_ids
        for version in entry["versions"]:
            assert version["source"].startswith(("https://docs.aws.amazon.com/", "tenchi-security/camp:"))
            assert (DATA / version["document"]).is_file()
    listed = {version["document"] for entry in index["policies"] for version in entry["versions"]}
    assert listed == {path.name for path in DATA.glob("*.json")} - {"index.json"}


@pytest.mark.parametrize("policy", aws_managed_policies(), ids=lambda p: p.policy_name)
def test_every_vendored_document_is_a_valid_identity_policy(policy: AwsManagedPolicy) -> None:
    for version in policy.versions:
        parsed = parse_policy(version.document, PolicyKind.IDENTITY)
        assert parsed.document.version == "2012-10-17" and parsed.document.statements


@pytest.mark.parametrize("policy", aws_managed_policies(), ids=lambda p: p.policy_name)
def test_get_policy_shows_the_vendored_metadata(iam: Iam, policy: AwsManagedPolicy) -> None:
    shown = iam("GetPolicy", PolicyArn=policy.arn)["Policy"]
    assert shown["PolicyName"] == policy.policy_name
    assert shown["PolicyId"] == policy.policy_id
    assert shown["Path"] == policy.path
    assert shown["DefaultVersionId"] == policy.default_version_id
    assert shown["CreateDate"] == policy.created_at
    assert shown["UpdateDate"] == policy.updated_at
    assert shown["Description"] == policy.description
    versions = iam("ListPolicyVersions", PolicyArn=policy.arn)["Versions"]
    assert {v["VersionId"] for v in versions} == {v.version_id for v in policy.versions}


def test_the_kms_power_user_policy_as_aws_has_it(iam: Iam) -> None:
    policy = iam("GetPolicy", PolicyArn=POWER_USER)["Policy"]
    assert policy["PolicyId"] == "ANPAJNPP7PPPPMJRV2SA4"
    assert policy["DefaultVersionId"] == "v2"
    assert policy["CreateDate"] == datetime(2015, 2, 6, 18, 40, 40, tzinfo=UTC)
    assert policy["UpdateDate"] == datetime(2017, 3, 7, 0, 55, 11, tzinfo=UTC)
    version = iam("GetPolicyVersion", PolicyArn=POWER_USER, VersionId="v2")["PolicyVersion"]
    assert version["IsDefaultVersion"] is True
    document = json.loads(unquote(version["Document"]))
    [statement] = document["Statement"]
    assert (statement["Effect"], statement["Resource"]) == ("Allow", "*")
    # DESIGN.md: version v2 allows exactly these actions on *.
    assert set(statement["Action"]) == {
        "kms:CreateAlias",
        "kms:CreateKey",
        "kms:DeleteAlias",
        "kms:Describe*",
        "kms:GenerateRandom",
        "kms:Get*",
        "kms:List*",
        "kms:TagResource",
        "kms:UntagResource",
        "iam:ListGroups",
        "iam:ListRoles",
        "iam:ListUsers",
    }
    v1 = iam("GetPolicyVersion", PolicyArn=POWER_USER, VersionId="v1")["PolicyVersion"]
    assert v1["IsDefaultVersion"] is False
    assert "kms:TagResource" not in json.loads(unquote(v1["Document"]))["Statement"][0]["Action"]


def test_list_policies_scope_aws_lists_every_vendored_policy(iam: Iam) -> None:
    listed = iam("ListPolicies", Scope="AWS", MaxItems=1000)["Policies"]
    assert {p["Arn"] for p in listed} == {policy.arn for policy in aws_managed_policies()}
    assert all(p["AttachmentCount"] == 0 for p in listed)
    kms_only = iam("ListPolicies", Scope="AWS", PathPrefix="/aws-service-role/")["Policies"]
    assert {p["PolicyName"] for p in kms_only} == {
        "AWSKeyManagementServiceCustomKeyStoresServiceRolePolicy",
        "AWSKeyManagementServiceMultiRegionKeysServiceRolePolicy",
    }


def test_present_and_attachable_in_two_accounts_with_per_account_counts(iam: Iam) -> None:
    other = iam.as_root(OTHER_ACCOUNT)
    for account in (iam, other):
        account.create_user("alice")
        account.create_role("deployer")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=POWER_USER)
    other("AttachUserPolicy", UserName="alice", PolicyArn=POWER_USER)
    other("AttachRolePolicy", RoleName="deployer", PolicyArn=POWER_USER)
    assert iam("GetPolicy", PolicyArn=POWER_USER)["Policy"]["AttachmentCount"] == 1
    assert other("GetPolicy", PolicyArn=POWER_USER)["Policy"]["AttachmentCount"] == 2
    assert [p["PolicyArn"] for p in iam("ListAttachedUserPolicies", UserName="alice")["AttachedPolicies"]] == [
        POWER_USER
    ]
    attached = other("ListPolicies", OnlyAttached=True)["Policies"]
    assert [(p["PolicyName"], p["AttachmentCount"]) for p in attached] == [("AWSKeyManagementServicePowerUser", 2)]
    iam("DetachUserPolicy", UserName="alice", PolicyArn=POWER_USER)
    assert other("GetPolicy", PolicyArn=POWER_USER)["Policy"]["AttachmentCount"] == 2


def test_seeding_is_idempotent_and_repairs_an_older_store(
    tmp_path: Path, store: SqliteStore, root_key: FileRootKey, clock: ManualClock
) -> None:
    service = IamService(store, root_key, clock, SeededRandomSource(1))
    ensure_aws_managed_policies(service.context)
    ensure_aws_managed_policies(service.context)
    # Another store object on the same database (a second process) finds nothing to do.
    reopened = SqliteStore(tmp_path / "kmsd.db")
    try:
        context = IamContext(reopened, root_key, clock, SeededRandomSource(2))
        ensure_aws_managed_policies(context)
        assert len(reopened.list_policy_versions(POWER_USER)) == 2
        assert len(reopened.list_policies("aws")) == len(aws_managed_policies())
        # A store seeded by a kmsd that vendored less is brought up to date.
        reopened.delete_policy_version(POWER_USER, "v2")
        stale = reopened.get_policy(POWER_USER)
        assert stale is not None
        reopened.update_policy(dataclasses.replace(stale, default_version_id="v1"))
        reopened.set_setting(SEEDED_SETTING, "digest of older data")
    finally:
        reopened.close()
    third = SqliteStore(tmp_path / "kmsd.db")
    try:
        ensure_aws_managed_policies(IamContext(third, root_key, clock, SeededRandomSource(3)))
        repaired = third.get_policy(POWER_USER)
        assert repaired is not None and repaired.default_version_id == "v2"
        assert [v.version_id for v in third.list_policy_versions(POWER_USER)] == ["v1", "v2"]
    finally:
        third.close()


def test_a_customer_policy_may_share_a_name_with_an_aws_managed_one(iam: Iam) -> None:
    document = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:List*","Resource":"*"}]}'
    mine = iam("CreatePolicy", PolicyName="AdministratorAccess", PolicyDocument=document)["Policy"]["Arn"]
    assert mine == f"arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess"
    names = [p["Arn"] for p in iam("ListPolicies")["Policies"] if p["PolicyName"] == "AdministratorAccess"]
    assert sorted(names) == sorted([mine, "arn:aws:iam::aws:policy/AdministratorAccess"])


def test_an_unknown_aws_managed_policy_is_not_found(iam: Iam) -> None:
    arn = "arn:aws:iam::aws:policy/NoSuchManagedPolicy"
    with aws_error("NoSuchEntity", f"Policy {arn} was not found.", 404):
        iam("GetPolicy", PolicyArn=arn)
    iam.create_user("alice")
    with aws_error("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.", 404):
        iam("AttachUserPolicy", UserName="alice", PolicyArn=arn)


def test_root_of_any_account_reads_them(iam: Iam) -> None:
    other = iam.as_caller(root_caller(OTHER_ACCOUNT))
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    version = other("GetPolicyVersion", PolicyArn=admin, VersionId="v1")["PolicyVersion"]
    assert json.loads(unquote(version["Document"])) == {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
