"""The policy engine's side of issue 9: NotPrincipal with Allow, keys that differ only in case, hostile numbers.

Each test drives the engine (or ``kmsd policy explain``) the way a hostile
policy author or caller would, and checks the decision, never the time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kmsd.policy import PolicyKind, PrincipalInfo, RequestContext, evaluate, parse_policy
from kmsd.policy.commands import main
from kmsd.policy.values import parse_date, parse_number
from tests.policy.helpers import ACCOUNT, ALICE, KEY_ARN, ROOT, SESSION, allow, deny, document, identity

BOB = PrincipalInfo(f"arn:aws:iam::{ACCOUNT}:user/bob", ACCOUNT, "user")


def key_policy(*statements: dict[str, Any]) -> Any:
    return parse_policy(document(*statements), PolicyKind.RESOURCE, "kp")


def allow_all_but(*listed: str) -> dict[str, Any]:
    return {**allow("AllButListed"), "NotPrincipal": {"AWS": list(listed)}}


# --- item 12: NotPrincipal with Allow -------------------------------------------------------------------------


def test_not_principal_allow_gives_the_listed_user_nothing() -> None:
    policy = key_policy(allow_all_but(ALICE.arn))
    assert not evaluate(RequestContext("kms:Encrypt", KEY_ARN, ALICE), [policy]).allowed
    assert evaluate(RequestContext("kms:Encrypt", KEY_ARN, BOB), [policy]).allowed


def test_not_principal_allow_skips_whoever_principal_would_name() -> None:
    # A role ARN names the role's sessions; an account names its users and root.  NotPrincipal with Allow
    # leaves out every caller the same value in Principal would have let in.
    assert not evaluate(
        RequestContext("kms:Encrypt", KEY_ARN, SESSION), [key_policy(allow_all_but(str(SESSION.role_arn)))]
    ).allowed
    assert not evaluate(
        RequestContext("kms:Encrypt", KEY_ARN, SESSION), [key_policy(allow_all_but(SESSION.arn))]
    ).allowed
    by_account = key_policy(allow_all_but(ACCOUNT))
    for caller in (ALICE, ROOT, SESSION):
        assert not evaluate(RequestContext("kms:Encrypt", KEY_ARN, caller), [by_account]).allowed, caller.arn


def test_not_principal_deny_keeps_the_every_identity_rule() -> None:
    # With Deny, listing alice alone does not exempt her (her account is not listed); listing both does.
    allow_everyone = {**allow("All"), "Principal": {"AWS": "*"}}
    alone = key_policy(allow_everyone, {**deny("Others"), "NotPrincipal": {"AWS": ALICE.arn}})
    both = key_policy(allow_everyone, {**deny("Others"), "NotPrincipal": {"AWS": [ALICE.arn, ACCOUNT]}})
    context = RequestContext("kms:Encrypt", KEY_ARN, ALICE)
    assert evaluate(context, [alone]).outcome.value == "ExplicitDeny"
    assert evaluate(context, [both]).allowed


def test_policy_explain_says_the_allow_skips_the_listed_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps(document(allow_all_but(ALICE.arn))), encoding="utf-8")
    code = main(
        ["policy", "explain", "--action", "kms:Encrypt", "--resource", KEY_ARN, "--principal", ALICE.arn,
         "--resource-policy", str(path)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("decision: ImplicitDeny\n")
    assert "matched" not in out
    assert f"`{ALICE.arn}` is named by NotPrincipal" in out


# --- item 2: request values reach number and date parsing without regular expressions or crashes --------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12), ("-3", -3), ("+4", 4), ("1.5", 1.5), ("1.", 1.0), (".5", 0.5), ("2e3", 2000.0),
        ("1.5E-1", 0.15), (" 7 ", 7), ("", None), ("+", None), (".", None), ("1e", None), ("e1", None),
        ("1.2.3", None), ("1_000", None), ("١٢", None), ("0x10", None),
    ],
)  # fmt: skip
def test_numbers_are_read_as_before(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected


def test_a_number_past_pythons_digit_limit_still_compares() -> None:
    # int() refuses more than 4,300 digits; such a value used to raise out of evaluation (a 500 for the caller).
    huge = "9" * 5000
    assert parse_number(huge) == float("inf")
    assert parse_date(huge) == float("inf")
    policy = identity(allow(Condition={"NumericGreaterThan": {"kms:EncryptionContext:n": "10"}}))
    context = RequestContext("kms:Encrypt", KEY_ARN, ALICE, {"kms:EncryptionContext:n": huge})
    assert evaluate(context, [policy]).allowed


def test_dates_longer_than_any_iso_date_are_not_dates() -> None:
    assert parse_date("2026-03-01T12:00:00Z") == 1772366400.0
    assert parse_date("2026-03-01T12:00:00Z" + " " * 40 + "x") is None
    assert parse_date("2026-" * 2000) is None
