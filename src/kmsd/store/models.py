"""The records kmsd persists, as plain frozen dataclasses.

These are the store's vocabulary: the SQLite and PostgreSQL implementations
read and write exactly these, and the service packages (``iam``, ``kms``)
build their answers from them.  Nothing here holds a secret in the clear:
key material and secret access keys are stored wrapped under the root key
(``wrapped_*`` fields), and unwrapping is the job of ``crypto``.

All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Account:
    account_id: str  # 12 digits
    created_at: datetime


@dataclass(frozen=True)
class AccessKeyRecord:
    """A long-term access key (root user's or, later, an IAM user's)."""

    access_key_id: str  # "AKIA" + 16 chars, or "test" / 12 digits in --dev mode (never stored)
    account_id: str
    principal_arn: str  # arn:aws:iam::ACCOUNT:root or arn:aws:iam::ACCOUNT:user/PATH/NAME
    wrapped_secret: bytes  # secret access key wrapped under the root key
    status: str  # "Active" | "Inactive"
    created_at: datetime


@dataclass(frozen=True)
class KeyRecord:
    """One KMS key.  ``key_state`` is AWS's KeyState (Enabled, Disabled, PendingDeletion, ...)."""

    key_id: str  # UUID, unique across accounts and regions
    account_id: str
    region: str
    description: str
    key_usage: str  # ENCRYPT_DECRYPT | SIGN_VERIFY | GENERATE_VERIFY_MAC | KEY_AGREEMENT
    key_spec: str  # SYMMETRIC_DEFAULT, ...
    origin: str  # AWS_KMS | EXTERNAL | ...
    key_state: str
    creation_date: datetime
    policy: str  # the key policy document, exactly as stored (JSON text)
    current_material_version: int  # version of the key material new ciphertexts use
    deletion_date: datetime | None = None
    pending_deletion_window_days: int | None = None
    rotation_enabled: bool = False
    rotation_period_days: int | None = None
    next_rotation_date: datetime | None = None
    multi_region: bool = False
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:key/{self.key_id}"


@dataclass(frozen=True)
class KeyMaterialRecord:
    """One generation of a key's material; ciphertext blobs name it by ``version``."""

    key_id: str
    version: int  # 1 for the first material, +1 per rotation
    material_id: str  # AWS's KeyMaterialId: 64 hex characters
    wrapped_material: bytes  # the material wrapped under the root key
    created_at: datetime
    rotation_type: str | None = None  # None for the first material; "AUTOMATIC" | "ON_DEMAND"


@dataclass(frozen=True)
class AliasRecord:
    account_id: str
    region: str
    alias_name: str  # "alias/..."
    target_key_id: str
    creation_date: datetime
    last_updated_date: datetime

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:{self.alias_name}"
