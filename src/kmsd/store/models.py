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
    user_id: str | None = None  # the IAM user that owns the key; None for the root user's keys
    last_used_at: datetime | None = None
    last_used_service: str | None = None
    last_used_region: str | None = None


@dataclass(frozen=True)
class KeyRecord:
    """One KMS key.  ``key_state`` is AWS's KeyState (Enabled, Disabled, PendingDeletion, ...)."""

    # A UUID, or "mrk-" and 32 hex digits for a multi-Region key, whose replicas have the same id in other
    # Regions: a key is identified by (key_id, region).
    key_id: str
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
    key_manager: str = "CUSTOMER"  # CUSTOMER | AWS (an AWS managed key, created on first use of its alias)
    # A multi-Region key: the Region of the primary key of its set (its own Region when it is the primary).
    primary_region: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:kms:{self.region}:{self.account_id}:key/{self.key_id}"

    @property
    def is_replica(self) -> bool:
        """A multi-Region replica key: one whose set's primary key is in another Region."""
        return self.multi_region and self.primary_region is not None and self.primary_region != self.region


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
class KeyLastUsageRecord:
    """The last successful cryptographic use of a key, for GetKeyLastUsage.

    ``tracking_started_at`` is set for keys that existed when kmsd began tracking (migration 7); for a key
    created later it is None and tracking began at its creation.  The use fields are None until a use is
    recorded.
    """

    key_id: str
    region: str
    tracking_started_at: datetime | None = None
    operation: str | None = None
    used_at: datetime | None = None
    request_id: str | None = None


@dataclass(frozen=True)
class ImportedMaterialRecord:
    """One key material of a key of origin EXTERNAL, beyond the material itself (which is in ``key_materials``).

    ``version`` is the generation the material is (or, while it waits for RotateKeyOnDemand, will be): it is
    pending rotation while ``version`` is above the key's ``current_material_version`` (PENDING_ROTATION, or in a
    multi-Region set PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every key of it has the material imported;
    :mod:`kmsd.kms.multi_region_imports`).  ``wrapped_digest`` is
    the SHA-256 of the material and its KeyMaterialId, wrapped under the root key: it outlives the material, so
    that only that material may be imported again under that id.  ``imported`` says whether the material is
    in the store now (ImportState); ``expiration_model`` and ``valid_to`` are AWS's ExpirationModel and
    ValidTo while it is.  ``rotation_type`` and ``rotated_at`` are set once a rotation made it current.
    """

    key_id: str
    region: str
    version: int
    wrapped_digest: bytes
    imported: bool
    expiration_model: str | None = None
    valid_to: datetime | None = None
    description: str | None = None
    rotation_type: str | None = None
    rotated_at: datetime | None = None


@dataclass(frozen=True)
class CustomKeyStoreRecord:
    """A custom key store of type AWS_CLOUDHSM or EXTERNAL_KEY_STORE, backed by a PKCS#11 token.

    ``cloud_hsm_cluster_id`` is the token's label for both types (kmsd's mapping of AWS's cluster id, and of
    an external key store's proxy URI, :mod:`kmsd.kms.xks_proxies`); ``trust_anchor_certificate`` is empty
    for an external key store, whose ``xks_*`` fields are set instead;
    ``wrapped_key_store_password`` is the token's user PIN (AWS's KeyStorePassword) wrapped under the root
    key; ``connection_state`` is AWS's ConnectionState, with ``connection_error_code`` when it is FAILED.
    """

    custom_key_store_id: str  # "cks-" and 17 hex digits
    account_id: str
    region: str
    custom_key_store_name: str
    custom_key_store_type: str  # AWS_CLOUDHSM | EXTERNAL_KEY_STORE
    cloud_hsm_cluster_id: str
    trust_anchor_certificate: str  # PEM, as given
    wrapped_key_store_password: bytes
    connection_state: str  # CONNECTED | CONNECTING | FAILED | DISCONNECTED | DISCONNECTING
    creation_date: datetime
    connection_error_code: str | None = None
    xks_proxy_uri_endpoint: str | None = None
    xks_proxy_uri_path: str | None = None
    xks_proxy_connectivity: str | None = None  # PUBLIC_ENDPOINT | VPC_ENDPOINT_SERVICE
    xks_proxy_vpc_endpoint_service_name: str | None = None
    xks_proxy_vpc_endpoint_service_owner: str | None = None
    xks_proxy_access_key_id: str | None = None  # the credential's secret is the wrapped password

    @property
    def token_label(self) -> str:
        """The label of the PKCS#11 token behind the key store, whatever its type."""
        return self.cloud_hsm_cluster_id


@dataclass(frozen=True)
class TokenKeyRecord:
    """Which token object holds a KMS key of a custom key store.

    ``state_when_available`` is the key state (Enabled or Disabled) the key returns to when its key store is
    connected again; it is set while the key is Unavailable.
    """

    key_id: str
    region: str
    custom_key_store_id: str
    object_label: str  # the CKA_LABEL of the AES key in the token: the key id, or the XksKeyId
    material_id: str  # AWS's KeyMaterialId of the key's (only) material
    state_when_available: str | None = None


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


# --- IAM and STS -------------------------------------------------------------
# Entities are keyed by their AWS unique id (AIDA..., AGPA..., AROA..., ANPA...),
# with (account, name) unique; relations refer to ids, so renaming a user or a
# group (UpdateUser / UpdateGroup) is one update.  ``path`` starts and ends with
# "/" ("/" by default), as in AWS.

OwnerKind = str  # "user" | "group" | "role": who an inline policy or an attachment belongs to


@dataclass(frozen=True)
class IamUser:
    user_id: str  # "AIDA" + 17 characters
    account_id: str
    user_name: str
    path: str
    created_at: datetime
    permissions_boundary_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:user{self.path}{self.user_name}"


@dataclass(frozen=True)
class IamGroup:
    group_id: str  # "AGPA" + 17 characters
    account_id: str
    group_name: str
    path: str
    created_at: datetime

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:group{self.path}{self.group_name}"


@dataclass(frozen=True)
class IamRole:
    role_id: str  # "AROA" + 17 characters
    account_id: str
    role_name: str
    path: str
    created_at: datetime
    assume_role_policy: str  # the trust policy document, as given
    description: str = ""
    max_session_duration: int = 3600  # seconds, 3600..43200
    permissions_boundary_arn: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account_id}:role{self.path}{self.role_name}"


@dataclass(frozen=True)
class ManagedPolicy:
    """A managed policy; AWS managed ones have ``account_id == "aws"`` and exist in every account."""

    arn: str  # arn:aws:iam::ACCOUNT:policy/PATH/NAME or arn:aws:iam::aws:policy/PATH/NAME
    policy_id: str  # "ANPA" + 17 characters
    account_id: str
    policy_name: str
    path: str
    default_version_id: str  # "v1", "v2", ...
    created_at: datetime
    updated_at: datetime
    description: str = ""
    next_version_number: int = 2  # version ids are never reused: v1, v2, ... even after deletions
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyVersion:
    policy_arn: str
    version_id: str
    document: str  # JSON text, as given
    created_at: datetime


@dataclass(frozen=True)
class InlinePolicy:
    account_id: str
    owner_kind: OwnerKind
    owner_id: str  # user_id / group_id / role_id
    policy_name: str
    document: str


@dataclass(frozen=True)
class PolicyAttachment:
    account_id: str
    owner_kind: OwnerKind
    owner_id: str
    policy_arn: str


@dataclass(frozen=True)
class SessionRecord:
    """Temporary credentials issued by STS (AssumeRole, GetSessionToken)."""

    access_key_id: str  # "ASIA" + 16 characters
    wrapped_secret: bytes  # secret access key wrapped under the root key
    token_hash: bytes  # SHA-256 of the session token; the token itself is never stored
    account_id: str
    kind: str  # "assumed-role" | "session-token"
    principal_arn: str  # arn:aws:sts::ACCT:assumed-role/ROLE/SESSION, or the user's/root's ARN for GetSessionToken
    user_id: str  # aws:userid: "AROA...:SESSION" for a role session, the user's id (or account id) otherwise
    created_at: datetime
    expires_at: datetime
    role_id: str | None = None
    session_name: str | None = None
    source_user_id: str | None = None  # for GetSessionToken: the user whose permissions the session carries
    session_policy: str | None = None  # inline session policy (AssumeRole Policy)
    session_policy_arns: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)  # session tags (aws:PrincipalTag overrides)
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None  # AssumeRole SourceIdentity (aws:SourceIdentity), fixed for a role chain


# --- KMS grants ----------------------------------------------------------------


@dataclass(frozen=True)
class GrantRecord:
    """One grant on a KMS key: who may do which operations, under which encryption-context constraints."""

    grant_id: str  # 64 hex characters, as AWS's
    key_id: str
    region: str  # the Region of the key (a replica has grants of its own)
    # An ARN (account root, user, role, assumed-role) or a service principal; the unique id (AIDA..., AROA...)
    # of a user or role deleted since, which matches no caller.
    grantee_principal: str
    operations: tuple[str, ...]  # e.g. ("Encrypt", "Decrypt")
    issuing_account: str  # arn:aws:iam::ACCOUNT:root of the account that created the grant
    created_at: datetime
    name: str | None = None
    retiring_principal: str | None = None
    encryption_context_equals: dict[str, str] | None = None
    encryption_context_subset: dict[str, str] | None = None
