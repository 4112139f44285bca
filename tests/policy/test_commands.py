"""`kmsd policy check` and `kmsd policy explain`: output, exit codes, and no traceback on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kmsd.cli import build_parser, main
from kmsd.policy import PrincipalInfo
from kmsd.policy.commands import UsageError, parse_context, principal_from_arn
from tests.policy.helpers import allow, deny, document

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = "arn:aws:iam::111122223333:user/alice"


def write(tmp_path: Path, name: str, content: Any) -> str:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["policy", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_check_accepts_a_valid_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "user.json", document(allow()))
    assert run(capsys, "check", path) == (0, "ok: valid identity policy, 1 statement, no findings\n", "")


def test_check_prints_findings_with_line_and_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "key.json", document({**allow("Open"), "Principal": "*"}))
    code, out, _ = run(capsys, "check", path, "--kind", "resource")
    assert code == 0
    column = json.dumps(document({**allow("Open"), "Principal": "*"})).index('"Principal": "*"') + len('"Principal": ')
    assert out.startswith(f"{path}:1:{column}: security-warning: The statement allows every principal")
    assert out.endswith("[PUBLIC_ACCESS]\nok: valid resource policy, 1 statement, 1 security warning\n")


def test_check_reports_aws_reason_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "key.json", document(allow()))
    code, out, _ = run(capsys, "check", path, "--kind", "resource")
    assert code == 1
    assert out == (
        f"{path}:1:40: error: Missing required field Principal (statement S has no `Principal`) "
        "[MISSING_PRINCIPAL]\nfail: not a valid resource policy, 1 error\n"
    )


def test_check_applies_the_chosen_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "inline.json", document(allow("A" * 3000)))
    assert run(capsys, "check", path, "--limit", "role-inline")[0] == 0
    code, out, _ = run(capsys, "check", path, "--limit", "user-inline")
    assert code == 1
    assert out.startswith(f"{path}:1:0: error: Maximum policy size of 2048 bytes exceeded")


def test_check_json_is_a_validate_policy_response(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "key.json", {"Statement": [{**allow("Open"), "Principal": "*"}]})
    code, out, err = run(capsys, "check", path, "--kind", "RESOURCE_POLICY", "--json")
    assert (code, err) == (0, "")
    response = json.loads(out)
    assert [(item["findingType"], item["issueCode"]) for item in response["findings"]] == [
        ("WARNING", "MISSING_VERSION"),
        ("SECURITY_WARNING", "PUBLIC_ACCESS"),
    ]
    assert response["findings"][1]["locations"][0]["path"] == [
        {"value": "Statement"},
        {"index": 0},
        {"value": "Principal"},
    ]


def test_check_fail_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "key.json", {"Statement": [{**allow("Open"), "Principal": "*"}]})
    assert run(capsys, "check", path, "--kind", "resource")[0] == 0
    assert run(capsys, "check", path, "--kind", "resource", "--fail-on", "warning")[0] == 1
    code, out, _ = run(capsys, "check", path, "--kind", "resource", "--fail-on", "security-warning")
    assert code == 1
    assert out.endswith("fail: valid resource policy, 1 statement, 1 security warning, 1 warning\n")
    assert run(capsys, "check", write(tmp_path, "ok.json", document(allow())), "--fail-on", "suggestion")[0] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kind", "SERVICE_CONTROL_POLICY"], "policy type SERVICE_CONTROL_POLICY is not supported"),
        (["--resource-type", "AWS::S3::Bucket"], "resource type AWS::S3::Bucket is not supported"),
        (["--resource-type", "AWS::KMS::Key"], "resource type AWS::KMS::Key needs a resource policy"),
        (["--store", "sqlite:///x.db"], "--store, --key and --principal check a key policy"),
        (["--kind", "key", "--principal", "arn:aws:iam::111122223333:user/alice"], "needs --store"),
        (["--kind", "key", "--store", "sqlite:///no/such/kmsd.db"], "no store at sqlite:///no/such/kmsd.db"),
    ],
)
def test_check_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    path = write(tmp_path, "p.json", document(allow()))
    code, out, err = run(capsys, "check", path, *argv)
    assert (code, out) == (1, "")
    assert err.startswith("kmsd policy check: ") and message in err


def test_check_key_policy_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}
    good = write(tmp_path, "good.json", document({**root, "Action": "kms:*", "Resource": "*"}))
    assert run(capsys, "check", good, "--kind", "key") == (0, "ok: valid key policy, 1 statement, no findings\n", "")
    code, out, _ = run(capsys, "check", good, "--kind", "RESOURCE_POLICY", "--resource-type", "AWS::KMS::Key")
    assert (code, out) == (0, "ok: valid key policy, 1 statement, no findings\n")
    # The account root may not put the policy again: KMS's lockout safety check refuses it.
    locked = write(tmp_path, "locked.json", document({**root, "Action": "kms:Encrypt", "Resource": "*"}))
    code, out, _ = run(capsys, "check", locked, "--kind", "key")
    assert code == 1
    assert "[KMS_KEY_POLICY_LOCKOUT]" in out
    assert run(capsys, "check", locked, "--kind", "resource")[0] == 0


@pytest.mark.parametrize(
    "content",
    [b"", b"\xff\xfe", b"{", b"null", b"[1,2]", b'{"Statement": {"Effect": 1}}', b"\x00" * 10, '{"a": "\u2028"}'],
)
def test_check_never_shows_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: Any) -> None:
    path = write(tmp_path, "bad.json", content)
    for kind in ("identity", "resource", "boundary", "session", "key"):
        code, out, err = run(capsys, "check", path, "--kind", kind)
        assert code == 1
        assert ": error: " in out.splitlines()[0]
        assert out.endswith(f"fail: not a valid {kind} policy, 1 error\n")
        assert "Traceback" not in out + err


def test_check_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "check", str(tmp_path / "absent.json"))
    assert code == 1
    assert out == ""
    assert err.startswith("kmsd policy check: cannot read ")


def test_explain_prints_decision_and_trace(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user = write(tmp_path, "user.json", document(allow("Use", Condition={"StringEquals": {"aws:username": "alice"}})))
    key = write(
        tmp_path,
        "key.json",
        document({**allow("Enable", action="kms:*"), "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}),
    )
    code, out, err = run(
        capsys, "explain", "--action", "kms:Encrypt", "--resource", KEY, "--principal", ALICE,
        "--policy", user, "--resource-policy", key,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith("decision: Allow\ndeciding statements: key:Enable, user:Use\n")
    assert "  user:Use [identity] Allow: matched" in out  # aws:username came from the ARN


def test_explain_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    user = write(
        tmp_path,
        "user.json",
        document(
            allow("Use"), deny("Block", Condition={"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "secret"}})
        ),
    )
    code, out, _ = run(
        capsys, "explain", "--action", "kms:Encrypt", "--resource", KEY, "--principal", ALICE, "--policy", user,
        "--context", "kms:EncryptionContextKeys=app", "--context", "kms:EncryptionContextKeys=secret", "--json",
    )  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["decision"] == "ExplicitDeny"
    assert report["statements"] == ["user:Block"]
    assert report["message"].endswith("with an explicit deny in an identity-based policy")
    assert {entry["statement"] for entry in report["trace"]} == {"user:Use", "user:Block"}


def test_explain_with_boundary_and_session_policy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    role = write(tmp_path, "role.json", document(allow("All", action="kms:*")))
    bound = write(tmp_path, "bound.json", document(allow("Bound", action="kms:*")))
    session = write(tmp_path, "session.json", document(allow("Only", action="kms:Decrypt")))
    code, out, _ = run(
        capsys, "explain", "--action", "kms:Encrypt", "--resource", KEY,
        "--principal", "arn:aws:sts::111122223333:assumed-role/App/s1",
        "--policy", role, "--boundary", bound, "--session-policy", session, "--json",
    )  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["decision"] == "ImplicitDeny"
    assert report["denial_kind"] == "session"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--principal", "bogus"], "cannot tell what kind of principal `bogus` is"),
        (["--principal", ALICE, "--context", "novalue"], "--context `novalue` is not KEY=VALUE"),
        (["--principal", ALICE, "--policy", "/nonexistent/p.json"], "cannot read /nonexistent/p.json"),
    ],
)
def test_explain_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code, out, err = run(capsys, "explain", "--action", "kms:Encrypt", "--resource", KEY, *argv)
    assert code == 1
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_explain_names_the_bad_policy_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.json", document({**allow(), "Principal": "*"}))
    code, _, err = run(capsys, "explain", "--action", "a:b", "--resource", "*", "--principal", ALICE, "--policy", bad)
    assert code == 1
    assert f"{bad}: Has prohibited field Principal" in err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("111122223333", PrincipalInfo("arn:aws:iam::111122223333:root", "111122223333", "root")),
        ("arn:aws:iam::111122223333:root", PrincipalInfo("arn:aws:iam::111122223333:root", "111122223333", "root")),
        (ALICE, PrincipalInfo(ALICE, "111122223333", "user")),
        (
            "arn:aws:iam::111122223333:role/x/R",
            PrincipalInfo("arn:aws:iam::111122223333:role/x/R", "111122223333", "role"),
        ),
        (
            "arn:aws-cn:sts::111122223333:assumed-role/R/s",
            PrincipalInfo(
                "arn:aws-cn:sts::111122223333:assumed-role/R/s",
                "111122223333",
                "assumed-role",
                "arn:aws-cn:iam::111122223333:role/R",
            ),
        ),
        ("kms.amazonaws.com", PrincipalInfo("kms.amazonaws.com", "", "service")),
        ("accounts.google.com", PrincipalInfo("accounts.google.com", "", "federated")),
        (
            "arn:aws:iam::111122223333:saml-provider/Corp",
            PrincipalInfo("arn:aws:iam::111122223333:saml-provider/Corp", "111122223333", "federated"),
        ),
        ("*", PrincipalInfo("*", "", "anonymous")),
    ],
)
def test_principal_kind_and_account_come_from_the_arn(text: str, expected: PrincipalInfo) -> None:
    assert principal_from_arn(text) == expected


def test_context_keys() -> None:
    session = principal_from_arn("arn:aws:sts::111122223333:assumed-role/R/s")
    keys = parse_context(["a:b=1", "A:B=2", "c:d=x=y", "e:f="], session)
    assert keys == {
        "a:b": ["1", "2"],  # a key given twice (in any case) is multivalued
        "c:d": "x=y",
        "e:f": "",
        "aws:PrincipalArn": "arn:aws:iam::111122223333:role/R",
        "aws:PrincipalAccount": "111122223333",
    }
    user = parse_context(["aws:username=other"], principal_from_arn(ALICE))
    assert user["aws:username"] == "other"  # given keys win over derived ones
    with pytest.raises(UsageError):
        parse_context(["=x"], session)


def test_the_cli_parser_has_the_policy_command() -> None:
    args = build_parser().parse_args(["policy", "check", "f.json", "--kind", "boundary"])
    assert (args.command, args.policy_command, args.file, args.kind) == ("policy", "check", "f.json", "boundary")
    assert callable(args.handler)


def test_module_runs_as_a_program(tmp_path: Path) -> None:
    path = write(tmp_path, "user.json", "{not json")
    done = subprocess.run(
        [sys.executable, "-m", "kmsd.cli", "policy", "check", path],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout.startswith(f"{path}:1:1: error: Syntax errors in policy.")
    assert "Traceback" not in done.stderr
