"""`kmsd policy check --kind key --store URL`: a key policy linted against a store that a real server filled.

IAM users, roles and policies are created through the server with boto3; the command then reads the same
store (SQLite or PostgreSQL) and reports the identity policies that name the key when the key policy does not
delegate to the account, and the lockout safety check for the principal that would put the policy.  The live
server's PutKeyPolicy is asked the same policies: the linter's lockout error and the server's refusal agree.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.aws_errors import error_from
from tests.integration.server import KmsdServer

ACCOUNT = "000000000000"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
LOCKOUT = "The new key policy will not allow you to update the key policy in the future."


class Setup:
    """A key, a user whose inline policy names it, and a role with a managed policy that names it."""

    def __init__(self, server: KmsdServer, credentials: tuple[str, str], directory: Path) -> None:
        self.server = server
        self.directory = directory
        access_key, secret_key = credentials
        self.kms = server.client("kms", access_key=access_key, secret_key=secret_key)
        self.iam = server.client("iam", access_key=access_key, secret_key=secret_key)
        suffix = uuid.uuid4().hex[:8]
        self.key_arn: str = self.kms.create_key()["KeyMetadata"]["Arn"]
        self.user_name = f"lint-app-{suffix}"
        user = self.iam.create_user(UserName=self.user_name)["User"]
        self.user_arn: str = user["Arn"]
        uses = {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": self.key_arn}
        self.iam.put_user_policy(UserName=self.user_name, PolicyName="use-key", PolicyDocument=document(uses))
        manages = {"Effect": "Allow", "Action": "kms:PutKeyPolicy", "Resource": self.key_arn}
        managed = self.iam.create_policy(PolicyName=f"lint-manage-{suffix}", PolicyDocument=document(manages))
        self.managed_arn: str = managed["Policy"]["Arn"]
        trust = {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "sts:AssumeRole"}
        self.role_name = f"lint-admin-{suffix}"
        self.iam.create_role(RoleName=self.role_name, AssumeRolePolicyDocument=document(trust))
        self.iam.attach_role_policy(RoleName=self.role_name, PolicyArn=self.managed_arn)

    def check(self, key_policy: dict[str, Any], *options: str) -> tuple[int, dict[str, Any], str]:
        path = self.directory / f"{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(key_policy, indent=2), encoding="utf-8")
        done = self.server.command(
            "policy", "check", "--kind", "key", "--store", self.server.store_url, "--key", self.key_arn,
            "--json", *options, str(path),
        )  # fmt: skip
        assert done.stderr == "", done.stderr
        return done.returncode, json.loads(done.stdout), done.stderr


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def key_policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def grant(principal: str, action: str | list[str] = "kms:*", sid: str = "S") -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": "*"}


def codes(response: dict[str, Any]) -> list[tuple[str, str]]:
    return [(finding["findingType"], finding["issueCode"]) for finding in response["findings"]]


@pytest.fixture
def setup(server: KmsdServer, root_credentials: tuple[str, str], tmp_path: Path) -> Iterator[Setup]:
    yield Setup(server, root_credentials, tmp_path)


def test_a_delegating_key_policy_has_no_findings_and_the_server_accepts_it(setup: Setup) -> None:
    policy = key_policy(grant(ROOT, sid="Enable IAM User Permissions"))
    assert setup.check(policy)[:2] == (0, {"findings": []})
    setup.kms.put_key_policy(KeyId=setup.key_arn, PolicyName="default", Policy=json.dumps(policy))


def test_identity_policies_that_name_the_key_without_delegation(setup: Setup) -> None:
    # The key policy names the user directly, but not the account: the user's and the role's IAM allows on this
    # key are without effect.  The user may put the policy again, so the lockout check passes for it.
    policy = key_policy(grant(setup.user_arn, sid="AppOnly"))
    code, response, _ = setup.check(policy, "--principal", setup.user_arn)
    assert code == 0
    assert codes(response) == [("WARNING", "KMS_MISSING_IAM_DELEGATION")]
    (finding,) = response["findings"]
    assert finding["findingDetails"].startswith(
        f"Identity policies of account {ACCOUNT} allow kms:decrypt, kms:encrypt, kms:putkeypolicy on this key ("
    )
    assert f"{setup.user_arn}#use-key" in finding["findingDetails"]
    assert setup.managed_arn in finding["findingDetails"]
    assert finding["locations"][0]["path"] == [{"value": "Statement"}]
    assert finding["locations"][0]["span"]["start"]["line"] == 3
    # --fail-on warning turns the warning into a failure.
    assert setup.check(policy, "--principal", setup.user_arn, "--fail-on", "warning")[0] == 1


def test_the_lockout_check_agrees_with_the_servers_put_key_policy(setup: Setup) -> None:
    # Only the user is named: the account root (the caller below) could not put the policy again.
    policy = key_policy(grant(setup.user_arn, sid="AppOnly"))
    code, response, _ = setup.check(policy)
    assert code == 1
    assert ("ERROR", "KMS_KEY_POLICY_LOCKOUT") in codes(response)
    lockout = next(item for item in response["findings"] if item["issueCode"] == "KMS_KEY_POLICY_LOCKOUT")
    assert lockout["findingDetails"].startswith(f"{LOCKOUT} {ROOT} could not call kms:PutKeyPolicy")
    assert error_from(
        setup.kms.put_key_policy, KeyId=setup.key_arn, PolicyName="default", Policy=json.dumps(policy)
    ) == (
        "MalformedPolicyDocumentException",
        LOCKOUT,
        400,
    )


def test_the_lockout_check_reads_the_principals_identity_policies(setup: Setup) -> None:
    # The policy delegates everything but PutKeyPolicy to the account, and the role's managed policy allows
    # PutKeyPolicy: a role session may put it again only if the key policy also lets the account delegate it.
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{setup.role_name}"
    narrow = key_policy(grant(ROOT, ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]))
    code, response, _ = setup.check(narrow, "--principal", role_arn)
    assert (code, codes(response)) == (
        1,
        [("ERROR", "KMS_KEY_POLICY_LOCKOUT"), ("WARNING", "KMS_MISSING_IAM_DELEGATION")],
    )
    assert setup.check(key_policy(grant(ROOT)), "--principal", role_arn)[:2] == (0, {"findings": []})
    # A principal the store does not hold is a usage problem, said in one line.
    path = setup.directory / "any.json"
    path.write_text(json.dumps(key_policy(grant(ROOT))), encoding="utf-8")
    done = setup.server.command(
        "policy", "check", "--kind", "key", "--store", setup.server.store_url,
        "--principal", f"arn:aws:iam::{ACCOUNT}:user/nobody-{uuid.uuid4().hex[:6]}", str(path),
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("kmsd policy check: ") and "does not exist" in done.stderr


def test_text_output_names_the_file_line_and_column(setup: Setup) -> None:
    path = setup.directory / "open.json"
    policy = key_policy(grant(ROOT), {**grant("*", "kms:Decrypt", sid="Everyone")})
    path.write_text(json.dumps(policy, indent=2), encoding="utf-8")
    done = setup.server.command(
        "policy", "check", "--kind", "key", "--store", setup.server.store_url, "--key", setup.key_arn, str(path)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    # Line 16, column 19: the Principal object of the second statement, as `json.dumps(..., indent=2)` lays it out.
    assert lines[0].startswith(f"{path}:16:19: security-warning: The statement allows every principal")
    assert lines[0].endswith("[KMS_DECRYPT_BY_ANY_PRINCIPAL]")
    assert lines[-1] == "ok: valid key policy, 2 statements, 1 security warning"
