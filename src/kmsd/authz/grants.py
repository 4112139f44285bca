"""Grants as AWS KMS applies them: what a grant allows whom, what grants it may create, who may retire it; tokens.

Pure functions over :class:`~kmsd.store.models.GrantRecord`; the KMS
authorizer loads a key's grants (and those named by the request's grant
tokens) and asks :func:`matching_grants` whether one allows the call, the grant
handlers in :mod:`kmsd.kms.grants` use the rest.  The rules are the KMS
Developer Guide's "Grants in AWS KMS", "Creating grants" (grant constraints,
granting CreateGrant permission), "Managing grants" (retiring and revoking,
grant tokens) and the API reference's GrantConstraints; each function quotes
the rule it applies.  A grant only ever allows: nothing here can deny.

Grant tokens are kmsd's own format, opaque to clients as AWS's are: a version
byte, the 32-byte grant id, 48 random bytes (so that every CreateGrant answer
is a new token, even for the same grant) and an 8-byte check value, in
unpadded base64url (119 characters).  The check value makes a mistyped or
truncated token fail as malformed instead of naming some other grant; it is
not a secret, as a grant token is not ("A grant token is a unique, nonsecret,
variable-length, base64-encoded string that represents a grant").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from kmsd.crypto.key_spec import KEY_SPECS
from kmsd.errors import AwsError
from kmsd.iam.principal import Principal
from kmsd.store.models import GrantRecord

# "Grant operations" (Grants in AWS KMS): the operations a grant can allow, as botocore's
# GrantOperation enum lists them.  ReEncrypt is two permissions, ReEncryptFrom and ReEncryptTo.
GRANT_OPERATIONS: frozenset[str] = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "Sign",
        "Verify",
        "GetPublicKey",
        "GenerateMac",
        "VerifyMac",
        "DeriveSharedSecret",
        "Encapsulate",
        "Decapsulate",
        "CreateGrant",
        "RetireGrant",
        "DescribeKey",
    }
)

# Operations whose request carries an EncryptionContext: the only ones a constraint applies to.
# GrantConstraints (API reference): "Grant constraints are not applied to operations that do not
# support an encryption context, such as ... management operations, such as DescribeKey or RetireGrant."
ENCRYPTION_CONTEXT_OPERATIONS: frozenset[str] = frozenset(
    {
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
    }
)

EQUALS = "EncryptionContextEquals"
SUBSET = "EncryptionContextSubset"

# Every key accepts these in a grant; the rest depends on what the key can do.
_ANY_KEY_OPERATIONS = frozenset({"CreateGrant", "RetireGrant", "DescribeKey"})
# "The grant operations that you allow must be supported by the KMS key in the grant ... grants for
# symmetric encryption KMS keys cannot allow the Sign, Verify, GenerateMac or VerifyMac operations.
# Grants for asymmetric KMS keys cannot allow any operations that generate data keys or data key pairs."
_OPERATIONS_BY_KEY_USAGE: dict[str, frozenset[str]] = {
    "ENCRYPT_DECRYPT": frozenset({"Encrypt", "Decrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"}),
    "SIGN_VERIFY": frozenset({"Sign", "Verify", "GetPublicKey"}),
    "GENERATE_VERIFY_MAC": frozenset({"GenerateMac", "VerifyMac"}),
    "KEY_AGREEMENT": frozenset({"DeriveSharedSecret", "GetPublicKey"}),
    "ENCAPSULATE_DECAPSULATE": frozenset({"Encapsulate", "Decapsulate", "GetPublicKey"}),
}

_GRANT_ID = re.compile(r"^[0-9a-f]{64}$")
_ROOT_ARN = re.compile(r"^arn:aws:iam::(\d{12}):root$")
_TOKEN_VERSION = 1
_GRANT_ID_BYTES = 32
_NONCE_BYTES = 48
_CHECK_BYTES = 8
_TOKEN_BYTES = 1 + _GRANT_ID_BYTES + _NONCE_BYTES + _CHECK_BYTES


class RandomBytes(Protocol):
    """Where grant ids and token nonces come from (``kmsd.crypto.RandomSource`` satisfies it)."""

    def bytes(self, n: int) -> bytes: ...


# --- which operations a grant may name -------------------------------------------------------------


def operations_for_key(key_spec: str, key_usage: str) -> frozenset[str]:
    """The grant operations a key of this spec and usage supports ("Grant operations", Grants in AWS KMS)."""
    spec = KEY_SPECS.get(key_spec)
    if spec is not None and spec.is_symmetric_encryption:
        return _ANY_KEY_OPERATIONS | ENCRYPTION_CONTEXT_OPERATIONS
    return _ANY_KEY_OPERATIONS | _OPERATIONS_BY_KEY_USAGE.get(key_usage, frozenset())


# --- matching a request --------------------------------------------------------------------------


def names_principal(principal_arn: str, principal: Principal) -> bool:
    """Whether a grant's grantee or retiring principal ``principal_arn`` is the caller.

    A grant to a role covers every session of the role ("Each grant has one grantee
    principal, but the grantee principal can represent multiple identities"); a grant
    to one role session covers that session only; a grant to an account covers the
    account's root user.
    """
    return principal_arn == principal.arn or (principal.role_arn is not None and principal_arn == principal.role_arn)


def _folded(context: Mapping[str, str]) -> set[tuple[str, str]]:
    # GrantConstraints (API reference): "in a grant constraint, the key in each key-value pair is
    # not case sensitive, but the value is case sensitive."
    return {(key.lower(), value) for key, value in context.items()}


def constraints_hold(grant: GrantRecord, encryption_context: Mapping[str, str] | None) -> bool:
    """Whether the request's encryption context satisfies the grant's constraint (true without one).

    "EncryptionContextEquals: ... The grant allows the operation only when the encryption context in
    the request is the same as the encryption context specified in this constraint."
    "EncryptionContextSubset: ... The grant allows the cryptographic operation only when the encryption
    context in the request includes the key-value pairs specified in this constraint, although it can
    include additional key-value pairs." (GrantConstraints, API reference.)  A request without an
    encryption context has the empty one.
    """
    requested = _folded(encryption_context or {})
    if grant.encryption_context_equals is not None and requested != _folded(grant.encryption_context_equals):
        return False
    return grant.encryption_context_subset is None or _folded(grant.encryption_context_subset) <= requested


def grant_matches(
    grant: GrantRecord, principal: Principal, operation: str, encryption_context: Mapping[str, str] | None
) -> bool:
    """Whether ``grant`` allows ``principal`` to call ``operation`` with this encryption context.

    "When you create a grant for a KMS key, the grant allows the grantee principal to call the
    specified grant operations on the KMS key provided that all conditions specified in the grant
    are met" (Grants in AWS KMS).  ``operation`` is a grant operation name (``ReEncryptFrom``; a
    ``kms:`` prefix is ignored).  The constraint is checked only for operations that take an
    encryption context; for CreateGrant it limits the grants created instead, which is
    :func:`check_create_grant_subset`'s question.
    """
    name = operation.removeprefix("kms:")
    if name not in grant.operations or not names_principal(grant.grantee_principal, principal):
        return False
    return name not in ENCRYPTION_CONTEXT_OPERATIONS or constraints_hold(grant, encryption_context)


def matching_grants(
    grants: Sequence[GrantRecord],
    principal: Principal,
    operation: str,
    encryption_context: Mapping[str, str] | None,
) -> list[GrantRecord]:
    """The grants among ``grants`` that allow the call, in their order."""
    return [grant for grant in grants if grant_matches(grant, principal, operation, encryption_context)]


# --- grants created with a grant's CreateGrant permission ---------------------------------------------


def requested_constraint(constraints: Mapping[str, Mapping[str, str]] | None) -> tuple[str, dict[str, str]] | None:
    """The one constraint of a CreateGrant ``Constraints`` member as ``(kind, pairs)``, or None."""
    if not constraints:
        return None
    for kind in (EQUALS, SUBSET):
        pairs = constraints.get(kind)
        if pairs is not None:
            return kind, dict(pairs)
    return None


def _at_least_as_strict(parent: GrantRecord, child: tuple[str, dict[str, str]] | None) -> bool:
    # "The child grant can add pairs to an EncryptionContextSubset constraint in the parent grant,
    # but it cannot remove them.  The child grant can change an EncryptionContextSubset constraint
    # to an EncryptionContextEquals constraint, but not the reverse." (Creating grants.)
    if parent.encryption_context_equals is not None:
        return (
            child is not None and child[0] == EQUALS and _folded(child[1]) == _folded(parent.encryption_context_equals)
        )
    if parent.encryption_context_subset is not None:
        return child is not None and _folded(parent.encryption_context_subset) <= _folded(child[1])
    return True


def check_create_grant_subset(
    parent_grants: Sequence[GrantRecord],
    requested_operations: Collection[str],
    requested_constraints: Mapping[str, Mapping[str, str]] | None,
) -> bool:
    """Whether one of ``parent_grants`` may create the requested grant.

    "When a grantee principal gets permission to call CreateGrant from a grant, rather than from a
    policy, that permission is limited.  The grantee principal can only create grants that allow
    some or all of the operations in the parent grant.  The grant constraints in the grants they
    create must be at least as strict as those in the parent grant." (Creating grants, "Granting
    CreateGrant permission".)  Only parents that include CreateGrant count; the caller passes the
    grants that match it (:func:`matching_grants` with ``CreateGrant``).
    """
    operations = set(requested_operations)
    child = requested_constraint(requested_constraints)
    return any(
        "CreateGrant" in parent.operations
        and operations <= set(parent.operations)
        and _at_least_as_strict(parent, child)
        for parent in parent_grants
    )


# --- retiring -------------------------------------------------------------------------------------


def can_retire(grant: GrantRecord, principal: Principal) -> bool:
    """Whether ``principal`` may retire ``grant`` by the grant alone, with no policy involved.

    "A grant can be retired by an optional retiring principal specified in the grant.  The grantee
    principal can also retire the grant, but only if they are also a retiring principal or the
    grant includes the RetireGrant operation.  As a backup, the AWS account in which the grant was
    created can retire the grant." (Managing grants, "Retiring and revoking grants".)  That account
    acts through its root user here; its IAM principals need the delegation of
    :func:`retire_delegating_accounts`.
    """
    if grant.retiring_principal is not None and names_principal(grant.retiring_principal, principal):
        return True
    if "RetireGrant" in grant.operations and names_principal(grant.grantee_principal, principal):
        return True
    return principal.kind == "root" and principal.arn == grant.issuing_account


def retire_delegating_accounts(grant: GrantRecord) -> frozenset[str]:
    """The accounts whose IAM principals may retire ``grant`` when an identity policy allows ``kms:RetireGrant``.

    "The AWS account that owns the KMS key can use the kms:RetireGrant permission to delegate
    permission to retire the grant to an IAM user in the account.  If the retiring principal is a
    different AWS account, administrators in the other account can use kms:RetireGrant to delegate
    permission to retire the grant to an IAM user in that account." (Managing grants.)  The
    ``kms:RetireGrant`` permission alone, in any other account, allows nothing.
    """
    accounts = set()
    for arn in (grant.issuing_account, grant.retiring_principal):
        match = _ROOT_ARN.match(arn or "")
        if match is not None:
            accounts.add(match.group(1))
    return frozenset(accounts)


# --- grant ids and tokens -----------------------------------------------------------------------------


def is_grant_id(value: str) -> bool:
    """A grant id as kmsd issues them: 64 lowercase hexadecimal characters, like AWS's."""
    return _GRANT_ID.match(value) is not None


def new_grant_id(rng: RandomBytes) -> str:
    return rng.bytes(_GRANT_ID_BYTES).hex()


def _check_value(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()[:_CHECK_BYTES]


def new_grant_token(grant_id: str, rng: RandomBytes) -> str:
    """A new token for ``grant_id``.

    CreateGrant: "the returned grant token is unique with every CreateGrant request, even when a
    duplicate GrantId is returned.  All grant tokens for the same grant ID can be used interchangeably."
    """
    if not is_grant_id(grant_id):
        raise ValueError(f"`{grant_id}` is not a grant id")
    body = bytes([_TOKEN_VERSION]) + bytes.fromhex(grant_id) + rng.bytes(_NONCE_BYTES)
    return base64.urlsafe_b64encode(body + _check_value(body)).rstrip(b"=").decode("ascii")


def grant_id_from_token(token: str) -> str | None:
    """The grant id a token names; None for anything that is not a token kmsd issued (any version it knows)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (UnicodeError, binascii.Error, ValueError):
        return None
    if len(raw) != _TOKEN_BYTES or raw[0] != _TOKEN_VERSION:
        return None
    body, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
    if _check_value(body) != check:
        return None
    return body[1 : 1 + _GRANT_ID_BYTES].hex()


def invalid_grant_token() -> AwsError:
    # AWS documents the code, not a message; this is the exception's own description.
    return AwsError(
        "InvalidGrantTokenException", "The request was rejected because the specified grant token is not valid."
    )


def grant_ids_from_tokens(tokens: Sequence[str]) -> list[str]:
    """The grant ids a request's ``GrantTokens`` name; InvalidGrantTokenException when one is malformed."""
    grant_ids = []
    for token in tokens:
        grant_id = grant_id_from_token(token)
        if grant_id is None:
            raise invalid_grant_token()
        grant_ids.append(grant_id)
    return grant_ids
