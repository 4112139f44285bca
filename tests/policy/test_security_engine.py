"""The policy engine's side of issue 9: NotPrincipal with Allow, keys that differ only in case, hostile numbers.

Each test drives the engine (or ``kmsd policy explain``) the way a hostile
policy author or caller would, and checks the decision, never the time.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from kmsd.cli import main
from kmsd.policy import PolicyKind, PrincipalInfo, RequestContext, evaluate, parse_policy
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


# --- item 11: keys that differ only in case ---------------------------------------------------------------------

TENANT = "kms:EncryptionContext:tenant"


def context_keys(*pairs: tuple[str, str], **extra: Any) -> dict[str, Any]:
    """Encryption context pairs as the KMS authorizer sends them, in the given (member) order."""
    keys: dict[str, Any] = {f"kms:EncryptionContext:{name}": value for name, value in pairs}
    keys["kms:EncryptionContextKeys"] = [name for name, _ in pairs]
    keys.update(extra)
    return keys


def decide(policies: list[Any], keys: dict[str, Any], principal: PrincipalInfo = ALICE) -> str:
    return evaluate(RequestContext("kms:Encrypt", KEY_ARN, principal, keys), policies).outcome.value


def both_orders(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [context_keys(*pairs), context_keys(*reversed(pairs))]


def test_an_allow_needs_every_spelling_to_pass() -> None:
    policy = identity(allow(Condition={"StringEquals": {TENANT: "a"}}))
    for keys in both_orders(("tenant", "b"), ("TENANT", "a")):
        assert decide([policy], keys) == "ImplicitDeny"
    for keys in both_orders(("tenant", "a"), ("TENANT", "a")):
        assert decide([policy], keys) == "Allow"


def test_a_deny_applies_when_any_spelling_matches() -> None:
    everything = identity(allow("All"))
    for operator, value in (("StringEquals", "a"), ("StringNotEquals", "b"), ("StringLike", "a*")):
        policy = identity(allow("All"), deny(Condition={operator: {TENANT: value}}))
        for keys in both_orders(("tenant", "b"), ("TENANT", "a")):
            assert decide([policy], keys) == "ExplicitDeny", operator
    assert decide([everything], context_keys(("tenant", "b"), ("TENANT", "a"))) == "Allow"


def test_negated_and_set_operators_are_decided_per_spelling() -> None:
    not_b = identity(allow(Condition={"StringNotEquals": {TENANT: "b"}}))
    any_a = identity(allow(Condition={"ForAnyValue:StringEquals": {TENANT: ["a", "c"]}}))
    if_exists = identity(allow(Condition={"StringEqualsIfExists": {TENANT: "a"}}))
    for keys in both_orders(("tenant", "b"), ("TENANT", "a")):
        assert decide([not_b], keys) == "ImplicitDeny"
        assert decide([any_a], keys) == "ImplicitDeny"
        assert decide([if_exists], keys) == "ImplicitDeny"
    for keys in both_orders(("tenant", "c"), ("Tenant", "a")):
        assert decide([not_b], keys) == "Allow"
        assert decide([any_a], keys) == "Allow"


def test_presence_is_unaffected_by_spellings() -> None:
    present = identity(allow(Condition={"Null": {TENANT: "false"}}))
    keys = context_keys(("tenant", "b"), ("TENANT", "a"))
    assert decide([present], keys) == "Allow"
    # The case-sensitive list of names still shows both spellings, as AWS advises for case-sensitive checks.
    exact = identity(allow(Condition={"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["tenant"]}}))
    assert decide([exact], keys) == "ImplicitDeny"


def test_tags_spelled_twice_cannot_pass_on_the_other_spelling() -> None:
    on_dev = identity(allow(Condition={"StringEquals": {"aws:RequestTag/env": "dev"}}))
    no_prod = identity(allow("All"), deny(Condition={"StringEquals": {"aws:ResourceTag/ENV": "prod"}}))
    for first, second in ((("env", "prod"), ("ENV", "dev")), (("ENV", "dev"), ("env", "prod"))):
        request_tags = {f"aws:RequestTag/{name}": value for name, value in (first, second)}
        resource_tags = {f"aws:ResourceTag/{name}": value for name, value in (first, second)}
        assert decide([on_dev], request_tags) == "ImplicitDeny"
        assert decide([no_prod], resource_tags) == "ExplicitDeny"


def test_a_variable_reading_a_key_spelled_twice_is_decided_per_spelling() -> None:
    owner = identity(allow(Condition={"StringEquals": {"aws:username": "${aws:RequestTag/owner}"}}))
    team = identity(
        allow("All"),
        deny(Condition={"StringNotEquals": {"aws:PrincipalTag/team": "${aws:RequestTag/team, 'none'}"}}),
    )
    for pairs in ((("owner", "alice"), ("OWNER", "bob")), (("OWNER", "bob"), ("owner", "alice"))):
        keys = {"aws:username": "alice", **{f"aws:RequestTag/{name}": value for name, value in pairs}}
        assert decide([owner], keys) == "ImplicitDeny"
    same = {"aws:username": "alice", "aws:RequestTag/owner": "alice", "aws:RequestTag/OWNER": "alice"}
    assert decide([owner], same) == "Allow"
    for pairs in ((("team", "red"), ("TEAM", "blue")), (("TEAM", "blue"), ("team", "red"))):
        keys = {"aws:PrincipalTag/team": "red", **{f"aws:RequestTag/{name}": value for name, value in pairs}}
        assert decide([team], keys) == "ExplicitDeny"


def test_too_many_combinations_of_spellings_fail_closed() -> None:
    # 16 spellings of "abcd" times 16 of "wxyz" is past the bound: no allow, and the deny applies.
    def spellings(word: str) -> list[str]:
        return ["".join(chars) for chars in itertools.product(*((c, c.upper()) for c in word))]

    keys = {f"aws:RequestTag/{name}": "v" for name in spellings("abcd") + spellings("wxyz")}
    condition = {"StringEquals": {"aws:RequestTag/abcd": "${aws:RequestTag/wxyz}"}}
    assert decide([identity(allow(Condition=condition))], keys) == "ImplicitDeny"
    assert decide([identity(allow("All"), deny(Condition=condition))], keys) == "ExplicitDeny"
    # Within the bound the same request is decided exactly: every spelling holds "v", so the allow holds.
    few = {f"aws:RequestTag/{name}": "v" for name in ("abcd", "ABCD", "wxyz", "WXYZ")}
    assert decide([identity(allow(Condition=condition))], few) == "Allow"


def test_resource_policies_see_spellings_too() -> None:
    policy = key_policy(
        {**allow("Tenant"), "Principal": {"AWS": ALICE.arn}, "Condition": {"StringEquals": {TENANT: "a"}}}
    )
    for keys in both_orders(("tenant", "b"), ("TENANT", "a")):
        assert decide([policy], keys) == "ImplicitDeny"
