"""The first hour of a new user, against real processes: ``make serve``, a busy port, lost credentials, explanations.

Each test drives what a user drives: the ``make serve`` target, the ``kmsd``
console script as a subprocess, boto3 and the AWS CLI against a real
``kmsd serve``.  The last test runs every ``kmsd`` command of the README's
code blocks as written, from a shell set up as the README says.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.helpers.postgres import PostgresDatabases
from tests.integration.server import KmsdServer, free_port, run_kmsd
from tests.integration.stores import Stores, sqlite_url

REPO = Path(__file__).resolve().parents[2]
AWS_CLI = str(Path(sys.executable).with_name("aws"))
DEFAULT_ACCOUNT = "000000000000"


def dev_client(endpoint: str, service: str, access_key: str = "test", secret: str = "test") -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def wait_healthy(endpoint: str, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited early"
        try:
            with urllib.request.urlopen(endpoint + "/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the server did not become healthy")


# --- make serve ARGS=... -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def make_served(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[tuple[str, Path]]:
    """``make serve`` with HOST, PORT, STORE and ARGS as the README documents them, in its own process group."""
    data = tmp_path_factory.mktemp("make-serve")
    store_url = stores.new(data)
    port = free_port()
    # make serves from the repository: a root key in the environment keeps a PostgreSQL store's root-key file
    # (./.kmsd/root.key of the working directory) out of it.
    env = {**os.environ, "KMSD_ROOT_KEY": base64.b64encode(secrets.token_bytes(32)).decode()}
    log = data / "make.log"
    with log.open("w") as out:
        # -o: the venv is already installed; make must not reinstall it here.
        process = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "-C",
                str(REPO),
                "-o",
                ".venv/.installed",
                "serve",
                "HOST=127.0.0.1",
                f"PORT={port}",
                f"STORE={store_url}",
                "ARGS=--dev --explain-denials",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env=env,
        )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(endpoint, process)
        yield endpoint, log
    finally:
        # make and the kmsd it started share the session this test created for them.
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def test_make_serve_passes_args_through(make_served: tuple[str, Path]) -> None:
    endpoint, log = make_served
    assert "(--dev: development credentials accepted)" in log.read_text()
    # --dev reached the server: the well-known development credentials sign.
    assert dev_client(endpoint, "sts").get_caller_identity()["Account"] == DEFAULT_ACCOUNT


def _denied_alice(endpoint: str) -> tuple[str, Any]:
    """A key of the default account and a client of its IAM user alice, whom no identity policy allows anything."""
    iam = dev_client(endpoint, "iam")
    name = f"alice-{free_port()}"
    iam.create_user(UserName=name)
    access = iam.create_access_key(UserName=name)["AccessKey"]
    key_arn = dev_client(endpoint, "kms").create_key()["KeyMetadata"]["Arn"]
    return key_arn, dev_client(endpoint, "kms", access["AccessKeyId"], access["SecretAccessKey"])


def test_explanation_summary_reaches_boto3_in_a_header(make_served: tuple[str, Path]) -> None:
    endpoint, _ = make_served
    key_arn, alice = _denied_alice(endpoint)
    with pytest.raises(ClientError) as denied:
        alice.encrypt(KeyId=key_arn, Plaintext=b"x")
    response = denied.value.response
    assert response["Error"]["Code"] == "AccessDeniedException"
    summary = response["ResponseMetadata"]["HTTPHeaders"]["x-kmsd-explanation"]
    assert summary == (
        f"kms:Encrypt on {key_arn}: denied, because no identity-based policy allows the kms:Encrypt action "
        "[allow: key-policy:Enable IAM User Permissions]"
    )
    assert summary.isascii()


def test_explanation_header_is_only_for_the_key_owners_account(make_served: tuple[str, Path]) -> None:
    endpoint, _ = make_served
    key_arn = dev_client(endpoint, "kms").create_key()["KeyMetadata"]["Arn"]
    stranger = dev_client(endpoint, "kms", "111122223333")  # --dev: the root user of another account
    with pytest.raises(ClientError) as denied:
        stranger.encrypt(KeyId=key_arn, Plaintext=b"x")
    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "x-kmsd-explanation" not in denied.value.response["ResponseMetadata"]["HTTPHeaders"]


def test_explanation_summary_reaches_the_aws_cli_with_debug(make_served: tuple[str, Path]) -> None:
    endpoint, _ = make_served
    key_arn, alice = _denied_alice(endpoint)
    credentials = alice._request_signer._credentials
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=credentials.access_key,
        AWS_SECRET_ACCESS_KEY=credentials.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
    )
    done = subprocess.run(
        [AWS_CLI, "--debug", "--endpoint-url", endpoint, "kms", "encrypt", "--key-id", key_arn, "--plaintext", "eA=="],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode != 0
    assert "AccessDeniedException" in done.stderr
    assert f"'x-kmsd-explanation': 'kms:Encrypt on {key_arn}: denied" in done.stderr


# --- a second server on a busy port ------------------------------------------------------------------------


def test_a_second_server_on_a_busy_port_fails_in_one_line(
    fresh_server: KmsdServer, stores: Stores, tmp_path: Path
) -> None:
    fresh_server.start()
    second = tmp_path / "second"
    done = run_kmsd(["serve", "--port", str(fresh_server.port), "--store", stores.new(second)], second)
    assert done.returncode == 1
    assert done.stderr == (
        f"kmsd: cannot listen on 127.0.0.1:{fresh_server.port}: the address is already in use (another kmsd?)\n"
    )
    # Nothing claimed to serve, and no credentials were created and shown for a server that never ran.
    assert done.stdout == ""
    # The first server is untouched.
    assert fresh_server.root_client("sts").get_caller_identity()["Account"] == DEFAULT_ACCOUNT


# --- lost root credentials ---------------------------------------------------------------------------------


def test_rotated_root_credentials_work_at_once_on_a_running_server_and_the_old_ones_stop(
    fresh_server: KmsdServer,
) -> None:
    fresh_server.start()
    old_key, old_secret = fresh_server.default_credentials()
    old = fresh_server.client("sts", access_key=old_key, secret_key=old_secret)
    assert old.get_caller_identity()["Account"] == DEFAULT_ACCOUNT  # cached by the server now

    done = fresh_server.command(
        "accounts", "credentials", DEFAULT_ACCOUNT, "--rotate", "--json", "--store", fresh_server.store_url
    )
    assert done.returncode == 0, done.stderr
    new = json.loads(done.stdout)
    assert new["AccountId"] == DEFAULT_ACCOUNT and new["AccessKeyId"] != old_key

    fresh = fresh_server.client("sts", access_key=new["AccessKeyId"], secret_key=new["SecretAccessKey"])
    assert fresh.get_caller_identity()["Arn"] == f"arn:aws:iam::{DEFAULT_ACCOUNT}:root"
    with pytest.raises(ClientError) as refused:
        old.get_caller_identity()
    assert refused.value.response["Error"]["Code"] == "InvalidClientTokenId"

    # Without --rotate: the root user's key ids, never a secret.
    done = fresh_server.command("accounts", "credentials", DEFAULT_ACCOUNT, "--json", "--store", fresh_server.store_url)
    assert done.returncode == 0, done.stderr
    listed = json.loads(done.stdout)["AccessKeys"]
    assert [(key["AccessKeyId"], key["Status"]) for key in listed] == [(new["AccessKeyId"], "Active")]
    assert new["SecretAccessKey"] not in done.stdout
    done = fresh_server.command("accounts", "credentials", DEFAULT_ACCOUNT, "--store", fresh_server.store_url)
    assert done.stdout.startswith(f"{new['AccessKeyId']}\tActive\tcreated ")


def test_root_credentials_rotate_offline(fresh_server: KmsdServer) -> None:
    fresh_server.start()
    fresh_server.stop()
    done = fresh_server.command(
        "accounts", "credentials", DEFAULT_ACCOUNT, "--rotate", "--store", fresh_server.store_url
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"account {DEFAULT_ACCOUNT}: new root access key (the old ones are deleted):"
    access_key = lines[1].removeprefix("  AWS_ACCESS_KEY_ID=")
    secret = lines[2].removeprefix("  AWS_SECRET_ACCESS_KEY=")
    fresh_server.start()
    client = fresh_server.client("kms", access_key=access_key, secret_key=secret)
    assert client.list_keys()["Keys"] == []


def test_rotating_an_unknown_account_is_one_line(fresh_server: KmsdServer) -> None:
    fresh_server.start()
    done = fresh_server.command(
        "accounts", "credentials", "999999999999", "--rotate", "--store", fresh_server.store_url
    )
    assert (done.returncode, done.stdout, done.stderr) == (1, "", "kmsd: Account 999999999999 does not exist.\n")


# --- authz explain --key in every KeyId form ---------------------------------------------------------------


def test_authz_explain_takes_a_key_id_key_arn_alias_name_or_alias_arn(fresh_server: KmsdServer) -> None:
    fresh_server.start()
    kms = fresh_server.root_client("kms")
    metadata = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/orders", TargetKeyId=metadata["KeyId"])
    alias_arn = f"arn:aws:kms:us-east-1:{DEFAULT_ACCOUNT}:alias/orders"
    answers = []
    for key in (metadata["KeyId"], metadata["Arn"], "alias/orders", alias_arn):
        done = fresh_server.command(
            "authz",
            "explain",
            "--principal",
            DEFAULT_ACCOUNT,
            "--action",
            "kms:Encrypt",
            "--key",
            key,
            "--region",
            "us-east-1",
            "--json",
            "--store",
            fresh_server.store_url,
        )
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        answers.append((answer["decision"], answer["checks"][0]["resource"]))
    assert answers == [("Allow", metadata["Arn"])] * 4

    # A key id in another region is a key that does not exist there.
    done = fresh_server.command(
        "authz",
        "explain",
        "--principal",
        DEFAULT_ACCOUNT,
        "--action",
        "kms:Encrypt",
        "--key",
        metadata["KeyId"],
        "--region",
        "eu-west-1",
        "--store",
        fresh_server.store_url,
    )
    assert done.returncode == 1 and done.stderr.startswith("kmsd authz explain: key `arn:aws:kms:eu-west-1:")


# --- every kmsd command of the README, as written ------------------------------------------------------------

README = REPO / "README.md"
PATH_LINE = 'export PATH="$PWD/.venv/bin:$PATH"'
POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}
KEY_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ],
}


def readme_commands() -> list[str]:
    """Each ``kmsd ...`` command line of the README's fenced code blocks, continuation lines joined."""
    commands: list[str] = []
    in_block = False
    pending = ""
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if not in_block:
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        command = shlex.join(shlex.split(pending, comments=True))
        pending = ""
        if command.startswith("kmsd ") or command == "kmsd":
            commands.append(command)
    return commands


@pytest.mark.postgresql_only("the README's commands name their stores: ./.kmsd/kmsd.db, and a PostgreSQL one")
def test_every_kmsd_command_in_the_readme_runs_as_written(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    commands = readme_commands()
    assert len(commands) >= 9 and any(command.startswith("kmsd serve") for command in commands)
    assert PATH_LINE in README.read_text(encoding="utf-8")
    # The README's world: the repository's directory with ./.kmsd/ (here a copy of its layout in tmp_path, so the
    # repository's own store is untouched), a server on that store, user alice, a key KEY_ID with alias/orders,
    # the user's policy.json and a key policy, key-policy.json.  The shell finds kmsd only through the README's PATH
    # line, run in the repository.
    server = KmsdServer(tmp_path / ".kmsd", sqlite_url(tmp_path / ".kmsd")).start()
    try:
        kms = server.root_client("kms")
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/orders", TargetKeyId=key_id)
        server.root_client("iam").create_user(UserName="alice")
        (tmp_path / "policy.json").write_text(json.dumps(POLICY), encoding="utf-8")
        (tmp_path / "key-policy.json").write_text(json.dumps(KEY_POLICY), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSD_"))}
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"  # no venv on it until the README's line puts it there
        for command in commands:
            filled = command.replace("KEY_ID", key_id)
            prefix = f"cd {shlex.quote(str(REPO))} && {PATH_LINE} && cd {shlex.quote(str(tmp_path))} && "
            if README_POSTGRES_URL in filled:
                # The README's database server is the reader's: this machine's test PostgreSQL stands in for it.
                url = postgres_databases.create()
                try:
                    _run_as_written(prefix, filled.replace(README_POSTGRES_URL, url), env)
                finally:
                    postgres_databases.drop(url)
                continue
            _run_as_written(prefix, filled, env)
    finally:
        server.stop()


README_POSTGRES_URL = "postgresql://kmsd:secret@db.internal:5432/kmsd"


def _run_as_written(prefix: str, command: str, env: dict[str, str]) -> None:
    """Run a README command line; a ``kmsd serve`` line only until it is healthy."""
    if command.startswith("kmsd serve"):
        _serve_briefly(prefix, command, env)
        return
    done = subprocess.run(
        ["bash", "-c", prefix + command], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr


def _serve_briefly(prefix: str, command: str, env: dict[str, str]) -> None:
    """Start a README ``kmsd serve`` line (on a free port: 4599 may be taken), see it healthy, stop it."""
    port = free_port()
    process = subprocess.Popen(
        ["bash", "-c", f"{prefix}exec {command} --port {port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    # The README's multi-node line listens on every interface (--host 0.0.0.0); the others on 127.0.0.1.
    assert re.search(rf"kmsd: serving KMS, IAM and STS on http://(127\.0\.0\.1|0\.0\.0\.0):{port} ", output), output


def test_the_readme_points_only_at_files_in_the_repository() -> None:
    text = README.read_text(encoding="utf-8")
    # Every backquoted path under the repository's top-level folders names something that exists.
    paths = set(re.findall(r"`((?:src|tests|bench|docs)/[^`\s]*)`", text))
    assert len(paths) >= 8
    assert [path for path in sorted(paths) if not (REPO / path).exists()] == []
    assert "DESIGN" not in text and "open issues" not in text
    # Markdown links, if any, are relative paths inside the repository.
    for target in re.findall(r"\]\(([^)]+)\)", text):
        assert "://" not in target and (REPO / target.split("#")[0]).exists(), target
