"""KMS's rules for a key policy document, beyond the IAM policy grammar the policy engine checks.

AWS KMS Developer Guide, "Key policies" / "Key policy format", and the
CreateKey and PutKeyPolicy API reference ("Policy"):

- the document is a valid resource-based policy of at most 32 KB
  (``LimitExceededException`` otherwise), in which every statement names a
  principal (the engine's rules);
- every statement has a ``Resource`` (or ``NotResource``) element: the
  engine lets resource-based policies leave it out because role trust
  policies must, but KMS refuses such statements ("KMS CreateKey, ReplicateKey
  and PutKeyPolicy API requests without a valid ... Resource element in the
  key policy will be rejected with MalformedPolicyDocumentException");
- "The principals in the key policy must exist and be visible to AWS KMS":
  an account must exist in this store, a user or role ARN must name an
  existing user or role (path included), an assumed-role session ARN an
  existing role; otherwise, and for a principal the engine finds malformed,
  ``MalformedPolicyDocumentException`` "Policy contains a statement with one
  or more invalid principals."  ``"*"`` and service principals are valid.
"""

from __future__ import annotations

import re

from kmsd.errors import AwsError
from kmsd.policy import Policy, PolicyKind, PolicySizeError, PolicyValidationError, Principals, parse_policy
from kmsd.store.base import Store

INVALID_PRINCIPALS = "Policy contains a statement with one or more invalid principals."
MISSING_RESOURCE = "Policy statement must contain resources."
_ENGINE_PRINCIPAL_MESSAGE = "Invalid principal in policy"

_ACCOUNT = re.compile(r"\d{12}")
_ROOT = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root")
_USER = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):user/(?:.*/)?([^/]+)")
_ROLE = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):role/(?:.*/)?([^/]+)")
_SESSION = re.compile(r"arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([^/]+)/[^/]+")
_FEDERATED_USER = re.compile(r"arn:aws[a-z-]*:sts::(\d{12}):federated-user/[^/]+")


def malformed(message: str) -> AwsError:
    return AwsError("MalformedPolicyDocumentException", message)


def validate_key_policy(store: Store, text: str) -> Policy:
    """The key policy ``text`` compiled, or AWS's error for a document KMS refuses."""
    try:
        policy = parse_policy(text, PolicyKind.RESOURCE)
    except PolicySizeError as error:
        raise AwsError("LimitExceededException", error.message) from None
    except PolicyValidationError as error:
        if error.message.startswith(_ENGINE_PRINCIPAL_MESSAGE):
            raise malformed(INVALID_PRINCIPALS) from None
        raise malformed(error.message) from None
    for statement in policy.statements:
        if statement.resource is None and statement.not_resource is None:
            raise malformed(MISSING_RESOURCE)
        for element in (statement.principal, statement.not_principal):
            if element is not None and not _all_exist(store, element):
                raise malformed(INVALID_PRINCIPALS)
    return policy


def _all_exist(store: Store, principals: Principals) -> bool:
    for principal_type, values in principals.entries:
        if principal_type != "AWS":
            # Service principals and identity providers are not entities of this store.
            continue
        for value in values:
            if value != "*" and not principal_exists(store, value):
                return False
    return True


def principal_exists(store: Store, value: str) -> bool:
    """Whether an ``"AWS"`` principal value names an account, user, role or session that exists here."""
    if _ACCOUNT.fullmatch(value):
        return store.get_account(value) is not None
    if (match := _ROOT.fullmatch(value)) is not None:
        return store.get_account(match.group(1)) is not None
    if (match := _USER.fullmatch(value)) is not None:
        user = store.get_user(match.group(1), match.group(2))
        return user is not None and user.arn == value
    if (match := _ROLE.fullmatch(value)) is not None:
        role = store.get_role(match.group(1), match.group(2))
        return role is not None and role.arn == value
    if (match := _SESSION.fullmatch(value)) is not None:
        return store.get_role(match.group(1), match.group(2)) is not None
    if (match := _FEDERATED_USER.fullmatch(value)) is not None:
        return store.get_account(match.group(1)) is not None
    return False
