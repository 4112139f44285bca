"""KMS's AccessDeniedException in AWS's wording, carrying the explanation of the decision that refused.

AWS KMS answers a refused call with ``AccessDeniedException`` and HTTP 400
(the API reference lists it per operation; unlike IAM's ``AccessDenied``,
which is 403), worded as the IAM User Guide's "Troubleshoot access denied
error messages" describes::

    User: arn:aws:iam::111122223333:user/bob is not authorized to perform: kms:Encrypt
    on resource: arn:aws:kms:us-east-1:111122223333:key/1234abcd-... because no
    identity-based policy allows the kms:Encrypt action

with the other endings ``because no resource-based policy allows ...``,
``... permissions boundary ...``, ``... session policy ...``, ``with an
explicit deny in a resource-based policy`` and ``with an explicit deny in an
identity-based policy``.  The error also holds a function that renders the
decision as JSON; nothing is computed unless ``kmsd serve
--explain-denials`` asks for it, so a denial costs no more than an allow.

The explanation shows the policies and grants of the resources checked, so
it is given only to a caller in the account that owns every one of them
(:meth:`~kmsd.errors.ExplainedError.explanation_for`): another account's
caller learns what AWS tells it, the plain message, and nothing of the
owner's key policy, identity policies or grants.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kmsd.errors import ExplainedError

ACCESS_DENIED = "AccessDeniedException"
# The member --explain-denials adds to the JSON error body (AWS SDKs ignore members they do not model).
EXPLANATION_MEMBER = "kmsdExplanation"


def denial_message(principal_arn: str, action: str, resource: str, reason: str) -> str:
    message = f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource}"
    return f"{message} {reason}" if reason else message


class AccessDeniedError(ExplainedError):
    """``AccessDeniedException`` (HTTP 400) with AWS's message and, on demand, the decision behind it."""

    def __init__(self, message: str, explain: Callable[[], dict[str, Any]] | None = None) -> None:
        super().__init__(ACCESS_DENIED, message, 400, explain)
