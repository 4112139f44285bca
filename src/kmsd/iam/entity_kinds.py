"""The IAM entity kinds (users, groups, roles) as one table, and the operations they share.

Users, groups and roles differ in their fields and in a few rules, but
CreateUser/CreateGroup/CreateRole, the Update, Delete and List operations and
the tag operations follow one pattern, worded the same way by AWS with only
the kind's name changed ("User with name X already exists.", "Cannot exceed
quota for RolesPerAccount: 1000", "The group with name X cannot be found.").
An :class:`EntityKind` row holds what changes from kind to kind: the request
member that names an entity, its unique-id prefix, its quota, how the store
finds, lists and writes it, and what must be removed before it can be
deleted; the functions below are the pattern, written once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kmsd.errors import AwsError
from kmsd.iam.context import IamContext
from kmsd.iam.ids import GROUP_ID_PREFIX, ROLE_ID_PREFIX, USER_ID_PREFIX, new_unique_id, validate_path
from kmsd.iam.paging import paginate
from kmsd.iam.principal import Caller
from kmsd.paging import Page
from kmsd.store.base import Conflict, Store
from kmsd.store.models import IamGroup, IamRole, IamUser, OwnerKind

E = TypeVar("E", IamUser, IamGroup, IamRole)

# What keeps an entity from being deleted: a store query by the entity's unique id, and AWS's DeleteConflict text.
Blocker = tuple[Callable[[Store, str], Sequence[object]], str]


@dataclass(frozen=True)
class EntityKind(Generic[E]):
    """One row of the table: everything about users, groups or roles that the shared operations need."""

    owner_kind: OwnerKind  # "user": the store's name for the kind, and the word in "The user with name ..."
    title: str  # "User": AWS's word in "User with name ... already exists." and quota names (UsersPerAccount)
    name_member: str  # "UserName": the request member naming one
    name_field: str  # "user_name": the record's field holding that name
    id_prefix: str  # "AIDA" ("IAM identifiers": unique ids)
    max_per_account: int  # "IAM and AWS STS quotas"
    id_of: Callable[[E], str]
    name_of: Callable[[E], str]
    get: Callable[[Store, str, str], E | None]
    list_in: Callable[[Store, str, str], list[E]]  # (store, account id, path prefix)
    insert: Callable[[Store, E], None]
    update: Callable[[Store, E], None]
    delete: Callable[[Store, str], None]
    blockers: tuple[Blocker, ...]  # checked in this order: AWS names the first that applies

    @property
    def new_name_member(self) -> str:
        return f"New{self.name_member}"

    @property
    def list_scope(self) -> str:
        """The marker scope of the kind's List operation (``users``), kept stable so old markers still work."""
        return f"{self.owner_kind}s"

    def already_exists(self, name: str) -> AwsError:
        return AwsError("EntityAlreadyExists", f"{self.title} with name {name} already exists.", 409)

    def named(self, ctx: IamContext, account_id: str, name: str) -> E:
        """The entity called ``name`` in the account, or AWS's ``NoSuchEntity``."""
        found = self.get(ctx.store, account_id, name)
        if found is None:
            raise no_such_entity(f"The {self.owner_kind} with name {name} cannot be found.")
        return found

    def requested(self, ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> E:
        """The entity the request's ``UserName`` / ``GroupName`` / ``RoleName`` names, in the caller's account."""
        return self.named(ctx, caller.principal.account_id, str(params[self.name_member]))


def no_such_entity(message: str) -> AwsError:
    return AwsError("NoSuchEntity", message, 404)


def delete_conflict(message: str) -> AwsError:
    return AwsError("DeleteConflict", message, 409)


def _inline_policies(owner_kind: OwnerKind) -> Blocker:
    return (
        lambda store, owner_id: store.list_inline_policies(owner_kind, owner_id),
        "Cannot delete entity, must delete policies first.",
    )


def _attached_policies(owner_kind: OwnerKind) -> Blocker:
    return (
        lambda store, owner_id: store.list_attached_policies(owner_kind, owner_id),
        "Cannot delete entity, must detach all policies first.",
    )


_GROUP_MEMBERSHIPS = "Cannot delete entity, must remove users from group first."

USERS: EntityKind[IamUser] = EntityKind(
    owner_kind="user",
    title="User",
    name_member="UserName",
    name_field="user_name",
    id_prefix=USER_ID_PREFIX,
    max_per_account=5000,
    id_of=lambda user: user.user_id,
    name_of=lambda user: user.user_name,
    get=lambda store, account_id, name: store.get_user(account_id, name),
    list_in=lambda store, account_id, prefix: store.list_users(account_id, prefix),
    insert=lambda store, user: store.insert_user(user),
    update=lambda store, user: store.update_user(user),
    delete=lambda store, user_id: store.delete_user(user_id),
    # DeleteUser (IAM API reference): "you must delete the items attached to the user manually".
    blockers=(
        (
            lambda store, user_id: store.list_user_access_keys(user_id),
            "Cannot delete entity, must delete access keys first.",
        ),
        _inline_policies("user"),
        _attached_policies("user"),
        (lambda store, user_id: store.list_groups_for_user(user_id), _GROUP_MEMBERSHIPS),
    ),
)

GROUPS: EntityKind[IamGroup] = EntityKind(
    owner_kind="group",
    title="Group",
    name_member="GroupName",
    name_field="group_name",
    id_prefix=GROUP_ID_PREFIX,
    max_per_account=300,
    id_of=lambda group: group.group_id,
    name_of=lambda group: group.group_name,
    get=lambda store, account_id, name: store.get_group(account_id, name),
    list_in=lambda store, account_id, prefix: store.list_groups(account_id, prefix),
    insert=lambda store, group: store.insert_group(group),
    update=lambda store, group: store.update_group(group),
    delete=lambda store, group_id: store.delete_group(group_id),
    # DeleteGroup (IAM API reference): "The group must not contain any users or have any attached policies."
    blockers=(
        (lambda store, group_id: store.list_group_members(group_id), _GROUP_MEMBERSHIPS),
        _inline_policies("group"),
        _attached_policies("group"),
    ),
)

ROLES: EntityKind[IamRole] = EntityKind(
    owner_kind="role",
    title="Role",
    name_member="RoleName",
    name_field="role_name",
    id_prefix=ROLE_ID_PREFIX,
    max_per_account=1000,
    id_of=lambda role: role.role_id,
    name_of=lambda role: role.role_name,
    get=lambda store, account_id, name: store.get_role(account_id, name),
    list_in=lambda store, account_id, prefix: store.list_roles(account_id, prefix),
    insert=lambda store, role: store.insert_role(role),
    update=lambda store, role: store.update_role(role),
    delete=lambda store, role_id: store.delete_role(role_id),
    # DeleteRole (IAM API reference): inline policies and attached managed policies must be removed first.
    blockers=(_inline_policies("role"), _attached_policies("role")),
)

# The table, by the store's name for each kind (inline and attached policies are filed by it).
ENTITY_KINDS: Mapping[OwnerKind, EntityKind[Any]] = {"user": USERS, "group": GROUPS, "role": ROLES}


def create(ctx: IamContext, kind: EntityKind[E], account_id: str, name: str, build: Callable[[str], E]) -> E:
    """Store a new entity that ``build`` makes from its new unique id, refusing a taken name or a full account."""
    if kind.get(ctx.store, account_id, name) is not None:
        raise kind.already_exists(name)
    if len(kind.list_in(ctx.store, account_id, "/")) >= kind.max_per_account:
        quota = f"{kind.title}sPerAccount: {kind.max_per_account}"
        raise AwsError("LimitExceeded", f"Cannot exceed quota for {quota}", 409)
    entity = build(new_unique_id(ctx.rng, kind.id_prefix))
    try:
        kind.insert(ctx.store, entity)
    except Conflict:
        # Another request took the name between the check and the insert.
        raise kind.already_exists(name) from None
    return entity


def list_page(ctx: IamContext, kind: EntityKind[E], caller: Caller, params: Mapping[str, Any]) -> Page[E]:
    """The page of the kind's List operation: the caller's account, under ``PathPrefix``, ordered by name."""
    prefix = str(params.get("PathPrefix") or "/")
    found = kind.list_in(ctx.store, caller.principal.account_id, prefix)
    return paginate(found, lambda entity: kind.name_of(entity).lower(), kind.list_scope, params)


def rename_or_move(ctx: IamContext, kind: EntityKind[E], caller: Caller, params: Mapping[str, Any]) -> tuple[E, E]:
    """UpdateUser / UpdateGroup: apply ``NewPath`` and ``NewUserName``/``NewGroupName``; (before, after)."""
    account_id = caller.principal.account_id
    entity = kind.requested(ctx, caller, params)
    new_path = params.get("NewPath")
    if new_path is not None:
        validate_path(str(new_path), member="newPath")
    new_name = params.get(kind.new_name_member)
    if new_name is not None:
        holder = kind.get(ctx.store, account_id, str(new_name))
        if holder is not None and kind.id_of(holder) != kind.id_of(entity):
            raise kind.already_exists(str(new_name))
    changes: dict[str, Any] = {}
    if new_name is not None:
        changes[kind.name_field] = str(new_name)
    if new_path is not None:
        changes["path"] = str(new_path)
    updated = dataclasses.replace(entity, **changes)
    try:
        kind.update(ctx.store, updated)
    except Conflict:
        raise kind.already_exists(kind.name_of(updated)) from None
    return entity, updated


def delete(ctx: IamContext, kind: EntityKind[E], caller: Caller, params: Mapping[str, Any]) -> None:
    """Delete the named entity, or refuse with ``DeleteConflict`` while something is still attached to it."""
    entity = kind.requested(ctx, caller, params)
    entity_id = kind.id_of(entity)
    for attached, message in kind.blockers:
        if attached(ctx.store, entity_id):
            raise delete_conflict(message)
    kind.delete(ctx.store, entity_id)
