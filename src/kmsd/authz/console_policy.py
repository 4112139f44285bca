"""The key policy AWS's KMS console writes for a new key: a pure function of the key type and the people chosen.

Sources (AWS KMS Developer Guide, "Default key policy", its sections "Allows
access to the AWS account and enables IAM policies", "Allows key
administrators to administer the KMS key", "Allows key users to use the KMS
key", "Allows key users to use a KMS key for cryptographic operations" and
"Allows key users to use the KMS key with AWS services"; and "Controlling
access to HMAC KMS keys"), checked against key policies that people copied
out of console-created keys into public repositories:

- ``Id`` ``key-consolepolicy-3`` and ``Version`` ``2012-10-17``, in that order
  (the order of the copies; the Guide's examples show single statements).
- ``Enable IAM User Permissions``: the key's account (``:root``) gets
  ``kms:*``, as in the API's default policy (:mod:`kmsd.authz.default_policy`).
- ``Allow access for Key Administrators``: ``kms:Create*``, ``Describe*``,
  ``Enable*``, ``List*``, ``Put*``, ``Update*``, ``Revoke*``, ``Disable*``,
  ``Get*``, ``Delete*``, ``TagResource``, ``UntagResource``, then
  ``ScheduleKeyDeletion`` and ``CancelKeyDeletion`` unless "Allow key
  administrators to delete this key" is cleared.  The Guide adds
  ``kms:ImportKeyMaterial`` for a key created without key material (Origin
  EXTERNAL) and ``kms:ReplicateKey`` and ``kms:UpdatePrimaryRegion`` for
  multi-Region keys; copies of console policies of multi-Region symmetric keys
  end "... CancelKeyDeletion, ReplicateKey, UpdatePrimaryRegion,
  RotateKeyOnDemand", and of single-Region symmetric keys "...
  CancelKeyDeletion, RotateKeyOnDemand".
- ``Allow use of the key``, by key type, as the Guide lists them:
  symmetric encryption ``Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*,
  DescribeKey`` (the order of the Guide's key-users example and of every
  console copy; its per-type example sorts the same five); HMAC
  ``DescribeKey, GenerateMac, VerifyMac``; asymmetric encryption ``Encrypt,
  Decrypt, ReEncrypt*, DescribeKey, GetPublicKey``; signing ``DescribeKey,
  GetPublicKey, Sign, Verify``.
- ``Allow attachment of persistent resources``: ``kms:CreateGrant``,
  ``kms:ListGrants``, ``kms:RevokeGrant`` when ``kms:GrantIsForAWSResource``
  is true, for the same principals as the key users.  The console adds it
  "for most key types"; "Controlling access to HMAC KMS keys" says the HMAC
  policy "does not include the key policy statement designed for using grants
  with AWS services".  The value is the string ``"true"``, as the console
  copies have it (the Guide prints a JSON boolean).
- One principal is written as a string, several as a list; another account
  chosen as a key user is its ``arn:aws:iam::ACCOUNT:root``.

Not found in AWS's text, and so chosen here (the ``GUESSED`` notes below):
the "Allow use of the key" actions for key agreement keys
(``DeriveSharedSecret, DescribeKey, GetPublicKey``) and for ML-KEM keys
(``Decapsulate, DescribeKey, Encapsulate, GetPublicKey``), each the key type's
operations sorted as the Guide sorts the HMAC and signing lists; whether those
two types get the persistent-resources statement (they do here: the Guide
names HMAC as the exception); which types get ``kms:RotateKeyOnDemand`` (only
symmetric encryption keys here, the only keys on-demand rotation accepts); and
where ``kms:ImportKeyMaterial`` goes (before the multi-Region actions, the
Guide's order).  A statement whose principal list is empty is left out: a key
policy statement needs a principal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kmsd.crypto.key_spec import (
    ENCAPSULATE_DECAPSULATE,
    ENCRYPT_DECRYPT,
    GENERATE_VERIFY_MAC,
    KEY_AGREEMENT,
    SIGN_VERIFY,
    KeySpec,
)

CONSOLE_POLICY_ID = "key-consolepolicy-3"
POLICY_VERSION = "2012-10-17"

ROOT_SID = "Enable IAM User Permissions"
ADMINISTRATORS_SID = "Allow access for Key Administrators"
USERS_SID = "Allow use of the key"
GRANTS_SID = "Allow attachment of persistent resources"

ADMINISTRATOR_ACTIONS = (
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
)
DELETION_ACTIONS = ("kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion")
IMPORT_ACTIONS = ("kms:ImportKeyMaterial",)
MULTI_REGION_ACTIONS = ("kms:ReplicateKey", "kms:UpdatePrimaryRegion")
ON_DEMAND_ROTATION_ACTIONS = ("kms:RotateKeyOnDemand",)
GRANT_ACTIONS = ("kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant")

SYMMETRIC_USE = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")
HMAC_USE = ("kms:DescribeKey", "kms:GenerateMac", "kms:VerifyMac")
ASYMMETRIC_ENCRYPTION_USE = ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey", "kms:GetPublicKey")
SIGNING_USE = ("kms:DescribeKey", "kms:GetPublicKey", "kms:Sign", "kms:Verify")
KEY_AGREEMENT_USE = ("kms:DeriveSharedSecret", "kms:DescribeKey", "kms:GetPublicKey")  # GUESSED
ENCAPSULATION_USE = ("kms:Decapsulate", "kms:DescribeKey", "kms:Encapsulate", "kms:GetPublicKey")  # GUESSED

_ACCOUNT_ID = re.compile(r"\d{12}")


class ConsolePolicyError(ValueError):
    """The key type or a principal cannot be written into a console key policy; the message says why."""


@dataclass(frozen=True)
class ConsoleKeyType:
    """What the console's wizard knows about the key when it writes the policy."""

    spec: KeySpec
    key_usage: str
    multi_region: bool = False
    imported: bool = False  # Origin EXTERNAL: created without key material

    def __post_init__(self) -> None:
        if self.key_usage not in self.spec.key_usages:
            usages = ", ".join(self.spec.key_usages)
            raise ConsolePolicyError(
                f"{self.spec.name} keys cannot have key usage {self.key_usage} (they take {usages})"
            )
        if self.multi_region and not self.spec.multi_region:
            raise ConsolePolicyError(f"{self.spec.name} keys cannot be multi-Region")
        if self.imported and not self.spec.importable:
            raise ConsolePolicyError(f"{self.spec.name} keys cannot be created for imported key material")


def use_actions(key_type: ConsoleKeyType) -> tuple[str, ...]:
    """The actions of the "Allow use of the key" statement for this type of key."""
    if key_type.spec.is_symmetric_encryption:
        return SYMMETRIC_USE
    by_usage = {
        GENERATE_VERIFY_MAC: HMAC_USE,
        ENCRYPT_DECRYPT: ASYMMETRIC_ENCRYPTION_USE,
        SIGN_VERIFY: SIGNING_USE,
        KEY_AGREEMENT: KEY_AGREEMENT_USE,
        ENCAPSULATE_DECAPSULATE: ENCAPSULATION_USE,
    }
    return by_usage[key_type.key_usage]


def administrator_actions(key_type: ConsoleKeyType, *, administrators_may_delete: bool = True) -> tuple[str, ...]:
    """The actions of the "Allow access for Key Administrators" statement, in the console's order."""
    actions = list(ADMINISTRATOR_ACTIONS)
    if administrators_may_delete:
        actions += DELETION_ACTIONS
    if key_type.imported:
        actions += IMPORT_ACTIONS
    if key_type.multi_region:
        actions += MULTI_REGION_ACTIONS
    if key_type.spec.is_symmetric_encryption:
        actions += ON_DEMAND_ROTATION_ACTIONS
    return tuple(actions)


def has_grants_statement(key_type: ConsoleKeyType) -> bool:
    """Whether the console adds "Allow attachment of persistent resources": for every type but HMAC keys."""
    return key_type.key_usage != GENERATE_VERIFY_MAC


def console_key_policy_document(
    account_id: str,
    key_type: ConsoleKeyType,
    *,
    administrators: Sequence[str] = (),
    users: Sequence[str] = (),
    administrators_may_delete: bool = True,
) -> dict[str, Any]:
    """The console's key policy for a new key of ``key_type`` in ``account_id``.

    ``administrators`` are IAM user or role ARNs; ``users`` are those or
    12-digit ids of other accounts, written as the accounts' root ARNs.
    """
    if not _ACCOUNT_ID.fullmatch(account_id):
        raise ConsolePolicyError(f"the key's account must be a 12-digit account id, not {account_id!r}")
    admin_arns = [_principal_arn(name, accounts_allowed=False) for name in administrators]
    user_arns = [_principal_arn(name, accounts_allowed=True) for name in users]
    statements: list[dict[str, Any]] = [
        _statement(ROOT_SID, [f"arn:aws:iam::{account_id}:root"], "kms:*"),
    ]
    if admin_arns:
        actions = administrator_actions(key_type, administrators_may_delete=administrators_may_delete)
        statements.append(_statement(ADMINISTRATORS_SID, admin_arns, list(actions)))
    if user_arns:
        statements.append(_statement(USERS_SID, user_arns, list(use_actions(key_type))))
        if has_grants_statement(key_type):
            grants = _statement(GRANTS_SID, user_arns, list(GRANT_ACTIONS))
            grants["Condition"] = {"Bool": {"kms:GrantIsForAWSResource": "true"}}
            statements.append(grants)
    return {"Id": CONSOLE_POLICY_ID, "Version": POLICY_VERSION, "Statement": statements}


def _statement(sid: str, principals: list[str], actions: str | list[str]) -> dict[str, Any]:
    # The console writes one principal as a string and several as a list.
    principal: str | list[str] = principals[0] if len(principals) == 1 else principals
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": principal}, "Action": actions, "Resource": "*"}


def _principal_arn(name: str, *, accounts_allowed: bool) -> str:
    # The wizard picks users and roles of the account; key users may also be other accounts, by id.
    if accounts_allowed and _ACCOUNT_ID.fullmatch(name):
        return f"arn:aws:iam::{name}:root"
    if re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:(user|role)/.+", name):
        return name
    what = "an IAM user or role ARN, or a 12-digit account id" if accounts_allowed else "an IAM user or role ARN"
    raise ConsolePolicyError(f"{name!r} is not {what}")
