"""The same service rules everywhere: the offline ``kmsd policy explain``, the IAM policy simulator and the live server.

Each rule of :mod:`kmsd.policy.service_rules` is checked three ways where it
applies: the real ``kmsd policy explain --json`` command (a subprocess), the
simulator through boto3 (SimulateCustomPolicy), and a live call through boto3.

- KMS key actions: the key policy is the gate; an identity policy alone does not allow.
- sts:AssumeRole: the role's trust policy must allow the caller.
- sts:GetCallerIdentity: needs no permission and cannot be denied.
- alias/aws/ names cannot be created, updated or deleted.
- AWS managed policies can be read from every account.
- Roles under /aws-service-role/ and /aws-reserved/ cannot be modified (UnmodifiableEntity).
- A resource owner can be given where the ARN names none.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.aws_errors import error_from
from tests.helpers.clients import client, unique, user_with_key
from tests.integration.server import KmsdServer, run_kmsd

ACCOUNT = "000000000000"
OTHER = "210987654321"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ADMIN_POLICY = "arn:aws:iam::aws:policy/AdministratorAccess"
UNMODIFIABLE = "Cannot perform the operation on the protected role '{}' - this role is only modifiable by AWS"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow_all() -> str:
    return document({"Effect": "Allow", "Action": "*", "Resource": "*"})


def delegating_key_policy() -> str:
    return document(
        {"Sid": "Enable", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"}
    )  # fmt: skip


def closed_key_policy() -> str:
    return document(
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
         "Action": "kms:*", "Resource": "*"}
    )  # fmt: skip


class Explain:
    """``kmsd policy explain --json`` run as a subprocess, with policy files written to a directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.count = 0

    def file(self, text: str) -> str:
        self.count += 1
        path = self.directory / f"policy-{self.count}.json"
        path.write_text(text)
        return str(path)

    def __call__(
        self,
        action: str,
        resource: str,
        principal: str,
        *,
        identity: str | None = None,
        resource_policy: str | None = None,
        extra: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        args = ["policy", "explain", "--json", "--action", action, "--resource", resource, "--principal", principal]
        if identity is not None:
            args += ["--policy", self.file(identity)]
        if resource_policy is not None:
            args += ["--resource-policy", self.file(resource_policy)]
        done = run_kmsd([*args, *extra], cwd=self.directory)
        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads(done.stdout)
        return report


@pytest.fixture
def explain(tmp_path: Path) -> Explain:
    return Explain(tmp_path)


@pytest.fixture
def iam(server: KmsdServer, root_credentials: tuple[str, str]) -> Any:
    return client(server, "iam", root_credentials)


@pytest.fixture
def caller(iam: Any) -> str:
    """An IAM user to simulate as (CallerArn must name an existing user)."""
    name = unique("rules")
    iam.create_user(UserName=name)
    return f"arn:aws:iam::{ACCOUNT}:user/{name}"


def simulate(iam: Any, action: str, resource: str, **params: Any) -> str:
    response = iam.simulate_custom_policy(ActionNames=[action], ResourceArns=[resource], **params)
    decision: str = response["EvaluationResults"][0]["EvalDecision"]
    return decision


def test_kms_key_policy_is_the_gate(explain: Explain, iam: Any, caller: str) -> None:
    identity = document({"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"})
    alone = explain("kms:Encrypt", KEY, caller, identity=identity)
    assert alone["decision"] == "ImplicitDeny"
    assert alone["message"].endswith("because no resource-based policy allows the kms:Encrypt action")
    assert explain("kms:Encrypt", KEY, caller, identity=identity, resource_policy=closed_key_policy())["decision"] == (
        "ImplicitDeny"
    )
    assert explain("kms:Encrypt", KEY, caller, identity=identity, resource_policy=delegating_key_policy())[
        "decision"
    ] == ("Allow")

    base = {"PolicyInputList": [identity], "CallerArn": caller}
    assert simulate(iam, "kms:Encrypt", KEY, **base) == "implicitDeny"
    assert simulate(iam, "kms:Encrypt", KEY, ResourcePolicy=closed_key_policy(), **base) == "implicitDeny"
    assert simulate(iam, "kms:Encrypt", KEY, ResourcePolicy=delegating_key_policy(), **base) == "allowed"


def test_kms_key_policy_is_the_gate_live(server: KmsdServer, iam: Any, root_credentials: tuple[str, str]) -> None:
    name, credentials = user_with_key(iam)
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=allow_all())
    root_kms = client(server, "kms", root_credentials)
    # The key policy lets the account manage the key, not use it: the user's "*" cannot reach Encrypt.
    managed_only = document(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:PutKeyPolicy",
         "Resource": "*"}
    )  # fmt: skip
    key = root_kms.create_key(Policy=managed_only)["KeyMetadata"]["Arn"]
    code, message, _ = error_from(client(server, "kms", credentials).encrypt, KeyId=key, Plaintext=b"x")
    assert code == "AccessDeniedException"
    assert message.endswith("because no resource-based policy allows the kms:Encrypt action")


def test_assume_role_needs_the_trust_policy(
    explain: Explain, server: KmsdServer, iam: Any, caller: str, root_credentials: tuple[str, str]
) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/rules-role"
    identity = document({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role})
    other_trust = document(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}, "Action": "sts:AssumeRole"}
    )
    trusting = document(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    )
    assert explain("sts:AssumeRole", role, caller, identity=identity)["decision"] == "ImplicitDeny"
    refused = explain("sts:AssumeRole", role, caller, identity=identity, resource_policy=other_trust)
    assert refused["decision"] == "ImplicitDeny"
    assert refused["service_rule"] == "the role's trust policy must allow the caller"
    assert explain("sts:AssumeRole", role, caller, identity=identity, resource_policy=trusting)["decision"] == "Allow"

    base = {"PolicyInputList": [identity], "CallerArn": caller}
    assert simulate(iam, "sts:AssumeRole", role, ResourcePolicy=other_trust, **base) == "implicitDeny"
    assert simulate(iam, "sts:AssumeRole", role, ResourcePolicy=trusting, **base) == "allowed"

    name, credentials = user_with_key(iam)
    iam.put_user_policy(UserName=name, PolicyName="assume", PolicyDocument=allow_all())
    role_name = unique("rules-role")
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=other_trust)
    sts = client(server, "sts", credentials)
    assert error_from(sts.assume_role, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role_name}", RoleSessionName="rules")[
        0
    ] == ("AccessDenied")


def test_get_caller_identity_needs_no_permission(explain: Explain, server: KmsdServer, iam: Any, caller: str) -> None:
    deny_all = document({"Effect": "Deny", "Action": "*", "Resource": "*"})
    report = explain("sts:GetCallerIdentity", "*", caller, identity=deny_all)
    assert report["decision"] == "Allow"
    assert report["service_rule"] == "sts:GetCallerIdentity needs no permission and cannot be denied"
    assert simulate(iam, "sts:GetCallerIdentity", "*", PolicyInputList=[deny_all]) == "allowed"
    name, credentials = user_with_key(iam)
    iam.put_user_policy(UserName=name, PolicyName="deny", PolicyDocument=deny_all)
    assert client(server, "sts", credentials).get_caller_identity()["Arn"].endswith(f":user/{name}")


def test_aws_aliases_cannot_be_changed(
    explain: Explain, server: KmsdServer, iam: Any, caller: str, root_credentials: tuple[str, str]
) -> None:
    alias = f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/aws/ebs"
    for action, error in (
        ("kms:CreateAlias", "NotAuthorizedException"),
        ("kms:UpdateAlias", "NotAuthorizedException"),
        ("kms:DeleteAlias", "KMSInvalidStateException"),
    ):
        report = explain(action, alias, caller, identity=allow_all())
        assert (report["decision"], report["error"]) == ("ExplicitDeny", error)
        assert simulate(iam, action, alias, PolicyInputList=[allow_all()]) == "explicitDeny"
    # Another alias is decided by the policies.
    assert explain("kms:CreateAlias", alias.replace("aws/ebs", "mine"), caller, identity=allow_all())["decision"] == (
        "Allow"
    )
    kms = client(server, "kms", root_credentials)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert error_from(kms.create_alias, AliasName="alias/aws/mine", TargetKeyId=key)[0] == "NotAuthorizedException"
    assert error_from(kms.delete_alias, AliasName="alias/aws/ebs")[0] == "KMSInvalidStateException"


def test_aws_managed_policies_are_readable_from_every_account(
    explain: Explain, server: KmsdServer, iam: Any, caller: str
) -> None:
    report = explain("iam:GetPolicy", ADMIN_POLICY, caller, identity=allow_all())
    assert report["decision"] == "Allow" and report["same_account"] is True
    assert simulate(iam, "iam:GetPolicy", ADMIN_POLICY, PolicyInputList=[allow_all()]) == "allowed"
    name, credentials = user_with_key(iam)
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=allow_all())
    own = client(server, "iam", credentials)
    assert own.get_policy(PolicyArn=ADMIN_POLICY)["Policy"]["PolicyName"] == "AdministratorAccess"
    assert own.get_policy_version(PolicyArn=ADMIN_POLICY, VersionId="v1")["PolicyVersion"]["VersionId"] == "v1"


@pytest.mark.parametrize("path", ["/aws-service-role/rules.amazonaws.com/", "/aws-reserved/sso.amazonaws.com/"])
def test_protected_roles_cannot_be_modified(explain: Explain, iam: Any, caller: str, path: str) -> None:
    name = unique("Protected")
    trust = document({"Effect": "Allow", "Principal": {"Service": "rules.amazonaws.com"}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=trust)
    arn = f"arn:aws:iam::{ACCOUNT}:role{path}{name}"
    unmodifiable = ("UnmodifiableEntity", UNMODIFIABLE.format(name), 400)
    for call, params in (
        (iam.update_role, {"Description": "x"}),
        (iam.update_role_description, {"Description": "x"}),
        (iam.update_assume_role_policy, {"PolicyDocument": trust}),
        (iam.put_role_policy, {"PolicyName": "p", "PolicyDocument": allow_all()}),
        (iam.delete_role_policy, {"PolicyName": "p"}),
        (iam.attach_role_policy, {"PolicyArn": ADMIN_POLICY}),
        (iam.detach_role_policy, {"PolicyArn": ADMIN_POLICY}),
        (iam.put_role_permissions_boundary, {"PermissionsBoundary": ADMIN_POLICY}),
        (iam.delete_role_permissions_boundary, {}),
        (iam.delete_role, {}),
    ):
        assert error_from(call, RoleName=name, **params) == unmodifiable
    # Reading it is not modifying it.
    assert iam.get_role(RoleName=name)["Role"]["Arn"] == arn
    report = explain("iam:DeleteRole", arn, caller, identity=allow_all())
    assert (report["decision"], report["error"]) == ("ExplicitDeny", "UnmodifiableEntity")
    assert report["service_rule"] == UNMODIFIABLE.format(name)
    assert simulate(iam, "iam:DeleteRole", arn, PolicyInputList=[allow_all()]) == "explicitDeny"
    assert simulate(iam, "iam:GetRole", arn, PolicyInputList=[allow_all()]) == "allowed"


def test_resource_owner_where_the_arn_names_none(explain: Explain, iam: Any, caller: str) -> None:
    bucket = "arn:aws:s3:::rules-bucket/report.csv"
    identity = document({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    assert explain("s3:GetObject", bucket, caller, identity=identity)["decision"] == "Allow"
    elsewhere = explain("s3:GetObject", bucket, caller, identity=identity, extra=("--resource-account", OTHER))
    # Another account's bucket: its resource policy must allow the caller too.
    assert (elsewhere["decision"], elsewhere["same_account"]) == ("ImplicitDeny", False)
    assert elsewhere["message"].endswith("because no resource-based policy allows the s3:GetObject action")
    assert simulate(iam, "s3:GetObject", bucket, PolicyInputList=[identity]) == "allowed"
    owner = f"arn:aws:iam::{OTHER}:root"
    assert simulate(iam, "s3:GetObject", bucket, PolicyInputList=[identity], ResourceOwner=owner) == "implicitDeny"
    # An ARN that names its account keeps it.
    assert explain("kms:Encrypt", KEY, caller, extra=("--resource-account", OTHER))["same_account"] is True


def test_explain_refuses_a_malformed_resource_account(tmp_path: Path) -> None:
    done = run_kmsd(
        ["policy", "explain", "--action", "s3:GetObject", "--resource", "*", "--principal", ACCOUNT,
         "--resource-account", "12"],
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == "kmsd policy explain: --resource-account `12` is not a 12-digit account id\n"
