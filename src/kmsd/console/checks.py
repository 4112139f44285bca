"""What the console asks of kmsd without making a call: may the user do this, is this policy right, what would the
console's wizard write.

- :func:`permission_checks` decides, for the signed-in caller, the change
  actions the page offers, with the live authorizer
  (:meth:`~kmsd.authz.simulation.KmsKeySimulator.check_caller`), so a control
  the user may not use is disabled with AWS's reason before it is tried.  It
  acts on nothing and is not a call (so not audited), like the console of AWS
  reading its user's permissions.
- :func:`lint_key_policy` is ``kmsd policy check`` for a key policy in the
  editor: the linter's findings, KMS's own checks, and the lockout check asked
  for the signed-in caller, on the key being edited.
- :func:`console_policy` is the default key policy AWS's console writes for the
  wizard's choices (:mod:`kmsd.authz.console_policy`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from kmsd.api.known_actions import known_actions
from kmsd.authz.console_policy import ConsoleKeyType, ConsolePolicyError, console_key_policy_document
from kmsd.authz.decide import CallDecision
from kmsd.authz.denial import AccessDeniedError
from kmsd.authz.policy_checks import lockout_check, offline_checks
from kmsd.authz.simulation import KmsKeySimulator
from kmsd.clock import Clock
from kmsd.crypto.key_spec import KEY_SPECS
from kmsd.iam.principal import Caller
from kmsd.policy import PolicyKind
from kmsd.policy.commands import LIMITS
from kmsd.policy.lint import lint_policy
from kmsd.store.base import Store

# At most this many permissions per request (a key page asks about a dozen).
MAX_CHECKS = 50
NOT_CHECKED = "not checked"


def permission_checks(
    store: Store, clock: Clock, caller: Caller, checks: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One answer per ``{"action", "resource"}``: allowed or not, AWS's message and reason, the explanation."""
    simulator = KmsKeySimulator(store, clock)
    answers = []
    for check in checks[:MAX_CHECKS]:
        action, resource = str(check.get("action", "")), str(check.get("resource", ""))
        answer: dict[str, Any] = {"action": action, "resource": resource}
        result = simulator.check_caller(caller, action, resource) if action.lower().startswith("kms:") else None
        if result is None:
            answers.append({**answer, "allowed": None, "message": "", "reason": NOT_CHECKED, "explanation": None})
            continue
        message = "" if result.allowed else result.message(caller.principal.arn)
        # The decision as a refused call's explanation, and the same rule: only a caller of the resource's own
        # account sees its policies.
        denied = None if result.allowed else result
        decision = CallDecision(result.permission.action.partition(":")[2], caller, (result,), denied)
        shown = AccessDeniedError(message, decision.explanation).explanation_for(caller.principal.account_id)
        answers.append(
            {**answer, "allowed": result.allowed, "message": message, "reason": result.reason, "explanation": shown}
        )
    return answers


def lint_key_policy(store: Store, clock: Clock, caller: Caller, text: str, key_arn: str | None) -> dict[str, Any]:
    """ValidatePolicy's answer for ``text`` as the key policy of ``key_arn`` (a new key when None), with
    ``valid``: whether no finding is an ERROR."""
    checks = [
        *offline_checks(True),
        lockout_check(store, clock, principal=caller.principal.arn, key_arn=key_arn, caller_principal=caller.principal),
    ]
    report = lint_policy(text, PolicyKind.RESOURCE, limit=LIMITS["key"], known_actions=known_actions(), checks=checks)
    answer = report.to_json()
    answer["valid"] = not any(finding["findingType"] == "ERROR" for finding in answer["findings"])
    return answer


def console_policy(account_id: str, choices: Mapping[str, Any]) -> dict[str, Any]:
    """``{"policy": text}``, the wizard's key policy, or ``{"error": ...}`` for choices it cannot be written for."""
    spec = KEY_SPECS.get(str(choices.get("keySpec", "SYMMETRIC_DEFAULT")))
    if spec is None:
        return _invalid(f"unknown key spec {choices.get('keySpec')!r}")
    try:
        key_type = ConsoleKeyType(
            spec,
            str(choices.get("keyUsage") or spec.key_usages[0]),
            multi_region=bool(choices.get("multiRegion")),
            imported=choices.get("origin") == "EXTERNAL",
        )
        users = [*_strings(choices.get("users")), *_strings(choices.get("otherAccounts"))]
        document = console_key_policy_document(
            account_id,
            key_type,
            administrators=_strings(choices.get("administrators")),
            users=users,
            administrators_may_delete=choices.get("administratorsMayDelete", True) is not False,
        )
    except ConsolePolicyError as error:
        return _invalid(str(error))
    return {"policy": json.dumps(document, indent=4)}


def _strings(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _invalid(message: str) -> dict[str, Any]:
    return {"error": {"code": "ValidationException", "message": message}}
