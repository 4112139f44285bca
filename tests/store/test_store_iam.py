"""The store's IAM and STS part, on SQLite and PostgreSQL: users, groups, roles, policies, attachments, sessions.

IAM names compare and sort without regard to ASCII case on both (SQLite: COLLATE NOCASE; PostgreSQL: CITEXT
under the "C" collation).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from tests.store.records import role, unique_id, user
from tests.store.store_kinds import AnyStore

from kmsd.store.base import Conflict, Store, StoreError
from kmsd.store.models import (
    AccessKeyRecord,
    IamGroup,
    IamUser,
    InlinePolicy,
    ManagedPolicy,
    PolicyAttachment,
    PolicyVersion,
    SessionRecord,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
ACCOUNT = "111122223333"
OTHER = "444455556666"
DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'


def group(name: str, account_id: str = ACCOUNT, path: str = "/") -> IamGroup:
    return IamGroup(
        group_id=unique_id("AGPA", account_id, name), account_id=account_id, group_name=name, path=path, created_at=T0
    )


def policy(name: str, account_id: str = ACCOUNT, path: str = "/", **changes: object) -> ManagedPolicy:
    record = ManagedPolicy(
        arn=f"arn:aws:iam::{account_id}:policy{path}{name}",
        policy_id=f"ANPA-{account_id}{path}{name}",
        account_id=account_id,
        policy_name=name,
        path=path,
        default_version_id="v1",
        created_at=T0,
        updated_at=T0,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def version(record: ManagedPolicy, n: int, created_at: datetime = T0) -> PolicyVersion:
    return PolicyVersion(policy_arn=record.arn, version_id=f"v{n}", document=DOCUMENT, created_at=created_at)


def access_key(suffix: str, owner: IamUser | None = None, created_at: datetime = T0) -> AccessKeyRecord:
    account_id = owner.account_id if owner is not None else ACCOUNT
    return AccessKeyRecord(
        access_key_id=f"AKIA{suffix:0>16}",
        account_id=account_id,
        principal_arn=owner.arn if owner is not None else f"arn:aws:iam::{account_id}:root",
        wrapped_secret=b"\x00wrapped\xff" + suffix.encode(),
        status="Active",
        created_at=created_at,
        user_id=owner.user_id if owner is not None else None,
    )


def session(suffix: str, expires_at: datetime, **changes: object) -> SessionRecord:
    record = SessionRecord(
        access_key_id=f"ASIA{suffix:0>16}",
        wrapped_secret=b"\x01wrapped" + suffix.encode(),
        token_hash=bytes(range(32)),
        account_id=ACCOUNT,
        kind="assumed-role",
        principal_arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/Deployer/s-{suffix}",
        user_id=f"AROAXXXXXXXXXDEPLOYER:s-{suffix}",
        created_at=T0,
        expires_at=expires_at,
    )
    return replace(record, **changes)  # type: ignore[arg-type]


@pytest.fixture
def store(store_with_accounts: AnyStore) -> AnyStore:
    return store_with_accounts


def test_the_store_implements_every_store_method(store: AnyStore) -> None:
    as_protocol: Store = store
    missing = [
        name
        for name in dir(Store)
        if not name.startswith("_") and callable(getattr(Store, name)) and not hasattr(as_protocol, name)
    ]
    assert missing == []


# --- users ---------------------------------------------------------------------------------


def test_a_user_with_every_field_set_round_trips(store: AnyStore) -> None:
    alice = user(
        "alice",
        path="/eng/",
        permissions_boundary_arn="arn:aws:iam::aws:policy/PowerUserAccess",
        tags={"team": "kms", "ünïcode": "välue", "empty": ""},
    )
    store.insert_user(alice)
    assert store.get_user(ACCOUNT, "alice") == alice
    assert store.get_user_by_id(alice.user_id) == alice
    assert list(store.get_user(ACCOUNT, "alice").tags) == ["team", "ünïcode", "empty"]  # type: ignore[union-attr]


def test_user_defaults_round_trip(store: AnyStore) -> None:
    bob = user("bob")
    store.insert_user(bob)
    assert store.get_user_by_id(bob.user_id) == bob
    assert store.get_user(ACCOUNT, "nobody") is None
    assert store.get_user_by_id("AIDAMISSINGMISSING12") is None


def test_user_names_are_unique_per_account_whatever_their_case(store: AnyStore) -> None:
    # "Names are not distinguished by case. For example, you cannot create resources named both
    # "MyResource" and "myresource"." (IAM API Reference, CreateUser)
    store.insert_user(user("MyResource"))
    with pytest.raises(Conflict, match="user `myresource` in account 111122223333 already exists"):
        store.insert_user(user("myresource", user_id="AIDAOTHERIDOTHERID12"))
    store.insert_user(user("myresource", account_id=OTHER, user_id="AIDAOTHERIDOTHERID12"))
    assert [u.user_name for u in store.list_users(ACCOUNT)] == ["MyResource"]
    assert [u.user_name for u in store.list_users(OTHER)] == ["myresource"]


def test_a_user_id_is_unique(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    with pytest.raises(Conflict):
        store.insert_user(user("alice2", user_id=user("alice").user_id))


def test_a_lookup_by_name_ignores_case_and_returns_the_stored_spelling(store: AnyStore) -> None:
    store.insert_user(user("Alice"))
    store.insert_group(group("Admins"))
    store.insert_role(role("Deployer"))
    assert store.get_user(ACCOUNT, "ALICE") == user("Alice")
    assert store.get_group(ACCOUNT, "admins") == group("Admins")
    assert store.get_role(ACCOUNT, "dEPLOYER") == role("Deployer")
    assert store.get_user(OTHER, "alice") is None


def test_users_list_by_name_case_insensitively_within_one_account(store: AnyStore) -> None:
    for name in ["carol", "Bob", "alice", "Dave"]:
        store.insert_user(user(name))
    store.insert_user(user("aaron", account_id=OTHER))
    assert [u.user_name for u in store.list_users(ACCOUNT)] == ["alice", "Bob", "carol", "Dave"]


def test_users_filter_by_a_case_sensitive_plain_path_prefix(store: AnyStore) -> None:
    store.insert_user(user("root-level"))
    store.insert_user(user("eng", path="/eng/"))
    store.insert_user(user("eng-kms", path="/eng/kms/"))
    store.insert_user(user("engineering", path="/engineering/"))
    store.insert_user(user("upper", path="/ENG/"))
    store.insert_user(user("underscore", path="/e_g/"))

    def names(prefix: str) -> list[str]:
        return [u.user_name for u in store.list_users(ACCOUNT, prefix)]

    assert names("/") == ["eng", "eng-kms", "engineering", "root-level", "underscore", "upper"]
    assert names("/eng/") == ["eng", "eng-kms"]
    assert names("/eng") == ["eng", "eng-kms", "engineering"]
    assert names("/eng/kms/") == ["eng-kms"]
    assert names("/ENG/") == ["upper"]
    # `_` and `%` are not wildcards, as they would be with LIKE.
    assert names("/e_") == ["underscore"]
    assert names("/%") == []


def test_update_user_renames_and_keeps_every_relation(store: AnyStore) -> None:
    alice = user("alice", tags={"a": "1"})
    store.insert_user(alice)
    store.insert_group(group("admins"))
    store.add_user_to_group(group("admins").group_id, alice.user_id)
    store.put_access_key(access_key("1", alice))
    store.insert_policy(policy("P"))
    store.attach_policy(PolicyAttachment(ACCOUNT, "user", alice.user_id, policy("P").arn))
    store.put_inline_policy(InlinePolicy(ACCOUNT, "user", alice.user_id, "inline", DOCUMENT))

    renamed = replace(alice, user_name="alicia", path="/new/", tags={"b": "2"}, permissions_boundary_arn="arn:x")
    store.update_user(renamed)
    assert store.get_user(ACCOUNT, "alice") is None
    assert store.get_user(ACCOUNT, "alicia") == renamed
    assert store.list_group_members(group("admins").group_id) == [renamed]
    assert [k.access_key_id for k in store.list_user_access_keys(alice.user_id)] == [access_key("1").access_key_id]
    assert store.list_attached_policies("user", alice.user_id) == [policy("P").arn]
    assert [p.policy_name for p in store.list_inline_policies("user", alice.user_id)] == ["inline"]


def test_renaming_a_user_onto_a_taken_name_is_a_conflict(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    store.insert_user(user("bob"))
    with pytest.raises(Conflict):
        store.update_user(replace(user("bob"), user_name="ALICE"))
    # Changing only the case of one's own name is allowed.
    store.update_user(replace(user("bob"), user_name="Bob"))
    assert store.get_user(ACCOUNT, "bob") == replace(user("bob"), user_name="Bob")


def test_updating_a_missing_user_is_an_error(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="cannot be updated: it is not stored") as raised:
        store.update_user(user("ghost"))
    assert not isinstance(raised.value, Conflict)


def test_delete_user_removes_its_memberships_attachments_inline_policies_and_keys(store: AnyStore) -> None:
    alice, bob = user("alice"), user("bob")
    for u in (alice, bob):
        store.insert_user(u)
    store.insert_group(group("admins"))
    store.insert_policy(policy("P"))
    for n, u in enumerate((alice, bob)):
        store.add_user_to_group(group("admins").group_id, u.user_id)
        store.attach_policy(PolicyAttachment(ACCOUNT, "user", u.user_id, policy("P").arn))
        store.put_inline_policy(InlinePolicy(ACCOUNT, "user", u.user_id, "inline", DOCUMENT))
        store.put_access_key(access_key(str(n), u))
    store.put_access_key(access_key("root"))

    store.delete_user(alice.user_id)
    assert store.get_user_by_id(alice.user_id) is None
    assert store.list_groups_for_user(alice.user_id) == []
    assert store.list_attached_policies("user", alice.user_id) == []
    assert store.list_inline_policies("user", alice.user_id) == []
    assert store.list_user_access_keys(alice.user_id) == []
    assert store.get_access_key(access_key("0").access_key_id) is None
    # Nothing of anyone else's is touched.
    assert store.list_group_members(group("admins").group_id) == [bob]
    assert store.list_attached_policies("user", bob.user_id) == [policy("P").arn]
    assert len(store.list_inline_policies("user", bob.user_id)) == 1
    assert store.get_access_key(access_key("1").access_key_id) is not None
    assert store.get_access_key(access_key("root").access_key_id) is not None
    assert store.list_policy_attachments(policy("P").arn) == [
        PolicyAttachment(ACCOUNT, "user", bob.user_id, policy("P").arn)
    ]
    store.delete_user(alice.user_id)  # absent: a no-op


# --- groups ----------------------------------------------------------------------------------------


def test_groups_round_trip_list_update_and_stay_unique(store: AnyStore) -> None:
    store.insert_group(group("ops", path="/team/"))
    store.insert_group(group("Admins"))
    store.insert_group(group("admins", account_id=OTHER))
    assert store.get_group_by_id(group("ops").group_id) == group("ops", path="/team/")
    assert [g.group_name for g in store.list_groups(ACCOUNT)] == ["Admins", "ops"]
    assert [g.group_name for g in store.list_groups(ACCOUNT, "/team/")] == ["ops"]
    with pytest.raises(Conflict):
        store.insert_group(replace(group("ADMINS"), group_id="AGPAANOTHERGROUPID12"))
    store.update_group(replace(group("ops"), group_name="operators", path="/"))
    assert store.get_group(ACCOUNT, "operators") == replace(group("ops"), group_name="operators")
    with pytest.raises(Conflict):
        store.update_group(replace(group("ops"), group_name="admins"))
    with pytest.raises(StoreError, match="not stored"):
        store.update_group(group("ghost"))
    assert store.get_group(ACCOUNT, "ghost") is None
    assert store.get_group_by_id("AGPAGHOSTGHOSTGHOST1") is None


def test_membership_is_idempotent_and_lists_sort_by_name(store: AnyStore) -> None:
    for name in ["zed", "Amy", "bob"]:
        store.insert_user(user(name))
    for name in ["writers", "Readers", "admins"]:
        store.insert_group(group(name))
    for name in ["zed", "Amy", "bob"]:
        store.add_user_to_group(group("writers").group_id, user(name).user_id)
    store.add_user_to_group(group("writers").group_id, user("bob").user_id)  # AddUserToGroup is idempotent
    for name in ["writers", "Readers", "admins"]:
        store.add_user_to_group(group(name).group_id, user("bob").user_id)

    assert [u.user_name for u in store.list_group_members(group("writers").group_id)] == ["Amy", "bob", "zed"]
    assert [g.group_name for g in store.list_groups_for_user(user("bob").user_id)] == ["admins", "Readers", "writers"]
    assert store.list_groups_for_user(user("Amy").user_id) == [group("writers")]

    store.remove_user_from_group(group("writers").group_id, user("bob").user_id)
    store.remove_user_from_group(group("writers").group_id, user("bob").user_id)  # no longer a member: no-op
    assert [u.user_name for u in store.list_group_members(group("writers").group_id)] == ["Amy", "zed"]
    assert [g.group_name for g in store.list_groups_for_user(user("bob").user_id)] == ["admins", "Readers"]


def test_membership_of_a_missing_user_or_group_is_refused_without_conflict(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    store.insert_group(group("admins"))
    for group_id, user_id in [("AGPAMISSINGMISSING12", user("alice").user_id), (group("admins").group_id, "AIDAX")]:
        with pytest.raises(StoreError, match="refers to a record that does not exist") as raised:
            store.add_user_to_group(group_id, user_id)
        assert not isinstance(raised.value, Conflict)


def test_delete_group_removes_memberships_attachments_and_inline_policies_only(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    store.insert_group(group("admins"))
    store.insert_group(group("ops"))
    store.insert_policy(policy("P"))
    for g in (group("admins"), group("ops")):
        store.add_user_to_group(g.group_id, user("alice").user_id)
        store.attach_policy(PolicyAttachment(ACCOUNT, "group", g.group_id, policy("P").arn))
        store.put_inline_policy(InlinePolicy(ACCOUNT, "group", g.group_id, "inline", DOCUMENT))

    store.delete_group(group("admins").group_id)
    assert store.get_group(ACCOUNT, "admins") is None
    assert store.get_user(ACCOUNT, "alice") == user("alice")
    assert store.list_groups_for_user(user("alice").user_id) == [group("ops")]
    assert store.list_attached_policies("group", group("admins").group_id) == []
    assert store.list_inline_policies("group", group("admins").group_id) == []
    assert store.list_attached_policies("group", group("ops").group_id) == [policy("P").arn]
    assert len(store.list_inline_policies("group", group("ops").group_id)) == 1


# --- roles -----------------------------------------------------------------------------------------


def test_a_role_with_every_field_set_round_trips(store: AnyStore) -> None:
    deployer = role(
        "Deployer",
        path="/ci/",
        description="deploys things",
        max_session_duration=43200,
        permissions_boundary_arn=policy("Boundary").arn,
        tags={"env": "prod"},
    )
    store.insert_role(deployer)
    assert store.get_role(ACCOUNT, "Deployer") == deployer
    assert store.get_role_by_id(deployer.role_id) == deployer
    assert store.get_role(ACCOUNT, "ghost") is None
    assert store.get_role_by_id("AROAGHOSTGHOSTGHOST1") is None


def test_roles_are_unique_list_by_name_and_filter_by_path(store: AnyStore) -> None:
    store.insert_role(role("reader", path="/svc/"))
    store.insert_role(role("Admin"))
    store.insert_role(role("admin", account_id=OTHER))
    with pytest.raises(Conflict):
        store.insert_role(replace(role("ADMIN"), role_id="AROAANOTHERROLEID123"))
    assert [r.role_name for r in store.list_roles(ACCOUNT)] == ["Admin", "reader"]
    assert [r.role_name for r in store.list_roles(ACCOUNT, "/svc/")] == ["reader"]
    assert [r.role_name for r in store.list_roles(OTHER)] == ["admin"]


def test_update_role_replaces_every_field(store: AnyStore) -> None:
    store.insert_role(role("Deployer"))
    changed = replace(
        role("Deployer"),
        assume_role_policy=DOCUMENT,
        description="new",
        max_session_duration=7200,
        permissions_boundary_arn="arn:aws:iam::aws:policy/ReadOnlyAccess",
        tags={"k": "v"},
    )
    store.update_role(changed)
    assert store.get_role_by_id(changed.role_id) == changed
    with pytest.raises(StoreError, match="not stored"):
        store.update_role(role("ghost"))


def test_delete_role_removes_attachments_and_inline_policies_but_not_sessions(store: AnyStore) -> None:
    store.insert_role(role("Deployer"))
    store.insert_policy(policy("P"))
    store.attach_policy(PolicyAttachment(ACCOUNT, "role", role("Deployer").role_id, policy("P").arn))
    store.put_inline_policy(InlinePolicy(ACCOUNT, "role", role("Deployer").role_id, "inline", DOCUMENT))
    store.insert_session(session("1", T0 + timedelta(hours=1), role_id=role("Deployer").role_id))

    store.delete_role(role("Deployer").role_id)
    assert store.get_role(ACCOUNT, "Deployer") is None
    assert store.list_attached_policies("role", role("Deployer").role_id) == []
    assert store.list_inline_policies("role", role("Deployer").role_id) == []
    assert store.list_policy_attachments(policy("P").arn) == []
    assert store.get_session(session("1", T0).access_key_id) is not None


# --- access keys of users ---------------------------------------------------------------------------


def test_user_access_keys_round_trip_with_their_new_fields(store: AnyStore) -> None:
    alice = user("alice")
    store.insert_user(alice)
    used = replace(
        access_key("1", alice),
        status="Inactive",
        last_used_at=T0 + timedelta(minutes=5),
        last_used_service="kms",
        last_used_region="eu-west-1",
    )
    store.put_access_key(used)
    assert store.get_access_key(used.access_key_id) == used
    store.put_access_key(access_key("1", alice))  # put replaces every field, the last-used ones too
    assert store.get_access_key(used.access_key_id) == access_key("1", alice)
    store.put_access_key(access_key("root"))
    assert store.get_access_key(access_key("root").access_key_id) == access_key("root")


def test_list_user_access_keys_orders_by_creation_and_excludes_others(store: AnyStore) -> None:
    alice, bob = user("alice"), user("bob")
    store.insert_user(alice)
    store.insert_user(bob)
    store.put_access_key(access_key("B", alice, created_at=T0 + timedelta(seconds=2)))
    store.put_access_key(access_key("A", alice, created_at=T0 + timedelta(seconds=3)))
    store.put_access_key(access_key("C", alice, created_at=T0 + timedelta(seconds=1)))
    store.put_access_key(access_key("D", bob))
    store.put_access_key(access_key("E"))
    assert [k.access_key_id[-1] for k in store.list_user_access_keys(alice.user_id)] == ["C", "B", "A"]
    assert [k.access_key_id[-1] for k in store.list_user_access_keys(bob.user_id)] == ["D"]
    assert store.list_user_access_keys("AIDANOBODYNOBODYNOB1") == []


def test_an_access_key_of_a_missing_user_is_refused(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="refers to a record that does not exist"):
        store.put_access_key(access_key("1", user("ghost")))


def test_delete_access_key_removes_only_that_key(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    store.put_access_key(access_key("1", user("alice")))
    store.put_access_key(access_key("2", user("alice")))
    store.delete_access_key(access_key("1").access_key_id)
    store.delete_access_key(access_key("1").access_key_id)  # absent: a no-op
    assert [k.access_key_id for k in store.list_user_access_keys(user("alice").user_id)] == [
        access_key("2").access_key_id
    ]


def test_record_access_key_use_keeps_the_latest_use(store: AnyStore) -> None:
    store.put_access_key(access_key("1"))
    key_id = access_key("1").access_key_id
    later = T0 + timedelta(hours=2)
    store.record_access_key_use(key_id, later, "kms", "us-east-1")
    assert store.get_access_key(key_id) == replace(
        access_key("1"), last_used_at=later, last_used_service="kms", last_used_region="us-east-1"
    )
    # A request that started earlier but finished later does not move the time backwards.
    store.record_access_key_use(key_id, T0 + timedelta(hours=1), "iam", "us-east-1")
    assert store.get_access_key(key_id).last_used_service == "kms"  # type: ignore[union-attr]
    store.record_access_key_use(key_id, later + timedelta(seconds=1), "sts", "eu-west-1")
    record = store.get_access_key(key_id)
    assert record is not None
    assert (record.last_used_at, record.last_used_service, record.last_used_region) == (
        later + timedelta(seconds=1),
        "sts",
        "eu-west-1",
    )
    store.record_access_key_use("AKIAUNKNOWNUNKNOWN12", later, "kms", "us-east-1")  # unknown: a no-op
    assert store.get_access_key("AKIAUNKNOWNUNKNOWN12") is None


# --- managed policies and versions --------------------------------------------------------------


def test_a_policy_with_every_field_set_round_trips(store: AnyStore) -> None:
    record = policy(
        "KmsUsers",
        path="/kms/",
        default_version_id="v3",
        updated_at=T0 + timedelta(days=1),
        description="who may use keys",
        next_version_number=4,
        tags={"owner": "sec"},
    )
    store.insert_policy(record)
    assert store.get_policy(record.arn) == record
    assert store.get_policy(record.arn.upper()) is None  # ARNs compare exactly


def test_aws_managed_policies_are_stored_under_the_aws_account(store: AnyStore) -> None:
    power_user = policy("AWSKeyManagementServicePowerUser", account_id="aws", default_version_id="v2")
    assert power_user.arn == "arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser"
    store.insert_policy(power_user)
    # The same name in an account is another policy.
    store.insert_policy(policy("AWSKeyManagementServicePowerUser"))
    assert store.get_policy(power_user.arn) == power_user
    assert store.list_policies("aws") == [power_user]
    assert [p.arn for p in store.list_policies(None)] == [
        "arn:aws:iam::111122223333:policy/AWSKeyManagementServicePowerUser",
        "arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser",
    ]


def test_policy_names_are_unique_per_account_whatever_their_case_and_path(store: AnyStore) -> None:
    store.insert_policy(policy("MyPolicy"))
    with pytest.raises(Conflict, match="policy `mypolicy` in account 111122223333 already exists"):
        store.insert_policy(policy("mypolicy"))
    with pytest.raises(Conflict):
        store.insert_policy(policy("MYPOLICY", path="/other/"))
    store.insert_policy(policy("mypolicy", account_id=OTHER))


def test_list_policies_by_owner_sorted_by_name_and_filtered_by_path(store: AnyStore) -> None:
    for name, path in [("beta", "/"), ("Alpha", "/team/"), ("gamma", "/team/sub/")]:
        store.insert_policy(policy(name, path=path))
    store.insert_policy(policy("ReadOnlyAccess", account_id="aws"))
    store.insert_policy(policy("Zeta", account_id="aws", path="/service-role/"))
    store.insert_policy(policy("other", account_id=OTHER))

    def names(owner: str | None, prefix: str = "/") -> list[str]:
        return [p.policy_name for p in store.list_policies(owner, prefix)]

    assert names(ACCOUNT) == ["Alpha", "beta", "gamma"]
    assert names(ACCOUNT, "/team/") == ["Alpha", "gamma"]
    assert names("aws") == ["ReadOnlyAccess", "Zeta"]
    assert names(None) == ["Alpha", "beta", "gamma", "other", "ReadOnlyAccess", "Zeta"]
    assert names(None, "/service-role/") == ["Zeta"]
    assert names("999999999999") == []


def test_update_policy_replaces_every_field_but_the_arn(store: AnyStore) -> None:
    store.insert_policy(policy("P"))
    changed = replace(
        policy("P"),
        default_version_id="v2",
        updated_at=T0 + timedelta(hours=1),
        description="d",
        next_version_number=3,
        tags={"k": "v"},
    )
    store.update_policy(changed)
    assert store.get_policy(changed.arn) == changed
    with pytest.raises(StoreError, match="not stored"):
        store.update_policy(policy("ghost"))


def test_policy_versions_round_trip_in_creation_order(store: AnyStore) -> None:
    record = policy("P")
    store.insert_policy(record)
    # Created at one instant: v10 still comes after v9 (ids compare by number, not as text).
    for n in [1, 9, 10]:
        store.add_policy_version(version(record, n))
    store.add_policy_version(version(record, 11, created_at=T0 + timedelta(seconds=1)))
    assert [v.version_id for v in store.list_policy_versions(record.arn)] == ["v1", "v9", "v10", "v11"]
    assert store.get_policy_version(record.arn, "v10") == version(record, 10)
    assert store.get_policy_version(record.arn, "v2") is None
    with pytest.raises(Conflict):
        store.add_policy_version(version(record, 9))
    store.delete_policy_version(record.arn, "v9")
    store.delete_policy_version(record.arn, "v9")  # absent: a no-op
    assert [v.version_id for v in store.list_policy_versions(record.arn)] == ["v1", "v10", "v11"]


def test_a_version_of_a_missing_policy_is_refused(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="refers to a record that does not exist"):
        store.add_policy_version(version(policy("ghost"), 1))


def test_delete_policy_removes_its_versions(store: AnyStore) -> None:
    kept, gone = policy("Kept"), policy("Gone")
    for record in (kept, gone):
        store.insert_policy(record)
        store.add_policy_version(version(record, 1))
        store.add_policy_version(version(record, 2))
    store.delete_policy(gone.arn)
    assert store.get_policy(gone.arn) is None
    assert store.list_policy_versions(gone.arn) == []
    assert len(store.list_policy_versions(kept.arn)) == 2
    store.delete_policy(gone.arn)  # absent: a no-op
    # A policy of that name may be created again, with versions from v1.
    store.insert_policy(gone)
    store.add_policy_version(version(gone, 1))


def test_a_policy_that_is_still_attached_cannot_be_deleted(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    store.insert_policy(policy("P"))
    store.add_policy_version(version(policy("P"), 1))
    store.attach_policy(PolicyAttachment(ACCOUNT, "user", user("alice").user_id, policy("P").arn))
    with pytest.raises(StoreError, match="still attached to 1 entities"):
        store.delete_policy(policy("P").arn)
    assert store.get_policy(policy("P").arn) == policy("P")
    store.detach_policy("user", user("alice").user_id, policy("P").arn)
    store.delete_policy(policy("P").arn)
    assert store.get_policy(policy("P").arn) is None


# --- inline policies --------------------------------------------------------------------------


def test_inline_policies_put_replace_get_list_and_delete(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    owner = user("alice").user_id
    for name in ["zeta", "Alpha", "beta"]:
        store.put_inline_policy(InlinePolicy(ACCOUNT, "user", owner, name, DOCUMENT))
    replaced = InlinePolicy(ACCOUNT, "user", owner, "beta", '{"Version":"2012-10-17","Statement":[]}')
    store.put_inline_policy(replaced)
    assert store.get_inline_policy("user", owner, "beta") == replaced
    assert [p.policy_name for p in store.list_inline_policies("user", owner)] == ["Alpha", "beta", "zeta"]
    store.delete_inline_policy("user", owner, "zeta")
    store.delete_inline_policy("user", owner, "zeta")  # absent: a no-op
    assert [p.policy_name for p in store.list_inline_policies("user", owner)] == ["Alpha", "beta"]
    assert store.get_inline_policy("user", owner, "zeta") is None


def test_inline_policies_belong_to_one_owner_of_one_kind(store: AnyStore) -> None:
    store.insert_user(user("same"))
    store.insert_group(group("same"))
    store.insert_role(role("same"))
    owners = {"user": user("same").user_id, "group": group("same").group_id, "role": role("same").role_id}
    for kind, owner_id in owners.items():
        store.put_inline_policy(InlinePolicy(ACCOUNT, kind, owner_id, "shared-name", f'{{"kind":"{kind}"}}'))
    for kind, owner_id in owners.items():
        assert store.list_inline_policies(kind, owner_id) == [
            InlinePolicy(ACCOUNT, kind, owner_id, "shared-name", f'{{"kind":"{kind}"}}')
        ]
    # An id of another kind of owner finds nothing.
    assert store.get_inline_policy("role", owners["user"], "shared-name") is None


def test_inline_policy_names_compare_exactly(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    owner = user("alice").user_id
    store.put_inline_policy(InlinePolicy(ACCOUNT, "user", owner, "Policy", DOCUMENT))
    store.put_inline_policy(InlinePolicy(ACCOUNT, "user", owner, "policy", DOCUMENT))
    assert [p.policy_name for p in store.list_inline_policies("user", owner)] == ["Policy", "policy"]
    assert store.get_inline_policy("user", owner, "POLICY") is None


def test_inline_policy_of_a_missing_owner_or_an_unknown_kind_is_refused(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="refers to a record that does not exist"):
        store.put_inline_policy(InlinePolicy(ACCOUNT, "role", "AROAGHOSTGHOSTGHOST1", "p", DOCUMENT))
    with pytest.raises(StoreError, match="unknown owner kind `account`"):
        store.put_inline_policy(InlinePolicy(ACCOUNT, "account", ACCOUNT, "p", DOCUMENT))
    with pytest.raises(StoreError, match="unknown owner kind"):
        store.list_inline_policies("User", "AIDA")


# --- attachments ------------------------------------------------------------------------------


def test_attach_is_idempotent_and_lists_sort_by_arn(store: AnyStore) -> None:
    store.insert_role(role("Deployer"))
    owner = role("Deployer").role_id
    arns = []
    for name, account_id in [("b", ACCOUNT), ("a", ACCOUNT), ("AdministratorAccess", "aws")]:
        store.insert_policy(policy(name, account_id=account_id))
        store.attach_policy(PolicyAttachment(ACCOUNT, "role", owner, policy(name, account_id=account_id).arn))
        arns.append(policy(name, account_id=account_id).arn)
    store.attach_policy(PolicyAttachment(ACCOUNT, "role", owner, policy("a").arn))  # Attach*Policy is idempotent
    assert store.list_attached_policies("role", owner) == sorted(arns)
    store.detach_policy("role", owner, policy("a").arn)
    store.detach_policy("role", owner, policy("a").arn)  # not attached: a no-op
    assert store.list_attached_policies("role", owner) == sorted(set(arns) - {policy("a").arn})


def test_attaching_a_missing_policy_or_to_a_missing_owner_is_refused(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    store.insert_policy(policy("P"))
    with pytest.raises(StoreError, match="refers to a record that does not exist"):
        store.attach_policy(PolicyAttachment(ACCOUNT, "user", user("alice").user_id, policy("ghost").arn))
    with pytest.raises(StoreError, match="refers to a record that does not exist"):
        store.attach_policy(PolicyAttachment(ACCOUNT, "group", "AGPAGHOSTGHOSTGHOST1", policy("P").arn))


def test_an_aws_managed_policy_is_shared_and_attachments_record_the_attaching_account(store: AnyStore) -> None:
    admin = policy("AdministratorAccess", account_id="aws")
    store.insert_policy(admin)
    store.insert_user(user("alice"))
    store.insert_group(group("ops"))
    store.insert_role(role("Deployer", account_id=OTHER))
    store.attach_policy(PolicyAttachment(ACCOUNT, "user", user("alice").user_id, admin.arn))
    store.attach_policy(PolicyAttachment(ACCOUNT, "group", group("ops").group_id, admin.arn))
    store.attach_policy(PolicyAttachment(OTHER, "role", role("Deployer", account_id=OTHER).role_id, admin.arn))

    mine = [
        PolicyAttachment(ACCOUNT, "group", group("ops").group_id, admin.arn),
        PolicyAttachment(ACCOUNT, "user", user("alice").user_id, admin.arn),
    ]
    theirs = [PolicyAttachment(OTHER, "role", role("Deployer", account_id=OTHER).role_id, admin.arn)]
    assert store.list_policy_attachments(admin.arn, ACCOUNT) == mine
    assert store.list_policy_attachments(admin.arn, OTHER) == theirs
    assert store.list_policy_attachments(admin.arn) == [mine[0], theirs[0], mine[1]]
    assert store.list_policy_attachments(policy("unattached").arn) == []


# --- STS sessions ----------------------------------------------------------------------------------


def test_a_session_with_every_field_set_round_trips(store: AnyStore) -> None:
    record = session(
        "1",
        T0 + timedelta(hours=1),
        role_id=role("Deployer").role_id,
        session_name="s-1",
        session_policy=DOCUMENT,
        session_policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess", policy("P").arn),
        tags={"project": "kmsd", "cost-center": "7"},
        transitive_tag_keys=("project",),
    )
    store.insert_session(record)
    assert store.get_session(record.access_key_id) == record


def test_a_session_token_session_with_defaults_round_trips(store: AnyStore) -> None:
    record = session(
        "2",
        T0 + timedelta(hours=12),
        kind="session-token",
        principal_arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        user_id=user("alice").user_id,
        source_user_id=user("alice").user_id,
    )
    store.insert_session(record)
    assert store.get_session(record.access_key_id) == record
    assert store.get_session("ASIAUNKNOWNUNKNOWN12") is None


def test_a_session_id_is_unique_and_its_kind_is_checked(store: AnyStore) -> None:
    store.insert_session(session("1", T0))
    with pytest.raises(Conflict):
        store.insert_session(session("1", T0 + timedelta(hours=1)))
    with pytest.raises(StoreError) as raised:
        store.insert_session(session("3", T0, kind="federated-user"))
    assert not isinstance(raised.value, Conflict)


def test_expired_sessions_are_removed_strictly_before_the_instant(store: AnyStore) -> None:
    for n, minutes in enumerate([-10, -1, 0, 1, 60]):
        store.insert_session(session(str(n), T0 + timedelta(minutes=minutes)))
    assert store.delete_sessions_expired_before(T0) == 2
    remaining = [n for n in range(5) if store.get_session(session(str(n), T0).access_key_id) is not None]
    assert remaining == [2, 3, 4]
    assert store.delete_sessions_expired_before(T0) == 0
    assert store.delete_sessions_expired_before(T0 + timedelta(days=1)) == 3


# --- datetimes and transactions ---------------------------------------------------------------


def test_iam_datetimes_come_back_as_aware_utc(store: AnyStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 6, 1, 14, 0, 0, 1, tzinfo=plus_two)
    store.insert_user(user("alice", created_at=local))
    store.insert_policy(policy("P", created_at=local, updated_at=local))
    store.add_policy_version(version(policy("P"), 1, created_at=local))
    store.insert_session(session("1", local, created_at=local))
    values = [
        store.get_user(ACCOUNT, "alice").created_at,  # type: ignore[union-attr]
        store.get_policy(policy("P").arn).updated_at,  # type: ignore[union-attr]
        store.get_policy_version(policy("P").arn, "v1").created_at,  # type: ignore[union-attr]
        store.get_session(session("1", T0).access_key_id).expires_at,  # type: ignore[union-attr]
    ]
    for value in values:
        assert value == local
        assert value.tzinfo is UTC
        assert value.hour == 12
    with pytest.raises(StoreError, match="naive datetime"):
        store.insert_role(role("r", created_at=datetime(2026, 1, 1)))


def test_an_exception_rolls_back_every_iam_write_of_the_transaction(store: AnyStore) -> None:
    store.insert_group(group("admins"))
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_user(user("alice"))
        store.add_user_to_group(group("admins").group_id, user("alice").user_id)
        store.insert_policy(policy("P"))
        raise RuntimeError("boom")
    assert store.get_user(ACCOUNT, "alice") is None
    assert store.list_group_members(group("admins").group_id) == []
    assert store.get_policy(policy("P").arn) is None


def test_a_caught_name_conflict_leaves_the_transaction_usable(store: AnyStore) -> None:
    store.insert_user(user("alice"))
    with store.transaction():
        with pytest.raises(Conflict):
            store.insert_user(replace(user("ALICE"), user_id="AIDAANOTHERUSERID123"))
        store.insert_user(user("bob"))
    assert [u.user_name for u in store.list_users(ACCOUNT)] == ["alice", "bob"]
