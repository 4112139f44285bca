"""IAM managed policies with their versions, inline policies, and the attachments of managed policies to users, groups
and roles, in the SQLite store.
"""

from __future__ import annotations

from kmsd.store.base import StoreError
from kmsd.store.models import InlinePolicy, ManagedPolicy, OwnerKind, PolicyAttachment, PolicyVersion
from kmsd.store.sql.connections import SqlConnections
from kmsd.store.sql.rows import (
    ATTACHMENTS,
    INLINE_POLICIES,
    PATH_PREFIX_MATCH,
    POLICIES,
    POLICY_VERSIONS,
    owner_column,
)


class IamPolicyQueries(SqlConnections):
    """The iam_policies, iam_policy_versions, iam_inline_policies and iam_policy_attachments tables."""

    # --- IAM: managed policies and their versions -----------------------------------------------
    # Policies are addressed by ARN, compared exactly; the name is unique per owner
    # ("aws" for AWS managed policies) whatever its case.

    def insert_policy(self, policy: ManagedPolicy) -> None:
        self._write(
            POLICIES.insert_sql,
            POLICIES.to_row(policy),
            f"policy `{policy.policy_name}` in account {policy.account_id}",
        )

    def update_policy(self, policy: ManagedPolicy) -> None:
        self._update_stored(
            POLICIES.update_sql,
            POLICIES.update_values(policy),
            f"policy `{policy.arn}`",
        )

    def get_policy(self, policy_arn: str) -> ManagedPolicy | None:
        row = self._fetchone(f"{POLICIES.select_sql} WHERE arn = ?", (policy_arn,))
        return None if row is None else POLICIES.from_row(row)

    def list_policies(self, account_id: str | None, path_prefix: str = "/") -> list[ManagedPolicy]:
        """Ordered by name, then ARN (an account's policy may share its name with an AWS managed one)."""
        if account_id is None:
            rows = self._fetchall(
                f"{POLICIES.select_sql} WHERE {PATH_PREFIX_MATCH} ORDER BY policy_name, arn",
                (path_prefix, path_prefix),
            )
        else:
            rows = self._fetchall(
                f"{POLICIES.select_sql} WHERE account_id = ? AND {PATH_PREFIX_MATCH} ORDER BY policy_name, arn",
                (account_id, path_prefix, path_prefix),
            )
        return [POLICIES.from_row(row) for row in rows]

    def delete_policy(self, policy_arn: str) -> None:
        """Remove the policy and its versions; StoreError while it is still attached; no-op when absent."""
        with self.transaction():
            attached = self._fetchone("SELECT count(*) FROM iam_policy_attachments WHERE policy_arn = ?", (policy_arn,))
            if attached is not None and attached[0] > 0:
                raise StoreError(
                    f"policy `{policy_arn}` cannot be deleted: it is still attached to {attached[0]} entities"
                )
            self._write("DELETE FROM iam_policies WHERE arn = ?", (policy_arn,), f"policy `{policy_arn}`")

    def add_policy_version(self, version: PolicyVersion) -> None:
        self._write(
            POLICY_VERSIONS.insert_sql,
            POLICY_VERSIONS.to_row(version),
            f"version {version.version_id} of policy `{version.policy_arn}`",
        )

    def get_policy_version(self, policy_arn: str, version_id: str) -> PolicyVersion | None:
        row = self._fetchone(
            f"{POLICY_VERSIONS.select_sql} WHERE policy_arn = ? AND version_id = ?", (policy_arn, version_id)
        )
        return None if row is None else POLICY_VERSIONS.from_row(row)

    def list_policy_versions(self, policy_arn: str) -> list[PolicyVersion]:
        # Version ids are "v<n>" and n only grows, so n breaks ties between versions created at one instant.
        rows = self._fetchall(
            f"{POLICY_VERSIONS.select_sql} WHERE policy_arn = ? ORDER BY created_at, length(version_id), version_id",
            (policy_arn,),
        )
        return [POLICY_VERSIONS.from_row(row) for row in rows]

    def delete_policy_version(self, policy_arn: str, version_id: str) -> None:
        """No-op when absent."""
        self._write(
            "DELETE FROM iam_policy_versions WHERE policy_arn = ? AND version_id = ?",
            (policy_arn, version_id),
            f"version {version_id} of policy `{policy_arn}`",
        )

    # --- IAM: inline policies and attachments ------------------------------------------------------

    def put_inline_policy(self, policy: InlinePolicy) -> None:
        """Insert, or replace the document of the owner's policy of that name; StoreError for a missing owner."""
        column = owner_column(policy.owner_kind)
        self._write(
            f"INSERT INTO iam_inline_policies (account_id, {column}, policy_name, document) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT ({column}, policy_name) DO UPDATE SET document = excluded.document",
            (policy.account_id, policy.owner_id, policy.policy_name, policy.document),
            f"inline policy `{policy.policy_name}` of {policy.owner_kind} {policy.owner_id}",
        )

    def get_inline_policy(self, owner_kind: OwnerKind, owner_id: str, policy_name: str) -> InlinePolicy | None:
        row = self._fetchone(
            f"{INLINE_POLICIES.select_sql} WHERE {owner_column(owner_kind)} = ? AND policy_name = ?",
            (owner_id, policy_name),
        )
        return None if row is None else INLINE_POLICIES.from_row(row)

    def list_inline_policies(self, owner_kind: OwnerKind, owner_id: str) -> list[InlinePolicy]:
        rows = self._fetchall(
            f"{INLINE_POLICIES.select_sql} WHERE {owner_column(owner_kind)} = ? ORDER BY policy_name", (owner_id,)
        )
        return [INLINE_POLICIES.from_row(row) for row in rows]

    def delete_inline_policy(self, owner_kind: OwnerKind, owner_id: str, policy_name: str) -> None:
        """No-op when absent."""
        self._write(
            f"DELETE FROM iam_inline_policies WHERE {owner_column(owner_kind)} = ? AND policy_name = ?",
            (owner_id, policy_name),
            f"inline policy `{policy_name}` of {owner_kind} {owner_id}",
        )

    def attach_policy(self, attachment: PolicyAttachment) -> None:
        """Idempotent; StoreError when the owner or the policy does not exist."""
        column = owner_column(attachment.owner_kind)
        self._write(
            f"INSERT INTO iam_policy_attachments (account_id, {column}, policy_arn) VALUES (?, ?, ?) "
            f"ON CONFLICT ({column}, policy_arn) DO NOTHING",
            (attachment.account_id, attachment.owner_id, attachment.policy_arn),
            f"attachment of `{attachment.policy_arn}` to {attachment.owner_kind} {attachment.owner_id}",
        )

    def detach_policy(self, owner_kind: OwnerKind, owner_id: str, policy_arn: str) -> None:
        """No-op when not attached."""
        self._write(
            f"DELETE FROM iam_policy_attachments WHERE {owner_column(owner_kind)} = ? AND policy_arn = ?",
            (owner_id, policy_arn),
            f"attachment of `{policy_arn}` to {owner_kind} {owner_id}",
        )

    def list_attached_policies(self, owner_kind: OwnerKind, owner_id: str) -> list[str]:
        rows = self._fetchall(
            f"SELECT policy_arn FROM iam_policy_attachments WHERE {owner_column(owner_kind)} = ? ORDER BY policy_arn",
            (owner_id,),
        )
        return [str(row[0]) for row in rows]

    def list_policy_attachments(self, policy_arn: str, account_id: str | None = None) -> list[PolicyAttachment]:
        """Ordered by owner kind (group, role, user), then owner id."""
        select = f"{ATTACHMENTS.select_sql} WHERE policy_arn = ?"
        if account_id is None:
            rows = self._fetchall(f"{select} ORDER BY 2, 3", (policy_arn,))
        else:
            rows = self._fetchall(f"{select} AND account_id = ? ORDER BY 2, 3", (policy_arn, account_id))
        return [ATTACHMENTS.from_row(row) for row in rows]
