"""identity_policies_for against a real SqliteStore: which policies govern a user (its own, its groups', its
boundary), a role session (the role's, its boundary, the session policies), root, and how the cache behaves."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import pytest

from kmsd.iam.identity_policies import (
    ROOT_POLICIES,
    IdentityPolicySet,
    StoredPolicyError,
    identity_policies_for,
    invalidate_identity_policies,
)
from kmsd.iam.principal import Principal, Session
from kmsd.policy import PolicyKind
from kmsd.store.models import InlinePolicy
from kmsd.store.sqlite import SqliteStore
from tests.iam.conftest import ACCOUNT, Iam

READ = '{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}'
LIST = '{"Version":"2012-10-17","Statement":[{"Sid":"List","Effect":"Allow","Action":"iam:List*","Resource":"*"}]}'


def user_principal(iam: Iam, name: str) -> Principal:
    user = iam.store.get_user(ACCOUNT, name)
    assert user is not None
    return Principal(arn=user.arn, account_id=ACCOUNT, kind="user", user_id=user.user_id, name=name)


def session_principal(
    iam: Iam, role_name: str, policy: str | None = None, policy_arns: tuple[str, ...] = ()
) -> Principal:
    role = iam.store.get_role(ACCOUNT, role_name)
    assert role is not None
    now = iam.service.context.clock.now()
    data = Session(
        kind="assumed-role",
        access_key_id="ASIA" + role.role_id[4:20],
        issued_at=now,
        expires_at=now + timedelta(hours=1),
        name="s",
        role_id=role.role_id,
        policy=policy,
        policy_arns=policy_arns,
    )
    return Principal(
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/s",
        account_id=ACCOUNT,
        kind="assumed-role",
        user_id=f"{role.role_id}:s",
        role_arn=role.arn,
        session=data,
    )


def ids(policy_set: IdentityPolicySet) -> list[tuple[PolicyKind, str]]:
    return [(policy.kind, policy.policy_id) for policy in policy_set.policies]


def create_policy(iam: Iam, name: str, document: str = READ) -> str:
    arn: str = iam("CreatePolicy", PolicyName=name, PolicyDocument=document)["Policy"]["Arn"]
    return arn


def test_root_has_no_identity_policies(iam: Iam) -> None:
    found = identity_policies_for(iam.service.context, Principal.root(ACCOUNT))
    assert found is ROOT_POLICIES
    assert found.is_root and found.policies == ()


def test_a_user_without_policies(iam: Iam) -> None:
    iam.create_user("alice")
    found = identity_policies_for(iam.service.context, user_principal(iam, "alice"))
    assert not found.is_root
    assert found.policies == () and found.boundary is None and found.session == ()


def test_a_user_is_governed_by_its_own_and_its_groups_policies_and_its_boundary(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_group("devs")
    iam.create_group("ops")
    for group in ("devs", "ops"):
        iam("AddUserToGroup", GroupName=group, UserName="alice")
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    iam("PutUserPolicy", UserName="alice", PolicyName="own", PolicyDocument=READ)
    own_managed = create_policy(iam, "own-managed")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=own_managed)
    iam("PutGroupPolicy", GroupName="devs", PolicyName="dev-inline", PolicyDocument=LIST)
    ops_managed = create_policy(iam, "ops-managed", LIST)
    iam("AttachGroupPolicy", GroupName="ops", PolicyArn=ops_managed)
    boundary = create_policy(iam, "boundary")
    iam("PutUserPermissionsBoundary", UserName="alice", PermissionsBoundary=boundary)

    found = identity_policies_for(iam.service.context, user_principal(iam, "alice"))
    assert ids(found) == [
        (PolicyKind.IDENTITY, f"{user_arn}#own"),
        (PolicyKind.IDENTITY, own_managed),
        (PolicyKind.IDENTITY, f"arn:aws:iam::{ACCOUNT}:group/devs#dev-inline"),
        (PolicyKind.IDENTITY, ops_managed),
        (PolicyKind.PERMISSIONS_BOUNDARY, boundary),
    ]
    assert found.boundary is not None and found.boundary.policy_id == boundary
    assert found.identity[0].statements[0].sid == "Read"


def test_a_policy_attached_to_a_user_and_its_group_counts_once(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_group("devs")
    iam("AddUserToGroup", GroupName="devs", UserName="alice")
    shared = create_policy(iam, "shared")
    iam("AttachUserPolicy", UserName="alice", PolicyArn=shared)
    iam("AttachGroupPolicy", GroupName="devs", PolicyArn=shared)
    found = identity_policies_for(iam.service.context, user_principal(iam, "alice"))
    assert ids(found) == [(PolicyKind.IDENTITY, shared)]


def test_the_default_version_of_a_managed_policy_applies(iam: Iam) -> None:
    iam.create_user("alice")
    arn = create_policy(iam, "versioned", READ)
    iam("AttachUserPolicy", UserName="alice", PolicyArn=arn)
    iam("CreatePolicyVersion", PolicyArn=arn, PolicyDocument=LIST, SetAsDefault=True)
    found = identity_policies_for(iam.service.context, user_principal(iam, "alice"))
    assert found.identity[0].statements[0].sid == "List"


def test_a_role_session_is_governed_by_the_role_its_boundary_and_the_session_policies(iam: Iam) -> None:
    iam.create_role("worker")
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/worker"
    iam("PutRolePolicy", RoleName="worker", PolicyName="inline", PolicyDocument=READ)
    attached = create_policy(iam, "attached")
    iam("AttachRolePolicy", RoleName="worker", PolicyArn=attached)
    boundary = create_policy(iam, "boundary", LIST)
    iam("PutRolePermissionsBoundary", RoleName="worker", PermissionsBoundary=boundary)
    session_managed = create_policy(iam, "session-managed", LIST)
    principal = session_principal(iam, "worker", policy=READ, policy_arns=(session_managed,))

    found = identity_policies_for(iam.service.context, principal)
    assert ids(found) == [
        (PolicyKind.IDENTITY, f"{role_arn}#inline"),
        (PolicyKind.IDENTITY, attached),
        (PolicyKind.PERMISSIONS_BOUNDARY, boundary),
        (PolicyKind.SESSION, f"{principal.arn}#session-policy"),
        (PolicyKind.SESSION, session_managed),
    ]


def test_a_missing_managed_session_policy_allows_nothing(iam: Iam) -> None:
    iam.create_role("worker")
    missing = f"arn:aws:iam::{ACCOUNT}:policy/gone"
    found = identity_policies_for(iam.service.context, session_principal(iam, "worker", policy_arns=(missing,)))
    assert ids(found) == [(PolicyKind.SESSION, missing)]
    assert [statement.effect.value for statement in found.session[0].statements] == ["Deny"]
    assert found.session[0].statements[0].not_action == ("*",)


def test_a_session_of_a_deleted_role_has_no_policies(iam: Iam) -> None:
    iam.create_role("worker")
    principal = session_principal(iam, "worker", policy=READ)
    iam("DeleteRole", RoleName="worker")
    assert identity_policies_for(iam.service.context, principal).policies == ()


def test_a_session_token_session_has_its_users_policies(iam: Iam) -> None:
    iam.create_user("alice")
    iam("PutUserPolicy", UserName="alice", PolicyName="own", PolicyDocument=READ)
    user = user_principal(iam, "alice")
    now = iam.service.context.clock.now()
    session = Session("session-token", "ASIAAAAAAAAAAAAAAAAA", now, now + timedelta(hours=12))
    found = identity_policies_for(iam.service.context, dataclasses.replace(user, session=session))
    assert ids(found) == ids(identity_policies_for(iam.service.context, user))
    assert found.session == ()


def test_sets_are_cached_and_dropped_by_every_iam_write(iam: Iam) -> None:
    iam.create_user("alice")
    alice = user_principal(iam, "alice")
    first = identity_policies_for(iam.service.context, alice)
    assert identity_policies_for(iam.service.context, alice) is first
    iam("PutUserPolicy", UserName="alice", PolicyName="own", PolicyDocument=READ)
    second = identity_policies_for(iam.service.context, alice)
    assert len(second.policies) == 1
    assert identity_policies_for(iam.service.context, alice) is second


def test_invalidating_a_store_drops_its_sets(iam: Iam, store: SqliteStore) -> None:
    iam.create_user("alice")
    alice = user_principal(iam, "alice")
    first = identity_policies_for(iam.service.context, alice)
    store.put_inline_policy(InlinePolicy(ACCOUNT, "user", alice.user_id, "direct", READ))
    assert identity_policies_for(iam.service.context, alice) is first
    invalidate_identity_policies(store)
    assert len(identity_policies_for(iam.service.context, alice).policies) == 1


def test_a_stored_document_that_does_not_parse_fails_closed(iam: Iam, store: SqliteStore) -> None:
    iam.create_user("alice")
    alice = user_principal(iam, "alice")
    store.put_inline_policy(InlinePolicy(ACCOUNT, "user", alice.user_id, "broken", json.dumps({"Statement": 7})))
    invalidate_identity_policies(store)
    with pytest.raises(StoredPolicyError, match="broken"):
        identity_policies_for(iam.service.context, alice)
