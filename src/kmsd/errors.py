"""AWS API errors, shared by every service package.

A service function raises an :class:`AwsError` carrying AWS's error code, HTTP
status and message; the API layer encodes it as ``__type`` (JSON 1.1) or
``<Code>`` (query/XML) and never adds a reason of its own.  Messages never
contain secrets: plaintexts, key material and secret keys stay out of them.

Hierarchy::

    AwsError                       code, message, status (400 unless said)
    ├── ValidationError            ValidationException (AWS's "N validation error(s) detected: ..." form)
    ├── ExplainedError             a refusal that can also say why (the decision's trace, rendered on demand)
    └── (one instance per code; use the helpers below, e.g. ``not_found(msg)``)

Codes are plain strings rather than one class each, because the same code
travels through KMS, IAM and STS and only the code, status and message reach
the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class AwsError(Exception):
    """An error an AWS service returns: ``code`` (e.g. ``NotFoundException``), HTTP ``status``, ``message``."""

    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class ExplainedError(AwsError):
    """A refusal (KMS's AccessDeniedException, IAM's AccessDenied) carrying the decision that refused.

    The trace is rendered only when asked for (``kmsd serve --explain-denials``, the console's "Why?" panel),
    so a refusal costs no more than an allow.  It shows the policies and grants of the resources checked, so
    it is given only to a caller in the account that owns every one of them (:meth:`explanation_for`).
    """

    def __init__(
        self, code: str, message: str, status: int, explain: Callable[[], dict[str, Any]] | None = None
    ) -> None:
        super().__init__(code, message, status)
        self._explain = explain

    def explanation(self) -> dict[str, Any] | None:
        """The machine-readable trace of the decision (policies consulted, statements and why), if known."""
        return self._explain() if self._explain is not None else None

    def explanation_for(self, caller_account: str) -> dict[str, Any] | None:
        """The trace, only if every resource it covers belongs to ``caller_account`` (or is ``*``); else None."""
        explanation = self.explanation()
        if explanation is None:
            return None
        checks = explanation.get("checks")
        if not isinstance(checks, list):
            return None
        for check in checks:
            resource = check.get("resource") if isinstance(check, dict) else None
            if not isinstance(resource, str) or not _owned_by(resource, caller_account):
                return None
        return explanation


def _owned_by(resource: str, account_id: str) -> bool:
    """Whether ``resource`` is ``*`` (an action on no resource, decided by the caller's own policies) or an
    ARN whose account field is ``account_id``."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    return len(parts) == 6 and parts[0] == "arn" and parts[4] == account_id


class ValidationError(AwsError):
    """``ValidationException`` in AWS's form: ``1 validation error detected: Value 'x' at 'keyId' failed ...``."""

    def __init__(self, problems: Sequence[str] | str) -> None:
        if isinstance(problems, str):
            message = problems
        else:
            count = len(problems)
            noun = "error" if count == 1 else "errors"
            message = f"{count} validation {noun} detected: " + "; ".join(problems)
        super().__init__("ValidationException", message, 400)


class _HiddenValue:
    """Stands for a sensitive value, which AWS leaves out: ``Value at 'plaintext' failed ...``."""


HIDDEN = _HiddenValue()


# AWS's fixed wording for credentials that do not work; shared by the SigV4 layer and the IAM services.
INVALID_SECURITY_TOKEN = "The security token included in the request is invalid."
EXPIRED_SECURITY_TOKEN = "The security token included in the request is expired"


def constraint_violation(value: object, path: str, constraint: str) -> str:
    """One problem in AWS's wording: ``Value 'v' at 'path' failed to satisfy constraint: Member must ...``.

    ``value`` is shown as AWS shows it: ``null`` for a missing member, nothing at
    all for :data:`HIDDEN` (sensitive members such as plaintexts).
    """
    if value is HIDDEN:
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


# Shortcuts for the codes that KMS raises most; each is an ordinary AwsError.
def not_found(message: str) -> AwsError:
    return AwsError("NotFoundException", message)


def invalid_arn(message: str) -> AwsError:
    return AwsError("InvalidArnException", message)


def disabled(message: str) -> AwsError:
    return AwsError("DisabledException", message)


def invalid_state(message: str) -> AwsError:
    return AwsError("KMSInvalidStateException", message)


def already_exists(message: str) -> AwsError:
    return AwsError("AlreadyExistsException", message)


def invalid_ciphertext(message: str = "") -> AwsError:
    # AWS's InvalidCiphertextException carries no reason; neither do we.
    return AwsError("InvalidCiphertextException", message)


def internal(message: str = "") -> AwsError:
    return AwsError("KMSInternalException", message, 500)
