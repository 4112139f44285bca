"""Which spellings of a key each operation accepts in its key members, as AWS's API reference lists them.

KMS names a key four ways: key id, key ARN, alias name and alias ARN.  Not
every operation takes all four: "To specify a KMS key, use its key ID, key
ARN, alias name, or alias ARN" (Encrypt, DescribeKey, the other cryptographic
operations) against "Specify the key ID or key ARN of the KMS key" (EnableKey,
DisableKey, the rotation, key policy, tag and import operations, the grant
operations, GetKeyLastUsage, CreateAlias's and UpdateAlias's
``TargetKeyId``).  :data:`KEY_ID_FORMS` is that reference as data, one row
per operation and key member of botocore's KMS model (the test
``tests/kms/test_key_id_forms.py`` reads the model and fails on a member the
table does not list, or one whose documentation names other forms), and
:func:`check_key_id_forms` is what the service runs on every request before
it resolves anything.  An alias where only keys are accepted is
``InvalidArnException`` "Key Aliases are not supported for this operation.",
AWS's answer (seen from GetKeyPolicy, CreateGrant and the other key-only
operations); the alias operations keep their own answer,
``ValidationException`` "Aliases must refer to keys. Not aliases".
GenerateMac and VerifyMac, whose member documentation names no forms, take
all four: the Developer Guide lists both among the operations that honour
``kms:RequestAlias``, which only a request naming an alias can carry.
RetireGrant's ``KeyId`` is "the key ARN", and a key id there names the same
key in the caller's account, so kmsd takes both and refuses aliases.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from kmsd.errors import AwsError, ValidationError, invalid_arn


class KeyIdForm(enum.Enum):
    KEY_ID = "key ID"
    KEY_ARN = "key ARN"
    ALIAS_NAME = "alias name"
    ALIAS_ARN = "alias ARN"


ALL_FORMS = frozenset(KeyIdForm)
KEYS_ONLY = frozenset({KeyIdForm.KEY_ID, KeyIdForm.KEY_ARN})

# The members of a request that name a key (botocore's KMS model).
KEY_MEMBERS = ("KeyId", "TargetKeyId", "SourceKeyId", "DestinationKeyId")


def _any(*members: str) -> dict[str, frozenset[KeyIdForm]]:
    return {member: ALL_FORMS for member in members}


def _keys(*members: str) -> dict[str, frozenset[KeyIdForm]]:
    return {member: KEYS_ONLY for member in members}


# Operation -> key member -> the forms its API reference accepts.
KEY_ID_FORMS: Mapping[str, Mapping[str, frozenset[KeyIdForm]]] = MappingProxyType(
    {
        "CancelKeyDeletion": _keys("KeyId"),
        "CreateAlias": _keys("TargetKeyId"),
        "CreateGrant": _keys("KeyId"),
        "Decapsulate": _any("KeyId"),
        "Decrypt": _any("KeyId"),
        "DeleteImportedKeyMaterial": _keys("KeyId"),
        "DeriveSharedSecret": _any("KeyId"),
        "DescribeKey": _any("KeyId"),
        "DisableKey": _keys("KeyId"),
        "DisableKeyRotation": _keys("KeyId"),
        "EnableKey": _keys("KeyId"),
        "EnableKeyRotation": _keys("KeyId"),
        "Encapsulate": _any("KeyId"),
        "Encrypt": _any("KeyId"),
        "GenerateDataKey": _any("KeyId"),
        "GenerateDataKeyPair": _any("KeyId"),
        "GenerateDataKeyPairWithoutPlaintext": _any("KeyId"),
        "GenerateDataKeyWithoutPlaintext": _any("KeyId"),
        "GenerateMac": _any("KeyId"),
        "GetKeyLastUsage": _keys("KeyId"),
        "GetKeyPolicy": _keys("KeyId"),
        "GetKeyRotationStatus": _keys("KeyId"),
        "GetParametersForImport": _keys("KeyId"),
        "GetPublicKey": _any("KeyId"),
        "ImportKeyMaterial": _keys("KeyId"),
        "ListAliases": _keys("KeyId"),
        "ListGrants": _keys("KeyId"),
        "ListKeyPolicies": _keys("KeyId"),
        "ListKeyRotations": _keys("KeyId"),
        "ListResourceTags": _keys("KeyId"),
        "PutKeyPolicy": _keys("KeyId"),
        "ReEncrypt": _any("SourceKeyId", "DestinationKeyId"),
        "ReplicateKey": _keys("KeyId"),
        "RetireGrant": _keys("KeyId"),
        "RevokeGrant": _keys("KeyId"),
        "RotateKeyOnDemand": _keys("KeyId"),
        "ScheduleKeyDeletion": _keys("KeyId"),
        "Sign": _any("KeyId"),
        "TagResource": _keys("KeyId"),
        "UntagResource": _keys("KeyId"),
        "UpdateAlias": _keys("TargetKeyId"),
        "UpdateKeyDescription": _keys("KeyId"),
        "UpdatePrimaryRegion": _keys("KeyId"),
        "Verify": _any("KeyId"),
        "VerifyMac": _any("KeyId"),
    }
)

# The alias operations answer an alias in a key member with their own ValidationException.
_ALIAS_OPERATIONS = frozenset({"CreateAlias", "UpdateAlias", "ListAliases"})
_NO_MEMBERS: Mapping[str, frozenset[KeyIdForm]] = MappingProxyType({})


def form_of(value: str) -> KeyIdForm:
    """The spelling ``value`` uses; whether it is well formed is the resolver's question."""
    if value.startswith("arn:"):
        return KeyIdForm.ALIAS_ARN if ":alias/" in value else KeyIdForm.KEY_ARN
    if value.startswith("alias/"):
        return KeyIdForm.ALIAS_NAME
    return KeyIdForm.KEY_ID


def check_key_id_forms(operation: str, params: Mapping[str, Any]) -> None:
    """Refuse a key member spelled in a form ``operation`` does not accept, with AWS's error."""
    for member, forms in KEY_ID_FORMS.get(operation, _NO_MEMBERS).items():
        value = params.get(member)
        if value is None or form_of(str(value)) in forms:
            continue
        raise _refusal(operation)


def _refusal(operation: str) -> AwsError:
    if operation in _ALIAS_OPERATIONS:
        return ValidationError("Aliases must refer to keys. Not aliases")
    return invalid_arn("Key Aliases are not supported for this operation.")
