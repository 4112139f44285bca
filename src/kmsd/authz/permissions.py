"""AWS's "KMS permissions" reference as data: for every KMS operation, what must allow it and on what.

One :class:`OperationPermissions` row per operation of botocore's KMS model
(the implemented ones and the rest), transcribed from the AWS KMS Developer
Guide ("AWS KMS permissions" table, "Controlling access to aliases", "AWS KMS
condition keys") and from each operation's "Cross-account use" and
"Required permissions" paragraphs in the API reference:

- ``permissions``: the IAM actions the call needs, each on one resource of the
  request (the key, the source or destination key of ReEncrypt, the alias and
  its old and new keys, ``*``, ...) and from one kind of policy: the key
  policy (which may delegate to IAM policies of the key's account),
  IAM policies only (operations on ``*`` and on aliases), or the grant itself
  (RetireGrant);
- ``when_present``: permissions needed only when the request carries a member
  (CreateKey with ``Tags`` also needs ``kms:TagResource``);
- ``cross_account``: whether a principal of another account can call it on
  the key (AWS: "If you give a principal in a different account a permission
  that cannot be used cross-account, the permission is not effective");
- a permission's ``grant_operation``: the grant operation that can allow it;
- ``condition_keys``: the condition keys the operation puts in the request
  context, besides the global ``aws:*`` keys.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class PolicySource(enum.Enum):
    """Which policies can allow a permission ("Policy type" in the permissions reference)."""

    KEY_POLICY = "key policy"  # the key policy, or IAM policies when the key policy delegates to the account
    IAM_POLICY = "IAM policy"  # IAM policies only: the resource has no policy of its own
    GRANT = "grant"  # decided by the grant the request names (RetireGrant)


class Target(enum.Enum):
    """Which resource of a request a permission is checked against."""

    KEY = "key"  # the key named by KeyId
    SOURCE_KEY = "source key"  # ReEncrypt: the key that encrypted the ciphertext
    DESTINATION_KEY = "destination key"  # ReEncrypt: DestinationKeyId
    ALIAS = "alias"  # the alias named by AliasName
    ALIAS_KEY = "alias key"  # the key the alias points at now (DeleteAlias, UpdateAlias)
    TARGET_KEY = "target key"  # the key named by TargetKeyId (CreateAlias, UpdateAlias)
    NEW_KEY = "new key"  # the key CreateKey is creating, or the replica ReplicateKey is creating
    REPLICA_KEY = "replica key"  # UpdatePrimaryRegion: the replica key in PrimaryRegion, the primary-to-be
    GRANT = "grant"  # RetireGrant: the grant the request names, on its key
    RETIRING_PRINCIPAL = (
        "retiring principal"  # ListRetirableGrants: "the authorized resource ... is the retiring principal"
    )
    ANY = "*"  # operations that act on no particular resource


# The targets that are keys, known once the operation has found (or made) them.
KEY_TARGETS = frozenset(
    {
        Target.KEY,
        Target.SOURCE_KEY,
        Target.DESTINATION_KEY,
        Target.ALIAS_KEY,
        Target.TARGET_KEY,
        Target.NEW_KEY,
        Target.REPLICA_KEY,
    }
)


@dataclass(frozen=True)
class Permission:
    action: str  # e.g. "kms:Encrypt"
    target: Target
    source: PolicySource
    grant_operation: str | None = None  # the grant operation that can allow it, when grants can
    # Whether the target is a key (known once the operation finds it); derived, so that the per-call
    # code tests a flag instead of hashing the enum.
    on_key: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "on_key", self.target in KEY_TARGETS)


@dataclass(frozen=True)
class OperationPermissions:
    operation: str
    permissions: tuple[Permission, ...]
    cross_account: bool
    condition_keys: frozenset[str]
    when_present: tuple[tuple[str, Permission], ...] = ()  # (request member, permission it adds)
    # The keys the operation's own permissions are about (derived once: this is read on every call).
    key_targets: frozenset[Target] = field(init=False, compare=False, repr=False)
    # Its permissions on what the request names without a lookup (``*``, an alias, a principal, a grant),
    # decided before its keys are looked up, and those on its keys, decided once they are (derived once).
    before_keys: tuple[Permission, ...] = field(init=False, compare=False, repr=False)
    on_resolved_keys: tuple[Permission, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        targets = frozenset(permission.target for permission in self.permissions if permission.on_key)
        object.__setattr__(self, "key_targets", targets)
        object.__setattr__(self, "before_keys", tuple(p for p in self.permissions if not p.on_key))
        object.__setattr__(self, "on_resolved_keys", tuple(p for p in self.permissions if p.on_key))

    @property
    def on_keys(self) -> bool:
        """Whether this is a "KMS key resource operation" (a key policy decides at least one permission)."""
        return any(permission.source is PolicySource.KEY_POLICY for permission in self.permissions)


# Condition keys every KMS key resource operation supports ("AWS KMS condition keys": kms:CallerAccount,
# kms:ViaService; the key resource's kms:KeySpec, kms:KeyUsage, kms:KeyOrigin, kms:MultiRegion,
# kms:MultiRegionKeyType, kms:ResourceAliases and aws:ResourceTag/*).
KEY_RESOURCE_KEYS = frozenset(
    {
        "kms:CallerAccount",
        "kms:ViaService",
        "kms:KeySpec",
        "kms:KeyUsage",
        "kms:KeyOrigin",
        "kms:MultiRegion",
        "kms:MultiRegionKeyType",
        "kms:ResourceAliases",
        "aws:ResourceTag/*",
    }
)
ENCRYPTION_CONTEXT_KEYS = frozenset({"kms:EncryptionContext:*", "kms:EncryptionContextKeys"})
CUSTOM_KEY_STORE_KEYS = frozenset({"kms:CallerAccount"})
NO_KEYS: frozenset[str] = frozenset()


def _keys(*names: str, base: frozenset[str] = KEY_RESOURCE_KEYS) -> frozenset[str]:
    return base | frozenset(names)


def _on_key(
    operation: str,
    *extra_keys: str,
    cross_account: bool = False,
    grant: bool = False,
) -> OperationPermissions:
    """An operation that needs ``kms:<operation>`` on the key named by KeyId, from the key policy."""
    permission = Permission(f"kms:{operation}", Target.KEY, PolicySource.KEY_POLICY, operation if grant else None)
    return OperationPermissions(operation, (permission,), cross_account, _keys(*extra_keys))


def _iam_only(operation: str, keys: frozenset[str] = NO_KEYS, *, target: Target = Target.ANY) -> OperationPermissions:
    """An operation on no key: IAM policies alone decide it."""
    permission = Permission(f"kms:{operation}", target, PolicySource.IAM_POLICY)
    return OperationPermissions(operation, (permission,), False, keys)


_CRYPTO = ("kms:EncryptionAlgorithm", *ENCRYPTION_CONTEXT_KEYS, "kms:RequestAlias")
# "Condition keys for Nitro Enclaves": the verified attestation document of Recipient (its PCR0, and each PCR),
# on Decrypt, DeriveSharedSecret, GenerateDataKey, GenerateDataKeyPair and GenerateRandom.
RECIPIENT_KEYS = ("kms:RecipientAttestation:ImageSha384", "kms:RecipientAttestation:PCR*")
# "Controlling access to tags": "To add tags while creating a CMK, the principal must have permission in an IAM
# policy that isn't restricted to particular CMKs" -- it is checked on the new key, which only a policy for
# all (or a pattern of) the account's keys can name.
_TAG_ON_CREATE = Permission("kms:TagResource", Target.NEW_KEY, PolicySource.IAM_POLICY)


def _alias_operation(operation: str, *targets: Target) -> OperationPermissions:
    # "Controlling access to aliases": kms:<op> on the alias in an IAM policy, and on each key in its key policy.
    action = f"kms:{operation}"
    alias = Permission(action, Target.ALIAS, PolicySource.IAM_POLICY)
    keys = tuple(Permission(action, target, PolicySource.KEY_POLICY) for target in targets)
    permissions = (alias, *keys)
    return OperationPermissions(operation, permissions, False, KEY_RESOURCE_KEYS)


_ROWS: tuple[OperationPermissions, ...] = (
    _on_key("CancelKeyDeletion"),
    _iam_only("ConnectCustomKeyStore", CUSTOM_KEY_STORE_KEYS),
    _alias_operation("CreateAlias", Target.TARGET_KEY),
    _iam_only("CreateCustomKeyStore", CUSTOM_KEY_STORE_KEYS),
    _on_key(
        "CreateGrant",
        *ENCRYPTION_CONTEXT_KEYS,
        "kms:GrantConstraintType",
        "kms:GrantIsForAWSResource",
        "kms:GrantOperations",
        "kms:GranteePrincipal",
        "kms:RetiringPrincipal",
        cross_account=True,
        grant=True,
    ),
    OperationPermissions(
        "CreateKey",
        (Permission("kms:CreateKey", Target.ANY, PolicySource.IAM_POLICY),),
        False,
        frozenset(
            {
                "kms:BypassPolicyLockoutSafetyCheck",
                "kms:CallerAccount",
                "kms:KeyOrigin",
                "kms:KeySpec",
                "kms:KeyUsage",
                "kms:MultiRegion",
                "kms:MultiRegionKeyType",
                "kms:ViaService",
                "aws:RequestTag/*",
                "aws:TagKeys",
            }
        ),
        # CreateKey API reference: "To use the Tags parameter, kms:TagResource (IAM policy)."
        when_present=(("Tags", _TAG_ON_CREATE),),
    ),
    _on_key("Decapsulate", "kms:RequestAlias", cross_account=True, grant=True),
    _on_key("Decrypt", *_CRYPTO, *RECIPIENT_KEYS, cross_account=True, grant=True),
    _alias_operation("DeleteAlias", Target.ALIAS_KEY),
    _iam_only("DeleteCustomKeyStore", CUSTOM_KEY_STORE_KEYS),
    _on_key("DeleteImportedKeyMaterial"),
    _on_key(
        "DeriveSharedSecret",
        "kms:KeyAgreementAlgorithm",
        "kms:RequestAlias",
        *RECIPIENT_KEYS,
        cross_account=True,
        grant=True,
    ),
    _iam_only("DescribeCustomKeyStores", CUSTOM_KEY_STORE_KEYS),
    _on_key("DescribeKey", "kms:RequestAlias", cross_account=True, grant=True),
    _on_key("DisableKey"),
    _on_key("DisableKeyRotation"),
    _iam_only("DisconnectCustomKeyStore", CUSTOM_KEY_STORE_KEYS),
    _on_key("EnableKey"),
    _on_key("EnableKeyRotation", "kms:RotationPeriodInDays"),
    _on_key("Encapsulate", "kms:RequestAlias", cross_account=True, grant=True),
    _on_key("Encrypt", *_CRYPTO, cross_account=True, grant=True),
    _on_key("GenerateDataKey", *_CRYPTO, *RECIPIENT_KEYS, cross_account=True, grant=True),
    _on_key("GenerateDataKeyPair", *_CRYPTO, "kms:DataKeyPairSpec", *RECIPIENT_KEYS, cross_account=True, grant=True),
    _on_key("GenerateDataKeyPairWithoutPlaintext", *_CRYPTO, "kms:DataKeyPairSpec", cross_account=True, grant=True),
    _on_key("GenerateDataKeyWithoutPlaintext", *_CRYPTO, cross_account=True, grant=True),
    _on_key("GenerateMac", "kms:MacAlgorithm", "kms:RequestAlias", cross_account=True, grant=True),
    # GenerateRandom: "Cross-account use: Not applicable"; kms:RequestAlias "has no effect" on it.
    _iam_only("GenerateRandom", frozenset(RECIPIENT_KEYS)),
    _on_key("GetKeyLastUsage"),
    _on_key("GetKeyPolicy", "kms:PolicyName"),
    _on_key("GetKeyRotationStatus", cross_account=True),
    _on_key("GetParametersForImport", "kms:WrappingAlgorithm", "kms:WrappingKeySpec"),
    _on_key("GetPublicKey", "kms:RequestAlias", cross_account=True, grant=True),
    _on_key("ImportKeyMaterial", "kms:ExpirationModel", "kms:ValidTo"),
    _iam_only("ListAliases"),
    _on_key("ListGrants", "kms:GrantIsForAWSResource", cross_account=True),
    _on_key("ListKeyPolicies"),
    _on_key("ListKeyRotations"),
    _iam_only("ListKeys"),
    _on_key("ListResourceTags"),
    # ListRetirableGrants API reference: "The authorized resource in ListRetirableGrants calls is the
    # retiring principal specified in the request" and it must be in the caller's account.
    _iam_only("ListRetirableGrants", target=Target.RETIRING_PRINCIPAL),
    _on_key("PutKeyPolicy", "kms:BypassPolicyLockoutSafetyCheck", "kms:PolicyName"),
    OperationPermissions(
        "ReEncrypt",
        (
            # ReEncrypt API reference: kms:ReEncryptFrom on the source key, kms:ReEncryptTo on the destination.
            Permission("kms:ReEncryptFrom", Target.SOURCE_KEY, PolicySource.KEY_POLICY, "ReEncryptFrom"),
            Permission("kms:ReEncryptTo", Target.DESTINATION_KEY, PolicySource.KEY_POLICY, "ReEncryptTo"),
        ),
        True,
        _keys(*_CRYPTO, "kms:ReEncryptOnSameKey"),
    ),
    OperationPermissions(
        "ReplicateKey",
        (
            Permission("kms:ReplicateKey", Target.KEY, PolicySource.KEY_POLICY),
            # "kms:CreateKey in an IAM policy in the replica Region".
            Permission("kms:CreateKey", Target.ANY, PolicySource.IAM_POLICY),
        ),
        False,
        _keys("kms:ReplicaRegion", "aws:RequestTag/*", "aws:TagKeys"),
        when_present=(("Tags", _TAG_ON_CREATE),),
    ),
    # RetireGrant: "Permission to retire a grant is determined primarily by the grant."
    OperationPermissions(
        "RetireGrant",
        (Permission("kms:RetireGrant", Target.GRANT, PolicySource.GRANT, "RetireGrant"),),
        True,
        _keys(*ENCRYPTION_CONTEXT_KEYS, "kms:GrantConstraintType"),
    ),
    _on_key("RevokeGrant", "kms:GrantIsForAWSResource", cross_account=True),
    _on_key("RotateKeyOnDemand"),
    _on_key("ScheduleKeyDeletion", "kms:ScheduleKeyDeletionPendingWindowInDays"),
    _on_key("Sign", "kms:MessageType", "kms:SigningAlgorithm", "kms:RequestAlias", cross_account=True, grant=True),
    _on_key("TagResource", "aws:RequestTag/*", "aws:TagKeys"),
    _on_key("UntagResource", "aws:TagKeys"),
    _alias_operation("UpdateAlias", Target.ALIAS_KEY, Target.TARGET_KEY),
    _iam_only("UpdateCustomKeyStore", CUSTOM_KEY_STORE_KEYS),
    _on_key("UpdateKeyDescription"),
    OperationPermissions(
        "UpdatePrimaryRegion",
        (
            # UpdatePrimaryRegion API reference: "kms:UpdatePrimaryRegion on the current primary key (in the primary
            # key's Region)" and "on the current replica key (in the replica key's Region)", each in its key policy.
            Permission("kms:UpdatePrimaryRegion", Target.KEY, PolicySource.KEY_POLICY),
            Permission("kms:UpdatePrimaryRegion", Target.REPLICA_KEY, PolicySource.KEY_POLICY),
        ),
        False,
        _keys("kms:PrimaryRegion"),
    ),
    _on_key("Verify", "kms:MessageType", "kms:SigningAlgorithm", "kms:RequestAlias", cross_account=True, grant=True),
    _on_key("VerifyMac", "kms:MacAlgorithm", "kms:RequestAlias", cross_account=True, grant=True),
)

PERMISSIONS: Mapping[str, OperationPermissions] = MappingProxyType({row.operation: row for row in _ROWS})


def permissions_for(operation: str) -> OperationPermissions:
    """The row of ``operation``; KeyError for a name that is no KMS operation."""
    return PERMISSIONS[operation]
