"""IAM users, groups (with their members) and roles in the SQLite store, whose names compare case-insensitively as
IAM's do.
"""

from __future__ import annotations

import threading

from kmsd.store.models import IamGroup, IamRole, IamUser
from kmsd.store.sql.principal_references import PrincipalReferenceQueries
from kmsd.store.sql.rows import GROUPS, PATH_PREFIX_MATCH, ROLES, USERS


class IamEntityQueries(PrincipalReferenceQueries):
    """The iam_users, iam_groups, iam_group_members and iam_roles tables."""

    # --- IAM: users, groups, roles ----------------------------------------------------------
    # Names compare case-insensitively (the columns are COLLATE NOCASE, see migrations.py), so
    # a lookup by name finds the entity whatever the spelling and lists sort as a person would.

    def insert_user(self, user: IamUser) -> None:
        self._write(
            USERS.insert_sql,
            USERS.to_row(user),
            f"user `{user.user_name}` in account {user.account_id}",
        )

    def update_user(self, user: IamUser) -> None:
        """Replace the stored user; a new name or path is also the new ARN of every principal naming it."""
        if self._owner == threading.get_ident():
            # Not a nested block: a Conflict (the new name is taken) must leave the caller's transaction usable.
            self._update_user(user)
            return
        with self.transaction():
            self._update_user(user)

    def _update_user(self, user: IamUser) -> None:
        before = self.get_user_by_id(user.user_id)
        self._update_stored(
            USERS.update_sql,
            USERS.update_values(user),
            f"user `{user.user_name}` ({user.user_id}) in account {user.account_id}",
        )
        if before is not None and before.arn != user.arn:
            self._rename_principal(before.arn, user.arn)

    def get_user(self, account_id: str, user_name: str) -> IamUser | None:
        row = self._fetchone(f"{USERS.select_sql} WHERE account_id = ? AND user_name = ?", (account_id, user_name))
        return None if row is None else USERS.from_row(row)

    def get_user_by_id(self, user_id: str) -> IamUser | None:
        row = self._fetchone(f"{USERS.select_sql} WHERE user_id = ?", (user_id,))
        return None if row is None else USERS.from_row(row)

    def list_users(self, account_id: str, path_prefix: str = "/") -> list[IamUser]:
        rows = self._fetchall(
            f"{USERS.select_sql} WHERE account_id = ? AND {PATH_PREFIX_MATCH} ORDER BY user_name, user_id",
            (account_id, path_prefix, path_prefix),
        )
        return [USERS.from_row(row) for row in rows]

    def delete_user(self, user_id: str) -> None:
        """Remove the user with its memberships, attachments, inline policies and access keys; no-op when absent.

        Key policies, trust policies and grants that name the user show its unique id from now on,
        so a user created again under the same name inherits nothing (``_orphan_principal``).
        """
        with self.transaction():
            user = self.get_user_by_id(user_id)
            if user is not None:
                self._orphan_principal(user.arn, user.user_id)
            self._write("DELETE FROM iam_users WHERE user_id = ?", (user_id,), f"user {user_id}")

    def insert_group(self, group: IamGroup) -> None:
        self._write(
            GROUPS.insert_sql,
            GROUPS.to_row(group),
            f"group `{group.group_name}` in account {group.account_id}",
        )

    def update_group(self, group: IamGroup) -> None:
        self._update_stored(
            GROUPS.update_sql,
            GROUPS.update_values(group),
            f"group `{group.group_name}` ({group.group_id}) in account {group.account_id}",
        )

    def get_group(self, account_id: str, group_name: str) -> IamGroup | None:
        row = self._fetchone(f"{GROUPS.select_sql} WHERE account_id = ? AND group_name = ?", (account_id, group_name))
        return None if row is None else GROUPS.from_row(row)

    def get_group_by_id(self, group_id: str) -> IamGroup | None:
        row = self._fetchone(f"{GROUPS.select_sql} WHERE group_id = ?", (group_id,))
        return None if row is None else GROUPS.from_row(row)

    def list_groups(self, account_id: str, path_prefix: str = "/") -> list[IamGroup]:
        rows = self._fetchall(
            f"{GROUPS.select_sql} WHERE account_id = ? AND {PATH_PREFIX_MATCH} ORDER BY group_name, group_id",
            (account_id, path_prefix, path_prefix),
        )
        return [GROUPS.from_row(row) for row in rows]

    def delete_group(self, group_id: str) -> None:
        """Remove the group with its memberships, attachments and inline policies; no-op when absent."""
        self._write("DELETE FROM iam_groups WHERE group_id = ?", (group_id,), f"group {group_id}")

    def add_user_to_group(self, group_id: str, user_id: str) -> None:
        """Idempotent; StoreError when the group or the user does not exist."""
        self._write(
            "INSERT INTO iam_group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (group_id, user_id),
            f"membership of user {user_id} in group {group_id}",
        )

    def remove_user_from_group(self, group_id: str, user_id: str) -> None:
        """No-op when the user is not a member."""
        self._write(
            "DELETE FROM iam_group_members WHERE group_id = ? AND user_id = ?",
            (group_id, user_id),
            f"membership of user {user_id} in group {group_id}",
        )

    def list_group_members(self, group_id: str) -> list[IamUser]:
        """Ordered by user name."""
        rows = self._fetchall(
            f"SELECT {USERS.columns_of('u')} FROM iam_group_members m "
            "JOIN iam_users u ON u.user_id = m.user_id WHERE m.group_id = ? ORDER BY u.user_name, u.user_id",
            (group_id,),
        )
        return [USERS.from_row(row) for row in rows]

    def list_groups_for_user(self, user_id: str) -> list[IamGroup]:
        """Ordered by group name."""
        rows = self._fetchall(
            f"SELECT {GROUPS.columns_of('g')} FROM iam_group_members m "
            "JOIN iam_groups g ON g.group_id = m.group_id WHERE m.user_id = ? ORDER BY g.group_name, g.group_id",
            (user_id,),
        )
        return [GROUPS.from_row(row) for row in rows]

    def insert_role(self, role: IamRole) -> None:
        self._write(
            ROLES.insert_sql,
            ROLES.to_row(role),
            f"role `{role.role_name}` in account {role.account_id}",
        )

    def update_role(self, role: IamRole) -> None:
        self._update_stored(
            ROLES.update_sql,
            ROLES.update_values(role),
            f"role `{role.role_name}` ({role.role_id}) in account {role.account_id}",
        )

    def get_role(self, account_id: str, role_name: str) -> IamRole | None:
        row = self._fetchone(f"{ROLES.select_sql} WHERE account_id = ? AND role_name = ?", (account_id, role_name))
        return None if row is None else ROLES.from_row(row)

    def get_role_by_id(self, role_id: str) -> IamRole | None:
        row = self._fetchone(f"{ROLES.select_sql} WHERE role_id = ?", (role_id,))
        return None if row is None else ROLES.from_row(row)

    def list_roles(self, account_id: str, path_prefix: str = "/") -> list[IamRole]:
        rows = self._fetchall(
            f"{ROLES.select_sql} WHERE account_id = ? AND {PATH_PREFIX_MATCH} ORDER BY role_name, role_id",
            (account_id, path_prefix, path_prefix),
        )
        return [ROLES.from_row(row) for row in rows]

    def delete_role(self, role_id: str) -> None:
        """Remove the role with its attachments and inline policies (not its sessions); no-op when absent.

        Key policies, trust policies and grants that name the role show its unique id from now on,
        so a role created again under the same name inherits nothing (``_orphan_principal``).
        """
        with self.transaction():
            role = self.get_role_by_id(role_id)
            if role is not None:
                self._orphan_principal(role.arn, role.role_id)
            self._write("DELETE FROM iam_roles WHERE role_id = ?", (role_id,), f"role {role_id}")
