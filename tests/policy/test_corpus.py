"""Runs the policy conformance corpus in tests/corpus/policy/*.json against :mod:`kmsd.policy`.

The corpus is data: each case gives policies, a request and the decision AWS
reaches for them (with the statements that decided it), or a document that
AWS refuses and the reason it gives.  Every case becomes one pytest case named
after it; tests/corpus/README.md describes the format, so the same files can
check any other implementation of the IAM policy language.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kmsd.policy import (
    Decision,
    Outcome,
    Policy,
    PolicyKind,
    PolicySizeError,
    PolicyValidationError,
    PrincipalInfo,
    RequestContext,
    evaluate,
    parse_policy,
)

CORPUS_DIR = Path(__file__).resolve().parent.parent / "corpus" / "policy"
MINIMUM_CASES = 250

_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_CASE_FIELDS = {"name", "source", "note", "policies", "request", "expect"}
_POLICY_FIELDS = {"id", "kind", "document", "document_text"}
_REQUEST_FIELDS = {"action", "resource", "principal", "keys", "resource_account", "iam_only_keys"}
_PRINCIPAL_FIELDS = {"arn", "account_id", "kind", "role_arn"}
_DECISION_FIELDS = {"decision", "statements", "denial_kind"}
_ERROR_FIELDS = {"error", "error_type"}
_ERROR_TYPES = {"size"}


@dataclass(frozen=True)
class CorpusCase:
    """One case as read from its file; ``data`` is the JSON object itself."""

    file: str
    data: Mapping[str, Any]

    @property
    def name(self) -> str:
        return str(self.data.get("name", ""))

    @property
    def expects_error(self) -> bool:
        return "error" in self.data.get("expect", {})


def load_corpus() -> list[CorpusCase]:
    """Every case of every file, in file order; a file holds one case object or a list of them."""
    cases: list[CorpusCase] = []
    for path in sorted(CORPUS_DIR.glob("*.json")):
        content = json.loads(path.read_text(encoding="utf-8"))
        entries = content if isinstance(content, list) else [content]
        cases.extend(CorpusCase(path.name, entry) for entry in entries)
    return cases


CORPUS = load_corpus()


def shape_problems(case: CorpusCase) -> list[str]:
    """What is malformed about a case, so a typo in the corpus fails loudly instead of testing nothing."""
    data = case.data
    if not isinstance(data, Mapping):
        return ["a case must be a JSON object"]
    problems = [f"unknown field `{field}`" for field in data if field not in _CASE_FIELDS]
    if not _NAME.fullmatch(case.name):
        problems.append(f"name `{case.name}` is not kebab-case")
    source = data.get("source")
    if source is not None and not (isinstance(source, str) and source.startswith(("https://", "http://", "/"))):
        problems.append("source must be a URL or a path")
    if "note" in data and not isinstance(data["note"], str):
        problems.append("note must be a string")
    policies = data.get("policies")
    if not isinstance(policies, list):
        problems.append("policies must be a list")
    else:
        for policy in policies:
            problems.extend(_policy_problems(policy))
    expect = data.get("expect")
    if not isinstance(expect, Mapping):
        return [*problems, "expect must be an object"]
    if case.expects_error:
        problems.extend(f"unknown expect field `{field}`" for field in expect if field not in _ERROR_FIELDS)
        if not (isinstance(expect["error"], str) or expect["error"] is True):
            problems.append("expect.error must be a message substring or true")
        if "error_type" in expect and expect["error_type"] not in _ERROR_TYPES:
            problems.append(f"expect.error_type must be one of {sorted(_ERROR_TYPES)}")
        if "request" in data:
            problems.append("an error case has no request")
    else:
        problems.extend(f"unknown expect field `{field}`" for field in expect if field not in _DECISION_FIELDS)
        if expect.get("decision") not in {outcome.value for outcome in Outcome}:
            problems.append("expect.decision must be Allow, ExplicitDeny or ImplicitDeny")
        statements = expect.get("statements", [])
        if not (isinstance(statements, list) and all(isinstance(item, str) for item in statements)):
            problems.append("expect.statements must be a list of statement ids")
        denial_kind = expect.get("denial_kind")
        if denial_kind is not None and denial_kind not in {kind.value for kind in PolicyKind}:
            problems.append(f"expect.denial_kind `{denial_kind}` is not a policy kind")
        problems.extend(_request_problems(data.get("request")))
    return problems


def _policy_problems(policy: Any) -> list[str]:
    if not isinstance(policy, Mapping):
        return ["each policy must be an object"]
    problems = [f"unknown policy field `{field}`" for field in policy if field not in _POLICY_FIELDS]
    if not isinstance(policy.get("id"), str):
        problems.append("policy id must be a string")
    if policy.get("kind") not in {kind.value for kind in PolicyKind}:
        problems.append(f"policy kind `{policy.get('kind')}` is not a policy kind")
    if ("document" in policy) == ("document_text" in policy):
        problems.append("a policy has exactly one of document and document_text")
    if "document_text" in policy and not isinstance(policy["document_text"], str):
        problems.append("document_text must be a string")
    return problems


def _request_problems(request: Any) -> list[str]:
    if not isinstance(request, Mapping):
        return ["a decision case needs a request object"]
    problems = [f"unknown request field `{field}`" for field in request if field not in _REQUEST_FIELDS]
    for field in ("action", "resource"):
        if not isinstance(request.get(field), str):
            problems.append(f"request.{field} must be a string")
    principal = request.get("principal")
    if not isinstance(principal, Mapping):
        problems.append("request.principal must be an object")
    else:
        problems.extend(f"unknown principal field `{field}`" for field in principal if field not in _PRINCIPAL_FIELDS)
        for field in ("arn", "account_id", "kind"):
            if not isinstance(principal.get(field), str):
                problems.append(f"request.principal.{field} must be a string")
    keys = request.get("keys", {})
    if not isinstance(keys, Mapping):
        problems.append("request.keys must be an object")
    else:
        for key, value in keys.items():
            single = isinstance(value, str)
            multi = isinstance(value, list) and all(isinstance(item, str) for item in value)
            if not (single or multi):
                problems.append(f"request.keys[{key}] must be a string or a list of strings")
    iam_only = request.get("iam_only_keys", [])
    if not (isinstance(iam_only, list) and all(isinstance(item, str) for item in iam_only)):
        problems.append("request.iam_only_keys must be a list of key names")
    return problems


def build_policy(spec: Mapping[str, Any]) -> Policy:
    document = spec["document_text"] if "document_text" in spec else spec["document"]
    return parse_policy(document, PolicyKind(spec["kind"]), policy_id=str(spec["id"]))


def build_context(request: Mapping[str, Any]) -> RequestContext:
    principal = request["principal"]
    keys: dict[str, str | Sequence[str]] = {
        str(name): value if isinstance(value, str) else tuple(value) for name, value in request.get("keys", {}).items()
    }
    return RequestContext(
        action=str(request["action"]),
        resource=str(request["resource"]),
        principal=PrincipalInfo(
            arn=str(principal["arn"]),
            account_id=str(principal["account_id"]),
            kind=str(principal["kind"]),
            role_arn=principal.get("role_arn"),
        ),
        keys=keys,
        resource_account=request.get("resource_account"),
        iam_only_keys=frozenset(str(name) for name in request.get("iam_only_keys", [])),
    )


def _summary(case: CorpusCase, decision: Decision) -> str:
    """What the engine said, beside why the case expects otherwise, for a failing assertion."""
    said = {key: value for key, value in decision.to_json().items() if key != "trace"}
    why = case.data.get("note") or case.data.get("source") or ""
    return f"{case.file}: {case.name}: engine said {json.dumps(said)}; case: {why}"


def check_error_case(case: CorpusCase) -> None:
    expect = case.data["expect"]
    with pytest.raises(PolicyValidationError) as raised:
        for spec in case.data["policies"]:
            build_policy(spec)
    if expect.get("error_type") == "size":
        assert isinstance(raised.value, PolicySizeError), f"{case.name}: expected a size error, got {raised.value!r}"
    if isinstance(expect["error"], str):
        # AWS words these reasons loosely across its consoles and APIs; a case-insensitive substring pins the wording.
        assert expect["error"].lower() in raised.value.message.lower(), (
            f"{case.name}: message was {raised.value.message!r}"
        )


def check_decision_case(case: CorpusCase) -> None:
    expect = case.data["expect"]
    policies = [build_policy(spec) for spec in case.data["policies"]]
    decision = evaluate(build_context(case.data["request"]), policies)
    assert decision.outcome is Outcome(expect["decision"]), _summary(case, decision)
    if "statements" in expect:
        assert sorted(decision.statements) == sorted(expect["statements"]), _summary(case, decision)
    if "denial_kind" in expect:
        wanted = None if expect["denial_kind"] is None else PolicyKind(expect["denial_kind"])
        assert decision.denial_kind is wanted, _summary(case, decision)


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in CORPUS])
def test_corpus_case(case: CorpusCase) -> None:
    if case.expects_error:
        check_error_case(case)
    else:
        check_decision_case(case)


def test_corpus_has_enough_cases() -> None:
    assert len(CORPUS) >= MINIMUM_CASES


def test_corpus_case_names_are_unique() -> None:
    repeated = sorted(name for name, count in Counter(case.name for case in CORPUS).items() if count > 1)
    assert repeated == []


def test_corpus_cases_are_well_formed() -> None:
    problems = [f"{case.file}: {case.name}: {problem}" for case in CORPUS for problem in shape_problems(case)]
    assert problems == []


def test_corpus_files_each_hold_cases() -> None:
    """No corpus file is empty, and the corpus holds allows, both kinds of denial and refused documents."""
    files = {path.name for path in CORPUS_DIR.glob("*.json")}
    assert files == {case.file for case in CORPUS}
    outcomes = {"error" if case.expects_error else case.data["expect"]["decision"] for case in CORPUS}
    assert outcomes == {"error", "Allow", "ExplicitDeny", "ImplicitDeny"}
