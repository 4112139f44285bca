"""The ``x-kmsd-explanation`` summary: the deciding statements and AWS's reason, as one bounded line of ASCII."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kmsd.api.explanation_header import MAX_LENGTH, summary

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def check(allowed: bool, *, deny: Sequence[str] = (), allow: Sequence[str] = (), reason: str = "") -> dict[str, Any]:
    return {
        "action": "kms:Decrypt",
        "resource": KEY,
        "allowed": allowed,
        "reason": reason,
        "policies": {"kinds": {"resource": {"deny_statements": list(deny), "allow_statements": list(allow)}}},
    }


def test_names_the_refused_permission_its_reason_and_the_statements_denies_first() -> None:
    explanation = {
        "decision": "Deny",
        "checks": [
            check(True, allow=["key-policy:Allow all"]),
            check(
                False,
                deny=["key-policy:No decrypt"],
                allow=["key-policy:Allow all"],
                reason="with an explicit deny in a resource-based policy",
            ),
        ],
    }
    assert summary(explanation) == (
        f"kms:Decrypt on {KEY}: denied, with an explicit deny in a resource-based policy "
        "[deny: key-policy:No decrypt; allow: key-policy:Allow all]"
    )


def test_says_when_no_statement_applied() -> None:
    text = summary({"checks": [check(False, reason="because no resource-based policy allows the kms:Decrypt action")]})
    assert text.endswith("allows the kms:Decrypt action [no statement applied]")


def test_is_visible_ascii_and_bounded() -> None:
    # Key-policy Sids may hold Latin-1 letters and tabs; a header may not.
    text = summary({"checks": [check(False, deny=["key-policy:Café\tbar"], reason="r")]})
    assert text.endswith("[deny: key-policy:Caf\\xe9\\tbar]")
    assert all(" " <= char <= "~" for char in text)
    long = summary({"checks": [check(False, deny=[f"key-policy:Statement {index}" for index in range(500)])]})
    assert len(long) == MAX_LENGTH and long.endswith("...")
