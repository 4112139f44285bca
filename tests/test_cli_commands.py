"""The ``kmsd`` command line: every option documents its default, policy typos are named, pipes close quietly.

These run the installed ``kmsd`` console script as a subprocess (the way a
user meets it), except the parser walk, which reads the parser the script
builds.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kmsd.api.known_actions import known_actions
from kmsd.authz.console_policy import ConsoleKeyType, console_key_policy_document
from kmsd.cli import build_parser
from kmsd.cli.authz import KeyNameError, key_arn
from kmsd.crypto.key_spec import key_spec

KMSD = str(Path(sys.executable).with_name("kmsd"))


def run_kmsd(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    # A wide terminal, so argparse does not wrap a help line in the middle of "(default: ...)".
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([KMSD, *args], capture_output=True, text=True, timeout=60, check=False, cwd=cwd, env=env)


def _parsers(parser: argparse.ArgumentParser, path: str = "kmsd") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


def test_every_option_has_help_that_names_its_default_or_says_it_is_required() -> None:
    options = 0
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            label = f"{path} {'/'.join(action.option_strings) or action.dest}"
            assert action.help, f"{label} has no help"
            if action.option_strings:
                options += 1
                help_text = action.help % {"default": action.default}
                assert "(default" in help_text or "(required" in help_text, f"{label}: {help_text}"
                if action.required:
                    assert "required" in help_text, f"{label} is required but its help does not say so"
    assert options > 25  # the walk really reached every subcommand


def test_help_output_of_every_command_shows_the_defaults() -> None:
    done = run_kmsd("serve", "--help")
    assert done.returncode == 0
    assert "(default: 4599)" in done.stdout and "(default: sqlite:///./.kmsd/kmsd.db)" in done.stdout
    done = run_kmsd("accounts", "credentials", "--help")
    assert done.returncode == 0 and "--rotate" in done.stdout


def _policy(tmp_path: Path, actions: list[str], name: str = "policy.json") -> Path:
    path = tmp_path / name
    statement = {"Effect": "Allow", "Action": actions, "Resource": "*"}
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": [statement]}), encoding="utf-8")
    return path


def test_policy_check_names_an_action_that_does_not_exist_and_suggests_the_real_one(tmp_path: Path) -> None:
    path = _policy(tmp_path, ["kms:Encrpt", "iam:PasRole", "sts:AsumeRole"])
    text = path.read_text(encoding="utf-8")
    columns = [text.index(f'"{action}') for action in ("kms:Encrpt", "iam:PasRole", "sts:AsumeRole")]
    done = run_kmsd("policy", "check", str(path))
    # Access Analyzer, "Error – Invalid action": IAM accepts the document, but the action grants nothing.
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        f"{path}:1:{columns[0]}: error: The action kms:Encrpt does not exist. Did you mean kms:Encrypt? "
        "[INVALID_ACTION]",
        f"{path}:1:{columns[1]}: error: The action iam:PasRole does not exist. Did you mean iam:PassRole? "
        "[INVALID_ACTION]",
        f"{path}:1:{columns[2]}: error: The action sts:AsumeRole does not exist. Did you mean sts:AssumeRole? "
        "[INVALID_ACTION]",
        "fail: valid identity policy, 1 statement, 3 errors",
    ]


def test_policy_check_accepts_real_actions_any_case_and_wildcards_that_match(tmp_path: Path) -> None:
    actions = ["kms:encrypt", "kms:Get*", "kms:ReEncrypt*", "kms:ReEncryptFrom", "iam:PassRole", "sts:TagSession"]
    done = run_kmsd("policy", "check", str(_policy(tmp_path, [*actions, "s3:GetObjekt", "ec2:*"])))
    # Services kmsd has no model of (s3, ec2) are not judged.
    assert (done.returncode, done.stdout) == (0, "ok: valid identity policy, 1 statement, no findings\n")


def test_policy_check_reports_a_wildcard_that_matches_no_action(tmp_path: Path) -> None:
    path = _policy(tmp_path, ["kms:Encrypt", "kms:Zork*"])
    done = run_kmsd("policy", "check", str(path))
    column = path.read_text(encoding="utf-8").index('"kms:Zork*"')
    assert done.stdout.splitlines()[0] == (
        f"{path}:1:{column}: error: The action kms:Zork* matches no kms action. [INVALID_ACTION]"
    )


def test_known_actions_come_from_the_vendored_models() -> None:
    actions = known_actions()
    assert set(actions) == {"kms", "iam", "sts"}
    assert {"Encrypt", "ReEncryptFrom", "ReEncryptTo", "CreateKey"} <= actions["kms"]
    assert "ReEncrypt" not in actions["kms"]  # authorized as ReEncryptFrom and ReEncryptTo
    assert {"CreateUser", "PassRole"} <= actions["iam"] and {"AssumeRole", "TagSession"} <= actions["sts"]


def test_output_piped_into_head_ends_without_a_traceback(tmp_path: Path) -> None:
    # About 150 KB of findings: more than a pipe holds, so kmsd is still writing when head has gone.
    path = _policy(tmp_path, [f"kms:Nope{index}" for index in range(1500)])
    done = subprocess.run(
        f"'{KMSD}' policy check --limit key '{path}' | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert len(done.stdout.splitlines()) == 1 and done.stdout.startswith(f"{path}:1:")
    assert done.stderr == ""


def test_authz_explain_key_names_become_arns() -> None:
    key_id = "1234abcd-12ab-34cd-56ef-1234567890ab"
    alice = "arn:aws:iam::111122223333:user/alice"
    arn = f"arn:aws:kms:us-east-1:111122223333:key/{key_id}"
    assert key_arn(arn, None, None, alice) == arn
    assert key_arn(key_id, None, "us-east-1", alice) == arn
    assert (
        key_arn("alias/orders", "444455556666", "eu-west-1", alice) == "arn:aws:kms:eu-west-1:444455556666:alias/orders"
    )
    assert key_arn(key_id, None, "us-east-1", "111122223333") == arn
    with pytest.raises(KeyNameError, match="give --region"):
        key_arn(key_id, None, None, alice)
    with pytest.raises(KeyNameError, match="give --account"):
        key_arn(key_id, None, "us-east-1", "*")


def test_policy_console_default_prints_the_consoles_policy_and_policy_check_accepts_it(tmp_path: Path) -> None:
    admin = "arn:aws:iam::111122223333:role/KMSAdminRole"
    user = "arn:aws:iam::111122223333:user/ExampleUser"
    done = run_kmsd(
        "policy", "console-default", "--account", "111122223333", "--key-spec", "RSA_2048",
        "--key-usage", "SIGN_VERIFY", "--admin", admin, "--user", user, "--user", "444455556666",
        "--no-admin-deletion", "--multi-region",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = console_key_policy_document(
        "111122223333",
        ConsoleKeyType(key_spec("RSA_2048"), "SIGN_VERIFY", multi_region=True),
        administrators=[admin],
        users=[user, "444455556666"],
        administrators_may_delete=False,
    )
    assert done.stdout == json.dumps(expected, indent=4) + "\n"
    path = tmp_path / "key-policy.json"
    path.write_text(done.stdout, encoding="utf-8")
    checked = run_kmsd("policy", "check", "--kind", "resource", str(path))
    assert (checked.returncode, checked.stdout) == (0, "ok: valid resource policy, 4 statements, no findings\n")
    # As a key policy too: KMS's checks, the lockout safety check for the account root among them, pass.
    checked = run_kmsd("policy", "check", "--kind", "key", str(path))
    assert (checked.returncode, checked.stdout) == (0, "ok: valid key policy, 4 statements, no findings\n")


def test_policy_console_default_takes_the_only_usage_of_a_spec_and_refuses_in_one_line() -> None:
    done = run_kmsd("policy", "console-default", "--account", "111122223333", "--key-spec", "HMAC_256")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Statement"][0]["Sid"] == "Enable IAM User Permissions"
    for args, message in [
        (["--key-spec", "RSA_2048"], "kmsd: RSA_2048 keys need --key-usage (ENCRYPT_DECRYPT, SIGN_VERIFY)\n"),
        (
            ["--key-spec", "ECC_SECG_P256K1", "--key-usage", "KEY_AGREEMENT"],
            "kmsd: ECC_SECG_P256K1 keys cannot have key usage KEY_AGREEMENT (they take SIGN_VERIFY)\n",
        ),
        (["--admin", "alice"], "kmsd: 'alice' is not an IAM user or role ARN\n"),
    ]:
        refused = run_kmsd("policy", "console-default", "--account", "111122223333", *args)
        assert (refused.returncode, refused.stdout, refused.stderr) == (2, "", message)


def test_the_offline_tools_do_not_load_the_server_stack() -> None:
    # kmsd policy ... must start fast and work where only the policy engine is wanted.
    probe = (
        "import sys; from kmsd.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('kmsd.server', 'kmsd.api.app', 'uvicorn') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == "[]\n"


def test_serve_workers_is_one_by_default_a_number_or_one_per_core() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve"]).workers == 1
    assert parser.parse_args(["serve", "--workers", "3"]).workers == 3
    assert parser.parse_args(["serve", "--workers", "auto"]).workers == len(os.sched_getaffinity(0))
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--workers", "0"])
