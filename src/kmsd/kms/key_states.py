"""Which operations a key accepts in which key state, as data: AWS's "Key states of AWS KMS keys" table.

Each row is one operation; each column one key state; a cell is ``None``
(the operation proceeds) or the refusal AWS answers with, named by the
table's footnotes ("DisabledException: <key ARN> is disabled.",
"KMSInvalidStateException: <key ARN> is pending deletion.", "... is not
pending deletion.").  Handlers call :func:`require_state` instead of
testing states themselves, so the whole policy is reviewable in one place.
Operations absent from the table (DescribeKey, GetKeyPolicy, the List*
operations, DeleteAlias, ...) accept every state.
"""

from __future__ import annotations

from dataclasses import dataclass

from kmsd.errors import AwsError
from kmsd.store.models import KeyRecord


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str  # "{arn}" is replaced by the key ARN

    def error(self, key: KeyRecord) -> AwsError:
        return AwsError(self.code, self.message.format(arn=key.arn))


IS_DISABLED = Refusal("DisabledException", "{arn} is disabled.")
IS_PENDING_DELETION = Refusal("KMSInvalidStateException", "{arn} is pending deletion.")
IS_NOT_PENDING_DELETION = Refusal("KMSInvalidStateException", "{arn} is not pending deletion.")
IS_PENDING_IMPORT = Refusal("KMSInvalidStateException", "{arn} is pending import.")
IS_UNAVAILABLE = Refusal("KMSInvalidStateException", "{arn} is unavailable.")
# Guessed, in the footnotes' form: AWS documents no wording for the PendingReplicaDeletion state.
IS_PENDING_REPLICA_DELETION = Refusal("KMSInvalidStateException", "{arn} is pending replica deletion.")


@dataclass(frozen=True)
class StateRow:
    enabled: Refusal | None
    disabled: Refusal | None
    pending_deletion: Refusal | None
    # PendingImport: keys with imported material that have none yet (or no longer); most operations refuse.
    pending_import: Refusal | None = IS_PENDING_IMPORT
    # Unavailable: keys of a disconnected custom key store; they can be managed, not used (footnote [11]).
    unavailable: Refusal | None = IS_UNAVAILABLE


_CRYPTOGRAPHIC = StateRow(enabled=None, disabled=IS_DISABLED, pending_deletion=IS_PENDING_DELETION)
_MANAGEMENT = StateRow(
    enabled=None, disabled=None, pending_deletion=IS_PENDING_DELETION, pending_import=None, unavailable=None
)
# EnableKey and DisableKey: a key without its imported material can be neither; an unavailable key can (its
# state changes when its custom key store is connected again, footnote [12]).
_ENABLEMENT = StateRow(enabled=None, disabled=None, pending_deletion=IS_PENDING_DELETION, unavailable=None)
_ANY_STATE = StateRow(enabled=None, disabled=None, pending_deletion=None, pending_import=None, unavailable=None)

# AWS KMS Developer Guide, "Key states of AWS KMS keys", key state table.
KEY_STATE_TABLE: dict[str, StateRow] = {
    "CancelKeyDeletion": StateRow(
        enabled=IS_NOT_PENDING_DELETION,
        disabled=IS_NOT_PENDING_DELETION,
        pending_deletion=None,
        pending_import=IS_NOT_PENDING_DELETION,
        unavailable=IS_NOT_PENDING_DELETION,
    ),
    "CreateAlias": _MANAGEMENT,
    # A grant can be created for an unavailable key: it is management, not use.
    "CreateGrant": StateRow(enabled=None, disabled=IS_DISABLED, pending_deletion=IS_PENDING_DELETION, unavailable=None),
    "Decapsulate": _CRYPTOGRAPHIC,
    "Decrypt": _CRYPTOGRAPHIC,
    "DeriveSharedSecret": _CRYPTOGRAPHIC,
    "DeleteAlias": _ANY_STATE,
    # "When the specified KMS key is in the PendingDeletion state, this operation does not change the KMS
    # key's state" (DeleteImportedKeyMaterial API reference): it runs in every state.
    "DeleteImportedKeyMaterial": _ANY_STATE,
    "DescribeKey": _ANY_STATE,
    "DisableKey": _ENABLEMENT,
    "DisableKeyRotation": _CRYPTOGRAPHIC,
    "EnableKey": _ENABLEMENT,
    "EnableKeyRotation": _CRYPTOGRAPHIC,
    "Encapsulate": _CRYPTOGRAPHIC,
    "Encrypt": _CRYPTOGRAPHIC,
    "GenerateDataKey": _CRYPTOGRAPHIC,
    "GenerateDataKeyWithoutPlaintext": _CRYPTOGRAPHIC,
    "GenerateMac": _CRYPTOGRAPHIC,
    "GetPublicKey": _CRYPTOGRAPHIC,
    "GetKeyPolicy": _ANY_STATE,
    "GetParametersForImport": _MANAGEMENT,
    "ImportKeyMaterial": _MANAGEMENT,
    "GetKeyRotationStatus": _ANY_STATE,
    "ListAliases": _ANY_STATE,
    "ListKeyPolicies": _ANY_STATE,
    "ListKeyRotations": _ANY_STATE,
    "ListResourceTags": _ANY_STATE,
    "PutKeyPolicy": _ANY_STATE,
    "ReEncrypt": _CRYPTOGRAPHIC,
    # ReplicateKey lists DisabledException: a disabled primary is not replicated, nor one waiting for its imported
    # material (the replica must be given the primary's material, which it then does not have).
    "ReplicateKey": _CRYPTOGRAPHIC,
    "RotateKeyOnDemand": _CRYPTOGRAPHIC,
    "ScheduleKeyDeletion": _MANAGEMENT,
    "Sign": _CRYPTOGRAPHIC,
    "TagResource": _MANAGEMENT,
    "UntagResource": _MANAGEMENT,
    # UpdateAlias: the row is about the alias's new target key; the current target may be in any state.
    "UpdateAlias": _MANAGEMENT,
    "UpdateKeyDescription": _MANAGEMENT,
    "UpdatePrimaryRegion": _MANAGEMENT,
    "Verify": _CRYPTOGRAPHIC,
    "VerifyMac": _CRYPTOGRAPHIC,
}

_STATE_WORDING = {
    "PendingImport": "pending import",
    "PendingReplicaDeletion": "pending replica deletion",
    "Unavailable": "unavailable",
    "Creating": "creating",
    "Updating": "updating",
}


def require_state(operation: str, key: KeyRecord) -> None:
    """Raise AWS's refusal when ``operation`` may not run on ``key`` in its current state."""
    row = KEY_STATE_TABLE.get(operation, _ANY_STATE)
    if key.key_state == "Enabled":
        refusal = row.enabled
    elif key.key_state == "Disabled":
        refusal = row.disabled
    elif key.key_state == "PendingDeletion":
        refusal = row.pending_deletion
    elif key.key_state == "PendingReplicaDeletion":
        # A primary key scheduled for deletion that waits for its replicas to go: refused where a key pending
        # deletion is, and CancelKeyDeletion works on it ("Deleting multi-Region keys").
        refusal = row.pending_deletion
        if refusal is IS_PENDING_DELETION:
            refusal = IS_PENDING_REPLICA_DELETION
    elif key.key_state == "PendingImport":
        refusal = row.pending_import
    elif key.key_state == "Unavailable":
        refusal = row.unavailable
    elif row == _ANY_STATE:
        refusal = None
    else:
        # States kmsd's keys never enter; refuse them as AWS refuses a transient state.
        wording = _STATE_WORDING.get(key.key_state, key.key_state)
        refusal = Refusal("KMSInvalidStateException", f"{{arn}} is {wording}.")
    if refusal is not None:
        raise refusal.error(key)
