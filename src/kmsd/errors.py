"""AWS API errors, shared by every service package.

A service function raises an :class:`AwsError` carrying AWS's error code, HTTP
status and message; the API layer encodes it as ``__type`` (JSON 1.1) or
``<Code>`` (query/XML) and never adds a reason of its own.  Messages never
contain secrets: plaintexts, key material and secret keys stay out of them.

Hierarchy::

    AwsError                       code, message, status (400 unless said)
    ├── ValidationError            ValidationException (AWS's "N validation error(s) detected: ..." form)
    └── (one instance per code; use the helpers below, e.g. ``not_found(msg)``)

Codes are plain strings rather than one class each, because the same code
travels through KMS, IAM and STS and only the code, status and message reach
the wire.
"""

from __future__ import annotations

from collections.abc import Sequence


class AwsError(Exception):
    """An error an AWS service returns: ``code`` (e.g. ``NotFoundException``), HTTP ``status``, ``message``."""

    def __init__(self, code: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


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
