"""The policy engine's errors: a document that AWS would refuse, and one that is too large.

Hierarchy::

    ValueError
    └── PolicyValidationError      .message: AWS's MalformedPolicyDocument reason; .detail: what and where
        └── PolicySizeError        over the size limit for its kind (KMS: LimitExceededException)

``message`` is the reason exactly as AWS words it (an API returns it as is);
``detail`` names the element and value at fault, for people and the
``kmsd policy check`` command; ``code`` is IAM Access Analyzer's issue code
for the problem (``JSON_SYNTAX_ERROR``, ``MISSING_PRINCIPAL``, ...) and
``path`` the element at fault as a path into the document
(:mod:`kmsd.policy.locations`), or ``offset`` the character where the text
stops being JSON.  The parser raises nothing else on any input.
"""

from __future__ import annotations

PathElement = tuple[str, str | int]


class PolicyValidationError(ValueError):
    """A document AWS would reject; ``message`` is worded like AWS's MalformedPolicyDocument reasons."""

    def __init__(
        self,
        message: str,
        detail: str = "",
        *,
        code: str = "",
        path: tuple[PathElement, ...] = (),
        offset: int | None = None,
    ) -> None:
        super().__init__(f"{message} ({detail})" if detail else message)
        self.message = message
        self.detail = detail
        self.code = code
        self.path = path
        self.offset = offset


class PolicySizeError(PolicyValidationError):
    """The document is over the size limit for its kind of policy."""

    def __init__(self, message: str, *, size: int, limit: int, detail: str = "", code: str = "") -> None:
        super().__init__(message, detail, code=code)
        self.size = size
        self.limit = limit
