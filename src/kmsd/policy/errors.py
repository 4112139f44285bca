"""The policy engine's errors: a document that AWS would refuse, and one that is too large.

Hierarchy::

    ValueError
    └── PolicyValidationError      .message: AWS's MalformedPolicyDocument reason; .detail: what and where
        └── PolicySizeError        over the size limit for its kind (KMS: LimitExceededException)

``message`` is the reason exactly as AWS words it (an API returns it as is);
``detail`` names the element and value at fault, for people and the
``kmsd policy check`` command.  The parser raises nothing else on any input.
"""

from __future__ import annotations


class PolicyValidationError(ValueError):
    """A document AWS would reject; ``message`` is worded like AWS's MalformedPolicyDocument reasons."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(f"{message} ({detail})" if detail else message)
        self.message = message
        self.detail = detail


class PolicySizeError(PolicyValidationError):
    """The document is over the size limit for its kind of policy."""

    def __init__(self, message: str, *, size: int, limit: int, detail: str = "") -> None:
        super().__init__(message, detail)
        self.size = size
        self.limit = limit
