"""The table of IAM entity kinds: AWS's quotas and wording, the same for users, groups and roles.

The handlers' own tests (test_users, test_groups, test_roles, the integration
tests) prove each operation; these check what the table adds: every row
carries AWS's quota ("IAM and AWS STS quotas") and id prefix ("IAM
identifiers"), and the shared operations word their refusals from the row,
so "Cannot exceed quota for GroupsPerAccount" and "Role with name X already
exists." come out right for every kind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.iam.context import IamContext
from kmsd.iam.entity_kinds import ENTITY_KINDS, GROUPS, ROLES, USERS, EntityKind, create
from kmsd.store.models import IamGroup, IamRole, IamUser
from kmsd.store.sqlite import SqliteStore
from tests.iam.conftest import ACCOUNT, Iam, aws_error

KINDS = [USERS, GROUPS, ROLES]


def build(kind: EntityKind[Any], name: str, created_at: datetime) -> Callable[[str], Any]:
    """What a Create handler would store for ``name``."""

    def record(entity_id: str) -> Any:
        if kind is USERS:
            return IamUser(entity_id, ACCOUNT, name, "/", created_at)
        if kind is GROUPS:
            return IamGroup(entity_id, ACCOUNT, name, "/", created_at)
        return IamRole(entity_id, ACCOUNT, name, "/", created_at, assume_role_policy="{}")

    return record


@pytest.fixture
def ctx(store: SqliteStore, root_key: FileRootKey, clock: ManualClock) -> IamContext:
    return IamContext(store, root_key, clock, SeededRandomSource(5))


def test_the_rows_carry_aws_quotas_id_prefixes_and_members() -> None:
    assert [(kind.title, kind.max_per_account, kind.id_prefix) for kind in KINDS] == [
        ("User", 5000, "AIDA"),
        ("Group", 300, "AGPA"),
        ("Role", 1000, "AROA"),
    ]
    # UpdateUser and UpdateGroup rename through New<Name>; IAM has no way to rename a role.
    assert [kind.name_member for kind in KINDS] == ["UserName", "GroupName", "RoleName"]
    assert [USERS.new_name_member, GROUPS.new_name_member] == ["NewUserName", "NewGroupName"]
    assert {owner: kind.title for owner, kind in ENTITY_KINDS.items()} == {
        "user": "User",
        "group": "Group",
        "role": "Role",
    }


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.title)
def test_a_full_account_is_refused_with_the_kinds_quota_name(kind: EntityKind[Any], ctx: IamContext) -> None:
    # The real quotas are thousands; a row with a quota of one shows the wording the shared code derives.
    small = dataclasses.replace(kind, max_per_account=1)
    first = create(ctx, small, ACCOUNT, "first", build(kind, "first", ctx.clock.now()))
    assert first.path == "/" and kind.id_of(first).startswith(kind.id_prefix)
    with aws_error("LimitExceeded", f"Cannot exceed quota for {kind.title}sPerAccount: 1", 409):
        create(ctx, small, ACCOUNT, "second", build(kind, "second", ctx.clock.now()))
    assert [kind.name_of(entity) for entity in kind.list_in(ctx.store, ACCOUNT, "/")] == ["first"]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.title)
def test_a_taken_name_in_any_case_is_refused_before_the_quota(kind: EntityKind[Any], ctx: IamContext) -> None:
    small = dataclasses.replace(kind, max_per_account=1)
    create(ctx, small, ACCOUNT, "taken", build(kind, "taken", ctx.clock.now()))
    # IAM names are unique whatever their case; the name is checked before the quota, as AWS answers.
    with aws_error("EntityAlreadyExists", f"{kind.title} with name TAKEN already exists.", 409):
        create(ctx, small, ACCOUNT, "TAKEN", build(kind, "TAKEN", ctx.clock.now()))


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.title)
def test_a_missing_entity_is_named_with_the_kinds_word(kind: EntityKind[Any], ctx: IamContext) -> None:
    with aws_error("NoSuchEntity", f"The {kind.owner_kind} with name ghost cannot be found.", 404):
        kind.named(ctx, ACCOUNT, "ghost")


def test_tags_and_deletion_go_by_the_row(iam: Iam) -> None:
    iam.create_user("alice")
    iam("TagUser", UserName="alice", Tags=[{"Key": "team", "Value": "a"}])
    assert iam("ListUserTags", UserName="alice")["Tags"] == [{"Key": "team", "Value": "a"}]
    with aws_error("NoSuchEntity", "The role with name nobody cannot be found.", 404):
        iam("TagRole", RoleName="nobody", Tags=[{"Key": "team", "Value": "a"}])
    iam.create_group("devs")
    iam("AddUserToGroup", GroupName="devs", UserName="alice")
    with aws_error("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409):
        iam("DeleteGroup", GroupName="devs")
    with aws_error("DeleteConflict", "Cannot delete entity, must remove users from group first.", 409):
        iam("DeleteUser", UserName="alice")
