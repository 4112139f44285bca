"""The AWS CLI, unchanged, managing IAM against ``kmsd serve`` and then using what it created."""

from __future__ import annotations

import json
import subprocess

from tests.helpers.clients import AWS_CLI, cli_env, unique
from tests.integration.server import KmsdServer

ACCOUNT = "000000000000"


def aws_json(server: KmsdServer, credentials: tuple[str, str], *args: str) -> dict[str, object]:
    result = subprocess.run(
        [AWS_CLI, "--endpoint-url", server.endpoint, "--output", "json", *args],
        env=cli_env(server, credentials),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout)) if result.stdout.strip() else {}


def test_cli_creates_a_user_and_key_and_then_uses_it(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    name = unique("cli-user")
    created = aws_json(server, root_credentials, "iam", "create-user", "--user-name", name)
    user = created["User"]
    assert isinstance(user, dict)
    assert (user["UserName"], user["Arn"]) == (name, f"arn:aws:iam::{ACCOUNT}:user/{name}")
    key = aws_json(server, root_credentials, "iam", "create-access-key", "--user-name", name)["AccessKey"]
    assert isinstance(key, dict)
    new_credentials = (str(key["AccessKeyId"]), str(key["SecretAccessKey"]))

    identity = aws_json(server, new_credentials, "sts", "get-caller-identity")
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert identity["Account"] == ACCOUNT

    # Without a policy the new user may not list users; the CLI shows IAM's AccessDenied.
    refused = subprocess.run(
        [AWS_CLI, "--endpoint-url", server.endpoint, "iam", "list-users"],
        env=cli_env(server, new_credentials),
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0
    assert "AccessDenied" in refused.stderr
    assert f"arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: iam:ListUsers" in refused.stderr

    aws_json(
        server,
        root_credentials,
        "iam",
        "attach-user-policy",
        "--user-name",
        name,
        "--policy-arn",
        "arn:aws:iam::aws:policy/IAMReadOnlyAccess",
    )
    listed = aws_json(server, new_credentials, "iam", "list-users")["Users"]
    assert isinstance(listed, list)
    assert name in [user["UserName"] for user in listed]
