"""The repository interface every store implements (SQLite now, PostgreSQL later).

Service code depends on :class:`Store` only.  Every write happens inside
``with store.transaction():`` so that an operation that fails half-way leaves
nothing written; reads may happen inside or outside one.  Methods that look a
record up return ``None`` when it does not exist; methods that write raise
:class:`Conflict` when a unique record already exists.  Lists come back in a
stable order so that paging with a marker is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from kmsd.store.audit_records import AuditChainState, AuditEventQuery, AuditEventRow
from kmsd.store.models import (
    AccessKeyRecord,
    Account,
    AliasRecord,
    CustomKeyStoreRecord,
    GrantRecord,
    IamGroup,
    IamRole,
    IamUser,
    ImportedMaterialRecord,
    InlinePolicy,
    KeyLastUsageRecord,
    KeyMaterialRecord,
    KeyRecord,
    ManagedPolicy,
    OwnerKind,
    PolicyAttachment,
    PolicyVersion,
    SessionRecord,
    TokenKeyRecord,
)


class StoreError(Exception):
    """The store could not do what was asked (unreachable, corrupt, a bug)."""


class Conflict(StoreError):
    """A record with the same identity already exists."""


class StoreCounters:
    """What a store counts for the metrics: its statements and the seconds they took, and its key cache's hits.

    Plain integers and floats, added to on the thread that ran the statement and read when the metrics are
    scraped (:mod:`kmsd.api.metrics`): the store knows nothing of Prometheus.  No lock, to keep a statement's
    cost as it was: two threads adding at the very same moment may lose one count, never make one up, so a
    counter still only grows.
    """

    __slots__ = (
        "commit_seconds",
        "commits",
        "key_cache_hits",
        "key_cache_misses",
        "read_seconds",
        "reads",
        "write_seconds",
        "writes",
    )

    def __init__(self) -> None:
        self.reads = 0  # statements that read (outside and inside transactions)
        self.read_seconds = 0.0
        self.writes = 0  # statements that write
        self.write_seconds = 0.0
        self.commits = 0  # COMMIT statements (the durable write of a transaction)
        self.commit_seconds = 0.0
        self.key_cache_hits = 0  # get_key answered from this process's key cache
        self.key_cache_misses = 0  # get_key read the database while the cache could have answered

    def read(self, seconds: float) -> None:
        self.reads += 1
        self.read_seconds += seconds

    def wrote(self, seconds: float) -> None:
        self.writes += 1
        self.write_seconds += seconds

    def committed(self, seconds: float) -> None:
        self.commits += 1
        self.commit_seconds += seconds


class Store(Protocol):
    # Read by the metrics (see StoreCounters).
    counters: StoreCounters

    # --- lifecycle -------------------------------------------------------
    def transaction(self) -> AbstractContextManager[None]:
        """All writes inside commit together or not at all.  Re-entrant: an inner block joins the outer."""
        ...

    def schema_version(self) -> int: ...

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        ...

    def changed_since_last_check(self, *, wait: bool = True) -> bool:
        """True when another connection or process committed since the previous call.

        Caches in the service layer call this once per request and drop what
        they hold when it says True (SQLite: ``PRAGMA data_version``).  With
        ``wait=False`` (the event loop) it answers False at once, without
        checking, when another thread holds the store's writer; a later check
        sees the change.
        """
        ...

    # How often a server should call changed_since_last_check (seconds; 0: on every request, the check is free).
    change_check_interval: float

    def try_hold_background_lease(self) -> bool:
        """Whether this process holds the service's background lease now, taking it if it is free; never waits.

        Its holder runs the periodic sweep (deletion windows, automatic rotation, expiry of imported material
        and sessions), so that the sweep runs once per service however many processes and nodes serve it.  A
        holder that dies, however it dies, frees it.
        """
        ...

    def close(self) -> None: ...

    # --- small key/value settings (e.g. whether the default account was initialised) --
    def get_setting(self, name: str) -> str | None: ...

    def set_setting(self, name: str, value: str) -> None: ...

    # --- accounts and access keys -----------------------------------------
    def create_account(self, account: Account) -> None: ...

    def get_account(self, account_id: str) -> Account | None: ...

    def list_accounts(self) -> list[Account]: ...

    def put_access_key(self, key: AccessKeyRecord) -> None:
        """Insert, or replace the record with the same access key id."""
        ...

    def get_access_key(self, access_key_id: str) -> AccessKeyRecord | None: ...

    def list_access_keys(self, account_id: str) -> list[AccessKeyRecord]: ...

    # --- KMS keys ------------------------------------------------------------
    def insert_key(self, key: KeyRecord) -> None: ...

    def update_key(self, key: KeyRecord) -> None:
        """Replace the stored record with the same ``key_id`` and ``region`` (all fields, tags included)."""
        ...

    def get_key(self, key_id: str, region: str) -> KeyRecord | None:
        """By key id (a UUID or an ``mrk-`` id) in one Region, whatever the account."""
        ...

    def keys_with_id(self, key_id: str) -> list[KeyRecord]:
        """Every key with this id, in any Region (a multi-Region key and its replicas), ordered by Region."""
        ...

    def list_keys(self, account_id: str, region: str, after_key_id: str | None, limit: int) -> list[KeyRecord]:
        """Keys of one account and region ordered by ``key_id``, strictly after ``after_key_id``."""
        ...

    def delete_key(self, key_id: str, region: str) -> None:
        """Remove the key with its aliases, grants and records (the end of a deletion window).

        Its key material, which the keys of a multi-Region set share, goes with the last key with its id.
        """
        ...

    def keys_pending_deletion_before(self, when: datetime) -> list[KeyRecord]: ...

    def keys_due_for_rotation(self, when: datetime) -> list[KeyRecord]: ...

    # --- imported key material (origin EXTERNAL) ---------------------------
    def list_imported_materials(self, key_id: str, region: str) -> list[ImportedMaterialRecord]:
        """The key's imported materials, ordered by version."""
        ...

    def put_imported_material(self, record: ImportedMaterialRecord) -> None:
        """Store the record, replacing the one of the same key, Region and version."""
        ...

    def delete_imported_material(self, key_id: str, region: str, version: int) -> None:
        """Forget one imported material (no-op when absent)."""
        ...

    def delete_imported_materials(self, key_id: str, region: str) -> None:
        """Forget every imported material of the key (its purge; no-op when none)."""
        ...

    def imported_materials_expired_by(self, when: datetime) -> list[ImportedMaterialRecord]:
        """The records whose ValidTo is at or before ``when``, soonest first."""
        ...

    # --- last use of keys (GetKeyLastUsage) ---------------------------------
    def get_key_last_usage(self, key_id: str, region: str) -> KeyLastUsageRecord | None: ...

    def record_key_use(self, key_id: str, region: str, operation: str, when: datetime, request_id: str) -> None:
        """Set the key's last use unless a later one is already recorded; a no-op for an unknown key."""
        ...

    # --- custom key stores (PKCS#11 tokens) and the token objects of their keys ---------------
    def insert_custom_key_store(self, record: CustomKeyStoreRecord) -> None:
        """Conflict when the name is taken in the account and Region, or the token backs another key store."""
        ...

    def update_custom_key_store(self, record: CustomKeyStoreRecord) -> None:
        """Replace the mutable fields (name, token, trust anchor, password, connection state)."""
        ...

    def get_custom_key_store(self, custom_key_store_id: str) -> CustomKeyStoreRecord | None: ...

    def list_custom_key_stores(self, account_id: str, region: str) -> list[CustomKeyStoreRecord]:
        """Ordered by id."""
        ...

    def custom_key_store_of_cluster(self, cloud_hsm_cluster_id: str) -> CustomKeyStoreRecord | None:
        """The key store, of any account, that the token labelled ``cloud_hsm_cluster_id`` backs."""
        ...

    def delete_custom_key_store(self, custom_key_store_id: str) -> None: ...

    def insert_token_key(self, record: TokenKeyRecord) -> None: ...

    def update_token_key(self, record: TokenKeyRecord) -> None:
        """Set ``state_when_available``."""
        ...

    def get_token_key(self, key_id: str, region: str) -> TokenKeyRecord | None: ...

    def list_token_keys(self, custom_key_store_id: str) -> list[TokenKeyRecord]:
        """Ordered by key id."""
        ...

    def delete_token_key(self, key_id: str, region: str) -> None: ...

    # --- key material ----------------------------------------------------
    def add_key_material(self, material: KeyMaterialRecord) -> None: ...

    def get_key_material(self, key_id: str, version: int) -> KeyMaterialRecord | None: ...

    def list_key_materials(self, key_id: str) -> list[KeyMaterialRecord]:
        """Ordered by version, oldest first (shared by every key with this id, in every Region)."""
        ...

    def delete_key_materials(self, key_id: str) -> None:
        """Remove every generation of the key's material, scrubbed from the files as a purge is."""
        ...

    def delete_key_material(self, key_id: str, version: int) -> None:
        """Remove one generation of the key's material, scrubbed from the files as a purge is."""
        ...

    # --- aliases -----------------------------------------------------------
    def insert_alias(self, alias: AliasRecord) -> None: ...

    def update_alias(self, alias: AliasRecord) -> None: ...

    def delete_alias(self, account_id: str, region: str, alias_name: str) -> None: ...

    def get_alias(self, account_id: str, region: str, alias_name: str) -> AliasRecord | None: ...

    def list_aliases(self, account_id: str, region: str, key_id: str | None = None) -> list[AliasRecord]:
        """Ordered by alias name."""
        ...

    # --- IAM: users, groups, roles ---------------------------------------------
    # Entities are addressed by id; (account, name) is unique per kind.  Lists are
    # ordered by name and filtered by path prefix ("/" matches everything).
    def insert_user(self, user: IamUser) -> None: ...

    def update_user(self, user: IamUser) -> None:
        """Replace the user with the same ``user_id`` (a rename keeps every relation).

        A new name or path also becomes the ARN by which key policies, trust policies and grants
        name the user as a principal, in the same transaction.
        """
        ...

    def get_user(self, account_id: str, user_name: str) -> IamUser | None: ...

    def get_user_by_id(self, user_id: str) -> IamUser | None: ...

    def list_users(self, account_id: str, path_prefix: str = "/") -> list[IamUser]: ...

    def delete_user(self, user_id: str) -> None:
        """Remove the user and its memberships, attachments, inline policies and access keys.

        Key policies, trust policies and grants that name the user as a principal name its unique
        id instead, in the same transaction (a user created again under the name is someone else).
        """
        ...

    def insert_group(self, group: IamGroup) -> None: ...

    def update_group(self, group: IamGroup) -> None: ...

    def get_group(self, account_id: str, group_name: str) -> IamGroup | None: ...

    def get_group_by_id(self, group_id: str) -> IamGroup | None: ...

    def list_groups(self, account_id: str, path_prefix: str = "/") -> list[IamGroup]: ...

    def delete_group(self, group_id: str) -> None: ...

    def add_user_to_group(self, group_id: str, user_id: str) -> None:
        """Idempotent, as AddUserToGroup is."""
        ...

    def remove_user_from_group(self, group_id: str, user_id: str) -> None: ...

    def list_group_members(self, group_id: str) -> list[IamUser]: ...

    def list_groups_for_user(self, user_id: str) -> list[IamGroup]: ...

    def insert_role(self, role: IamRole) -> None: ...

    def update_role(self, role: IamRole) -> None: ...

    def get_role(self, account_id: str, role_name: str) -> IamRole | None: ...

    def get_role_by_id(self, role_id: str) -> IamRole | None: ...

    def list_roles(self, account_id: str, path_prefix: str = "/") -> list[IamRole]: ...

    def delete_role(self, role_id: str) -> None:
        """Remove the role; what names it as a principal names its unique id instead, as for a user."""
        ...

    # --- IAM: access keys of users ------------------------------------------------
    def list_user_access_keys(self, user_id: str) -> list[AccessKeyRecord]:
        """Ordered by creation time."""
        ...

    def delete_access_key(self, access_key_id: str) -> None: ...

    def record_access_key_use(self, access_key_id: str, when: datetime, service: str, region: str) -> None:
        """Set the last-used fields (GetAccessKeyLastUsed); a no-op for an unknown key."""
        ...

    # --- IAM: managed policies and their versions ---------------------------------
    def insert_policy(self, policy: ManagedPolicy) -> None: ...

    def update_policy(self, policy: ManagedPolicy) -> None: ...

    def get_policy(self, policy_arn: str) -> ManagedPolicy | None: ...

    def list_policies(self, account_id: str | None, path_prefix: str = "/") -> list[ManagedPolicy]:
        """Policies owned by ``account_id`` ("aws" for AWS managed); ``None`` lists every owner. Ordered by name."""
        ...

    def delete_policy(self, policy_arn: str) -> None:
        """Remove the policy and all its versions (attachments must be gone already)."""
        ...

    def add_policy_version(self, version: PolicyVersion) -> None: ...

    def get_policy_version(self, policy_arn: str, version_id: str) -> PolicyVersion | None: ...

    def list_policy_versions(self, policy_arn: str) -> list[PolicyVersion]:
        """Ordered by creation, oldest first."""
        ...

    def delete_policy_version(self, policy_arn: str, version_id: str) -> None: ...

    # --- IAM: inline policies and attachments -------------------------------------
    def put_inline_policy(self, policy: InlinePolicy) -> None:
        """Insert, or replace the document of the policy with the same owner and name."""
        ...

    def get_inline_policy(self, owner_kind: OwnerKind, owner_id: str, policy_name: str) -> InlinePolicy | None: ...

    def list_inline_policies(self, owner_kind: OwnerKind, owner_id: str) -> list[InlinePolicy]:
        """Ordered by policy name."""
        ...

    def delete_inline_policy(self, owner_kind: OwnerKind, owner_id: str, policy_name: str) -> None: ...

    def attach_policy(self, attachment: PolicyAttachment) -> None:
        """Idempotent, as Attach*Policy is."""
        ...

    def detach_policy(self, owner_kind: OwnerKind, owner_id: str, policy_arn: str) -> None: ...

    def list_attached_policies(self, owner_kind: OwnerKind, owner_id: str) -> list[str]:
        """The attached policies' ARNs, ordered by ARN."""
        ...

    def list_policy_attachments(self, policy_arn: str, account_id: str | None = None) -> list[PolicyAttachment]:
        """Who has ``policy_arn`` attached (in ``account_id`` only, when given: AWS managed policies are shared)."""
        ...

    # --- STS sessions -----------------------------------------------------------
    def insert_session(self, session: SessionRecord) -> None: ...

    def get_session(self, access_key_id: str) -> SessionRecord | None: ...

    def delete_sessions_expired_before(self, when: datetime) -> int:
        """Remove sessions that expired before ``when``; returns how many."""
        ...

    # --- KMS grants -------------------------------------------------------------
    def insert_grant(self, grant: GrantRecord) -> None: ...

    def get_grant(self, grant_id: str) -> GrantRecord | None: ...

    def list_grants(self, key_id: str, region: str) -> list[GrantRecord]:
        """The grants on one key, oldest first."""
        ...

    def list_grants_retirable_by(self, retiring_principal: str) -> list[GrantRecord]:
        """Grants whose retiring principal is exactly ``retiring_principal``, oldest first."""
        ...

    def delete_grant(self, grant_id: str) -> None: ...

    # --- the audit trail (kmsd.audit) ---------------------------------------------
    def bookkeeping_transaction(self) -> AbstractContextManager[None]:
        """:meth:`transaction` for records no cache holds (audit events): its commit empties no cache here and
        tells no other process or node of a change.  Inside an open transaction it joins it."""
        ...

    def audit_chain(self) -> AuditChainState | None:
        """The hash chain's head and pruned boundary; None before the first event was written."""
        ...

    def put_audit_chain(self, state: AuditChainState) -> None: ...

    def insert_audit_events(self, rows: Sequence[AuditEventRow]) -> None:
        """Append events (their sequences not taken yet) with their resources."""
        ...

    def find_audit_events(self, query: AuditEventQuery, limit: int) -> list[AuditEventRow]:
        """The events ``query`` matches, newest first (by time, then sequence), at most ``limit``."""
        ...

    def audit_events_after(self, sequence: int, limit: int) -> list[AuditEventRow]:
        """Up to ``limit`` events with a sequence above ``sequence``, in chain order."""
        ...

    def audit_event_with_hash(self, hash_value: str, first: int, last: int) -> AuditEventRow | None:
        """The event whose hash is ``hash_value`` among the sequences ``first`` to ``last``; None when none is."""
        ...

    def first_audit_sequence_since(self, when: datetime) -> int | None:
        """The lowest sequence of an event at or after ``when``; None when there is none."""
        ...

    def delete_audit_events_through(self, sequence: int) -> int:
        """Delete the events up to ``sequence`` (and their resources); how many events went."""
        ...


def iter_all_keys(store: Store, account_id: str, region: str, page: int = 500) -> Iterator[KeyRecord]:
    """Every key of one account and region, page by page."""
    after: str | None = None
    while True:
        batch = store.list_keys(account_id, region, after, page)
        yield from batch
        if len(batch) < page:
            return
        after = batch[-1].key_id
