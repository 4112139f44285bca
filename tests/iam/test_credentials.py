"""CredentialResolver against a real SqliteStore: root, user and session credentials, --dev credentials, and a
cache that sees every IAM change (deactivated or deleted keys, deleted users and roles, changed tags) at once."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.iam.accounts import DEFAULT_ACCOUNT_ID, AccountDirectory
from kmsd.iam.credentials import CredentialResolver, ResolvedCredentials, SessionExpired
from kmsd.iam.identity_policies import identity_policies_for
from kmsd.iam.principal import Caller, Principal
from kmsd.iam.service import IamService
from kmsd.iam.sts import StsService
from kmsd.store.sqlite import SqliteStore
from tests.iam.conftest import ACCOUNT, REGION, Iam, root_caller

ALLOW_LIST_USERS = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}]}'


@pytest.fixture
def accounts(store: SqliteStore, root_key: FileRootKey, clock: ManualClock) -> AccountDirectory:
    return AccountDirectory(store, root_key, clock, SeededRandomSource(31))


@pytest.fixture
def resolver(
    store: SqliteStore, root_key: FileRootKey, clock: ManualClock, accounts: AccountDirectory, service: IamService
) -> CredentialResolver:
    resolver = CredentialResolver(store, root_key, accounts, clock=clock)
    service.add_write_listener(resolver.invalidate)
    return resolver


@pytest.fixture
def sts(store: SqliteStore, root_key: FileRootKey, clock: ManualClock) -> StsService:
    return StsService(store, root_key, clock, SeededRandomSource(37))


def resolved(resolver: CredentialResolver, access_key_id: str, token: str | None = None) -> ResolvedCredentials:
    found = resolver.resolve(access_key_id, token)
    assert found is not None, access_key_id
    return found


def user_key(iam: Iam, name: str) -> tuple[str, str]:
    key = iam("CreateAccessKey", UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def caller_of(principal: Principal) -> Caller:
    return Caller(principal=principal, region=REGION, request_id="test-request")


def test_root_access_key(resolver: CredentialResolver, accounts: AccountDirectory) -> None:
    created = accounts.create("210987654321")
    found = resolved(resolver, created.access_key_id)
    assert found.principal == Principal.root("210987654321", created.access_key_id)
    assert found.secret_access_key == created.secret_access_key


def test_user_access_key(iam: Iam, resolver: CredentialResolver) -> None:
    iam.create_user("alice", Path="/eng/", Tags=[{"Key": "team", "Value": "blue"}])
    access_key_id, secret = user_key(iam, "alice")
    found = resolved(resolver, access_key_id)
    user = iam("GetUser", UserName="alice")["User"]
    assert found.secret_access_key == secret
    assert found.principal == Principal(
        arn=f"arn:aws:iam::{ACCOUNT}:user/eng/alice",
        account_id=ACCOUNT,
        kind="user",
        user_id=user["UserId"],
        name="alice",
        tags={"team": "blue"},
        access_key_id=access_key_id,
    )


def test_unknown_access_key(resolver: CredentialResolver) -> None:
    assert resolver.resolve("AKIAAAAAAAAAAAAAAAAA") is None
    assert resolver.resolve("ASIAAAAAAAAAAAAAAAAA", "token") is None


def test_an_inactive_key_is_refused_at_once_and_a_reactivated_one_accepted(
    iam: Iam, resolver: CredentialResolver
) -> None:
    iam.create_user("alice")
    access_key_id, _ = user_key(iam, "alice")
    resolved(resolver, access_key_id)
    iam("UpdateAccessKey", UserName="alice", AccessKeyId=access_key_id, Status="Inactive")
    assert resolver.resolve(access_key_id) is None
    iam("UpdateAccessKey", UserName="alice", AccessKeyId=access_key_id, Status="Active")
    resolved(resolver, access_key_id)


def test_a_deleted_key_and_user_are_refused_at_once(iam: Iam, resolver: CredentialResolver) -> None:
    iam.create_user("alice")
    first, _ = user_key(iam, "alice")
    second, _ = user_key(iam, "alice")
    resolved(resolver, first)
    resolved(resolver, second)
    iam("DeleteAccessKey", UserName="alice", AccessKeyId=first)
    assert resolver.resolve(first) is None
    resolved(resolver, second)
    iam("DeleteAccessKey", UserName="alice", AccessKeyId=second)
    iam("DeleteUser", UserName="alice")
    assert resolver.resolve(second) is None


def test_user_tag_changes_are_seen_by_the_next_request(iam: Iam, resolver: CredentialResolver) -> None:
    iam.create_user("alice")
    access_key_id, _ = user_key(iam, "alice")
    assert resolved(resolver, access_key_id).principal.tags == {}
    iam("TagUser", UserName="alice", Tags=[{"Key": "team", "Value": "red"}])
    assert resolved(resolver, access_key_id).principal.tags == {"team": "red"}


def test_cached_credentials_last_until_invalidated(iam: Iam, store: SqliteStore, resolver: CredentialResolver) -> None:
    iam.create_user("alice")
    access_key_id, _ = user_key(iam, "alice")
    resolved(resolver, access_key_id)
    # A change made behind the IAM service's back (another process) is seen once the API invalidates.
    store.delete_access_key(access_key_id)
    assert resolver.resolve(access_key_id) is not None
    resolver.invalidate()
    assert resolver.resolve(access_key_id) is None


def test_invalidating_also_drops_cached_identity_policies(
    iam: Iam, store: SqliteStore, resolver: CredentialResolver
) -> None:
    iam.create_user("alice")
    iam("PutUserPolicy", UserName="alice", PolicyName="list", PolicyDocument=ALLOW_LIST_USERS)
    access_key_id, _ = user_key(iam, "alice")
    principal = resolved(resolver, access_key_id).principal
    before = identity_policies_for(iam.service.context, principal)
    assert identity_policies_for(iam.service.context, principal) is before
    resolver.invalidate()
    assert identity_policies_for(iam.service.context, principal) is not before


def test_a_long_term_key_with_a_session_token_is_refused(iam: Iam, resolver: CredentialResolver) -> None:
    iam.create_user("alice")
    access_key_id, _ = user_key(iam, "alice")
    assert resolver.resolve(access_key_id, "stale-token") is None


def role_session(iam: Iam, resolver: CredentialResolver, sts: StsService) -> dict[str, str]:
    iam.create_user("alice")
    access_key_id, _ = user_key(iam, "alice")
    alice = resolved(resolver, access_key_id).principal
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": alice.arn}, "Action": ["sts:AssumeRole", "sts:TagSession"]}
        ],
    }
    iam.create_role("reader", json.dumps(trust), Tags=[{"Key": "tier", "Value": "gold"}])
    params = {
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/reader",
        "RoleSessionName": "s1",
        "Tags": [{"Key": "project", "Value": "kmsd"}],
        "Policy": ALLOW_LIST_USERS,
    }
    credentials: dict[str, str] = sts.call("AssumeRole", params, caller_of(alice))["Credentials"]
    return credentials


def test_session_credentials(iam: Iam, resolver: CredentialResolver, sts: StsService, clock: ManualClock) -> None:
    credentials = role_session(iam, resolver, sts)
    found = resolved(resolver, credentials["AccessKeyId"], credentials["SessionToken"])
    role = iam("GetRole", RoleName="reader")["Role"]
    principal = found.principal
    assert found.secret_access_key == credentials["SecretAccessKey"]
    assert principal.arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/reader/s1"
    assert principal.kind == "assumed-role"
    assert principal.user_id == f"{role['RoleId']}:s1"
    assert principal.role_arn == role["Arn"]
    assert principal.tags == {"tier": "gold", "project": "kmsd"}
    session = principal.session
    assert session is not None
    assert (session.kind, session.name, session.role_id) == ("assumed-role", "s1", role["RoleId"])
    assert session.policy == ALLOW_LIST_USERS
    assert session.tags == {"project": "kmsd"}
    assert (session.issued_at, session.expires_at) == (clock.now(), clock.now() + timedelta(hours=1))


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
def test_a_session_without_its_token_is_refused(
    iam: Iam, resolver: CredentialResolver, sts: StsService, token: str | None
) -> None:
    credentials = role_session(iam, resolver, sts)
    resolved(resolver, credentials["AccessKeyId"], credentials["SessionToken"])  # cached now
    assert resolver.resolve(credentials["AccessKeyId"], token) is None


def test_an_expired_session_is_refused_cached_or_not(
    iam: Iam, resolver: CredentialResolver, sts: StsService, clock: ManualClock
) -> None:
    credentials = role_session(iam, resolver, sts)
    resolved(resolver, credentials["AccessKeyId"], credentials["SessionToken"])
    clock.advance(timedelta(hours=1))
    for _ in range(2):
        # The API layer words SessionExpired as ExpiredToken / ExpiredTokenException.
        with pytest.raises(SessionExpired):
            resolver.resolve(credentials["AccessKeyId"], credentials["SessionToken"])
        resolver.invalidate()
    # An expired token that is also the wrong token is simply invalid.
    assert resolver.resolve(credentials["AccessKeyId"], "wrong") is None


def test_role_tag_changes_reach_existing_sessions(iam: Iam, resolver: CredentialResolver, sts: StsService) -> None:
    credentials = role_session(iam, resolver, sts)
    resolved(resolver, credentials["AccessKeyId"], credentials["SessionToken"])
    iam("TagRole", RoleName="reader", Tags=[{"Key": "tier", "Value": "silver"}])
    principal = resolved(resolver, credentials["AccessKeyId"], credentials["SessionToken"]).principal
    assert principal.tags == {"tier": "silver", "project": "kmsd"}


def test_a_session_of_a_deleted_role_is_refused(iam: Iam, resolver: CredentialResolver, sts: StsService) -> None:
    credentials = role_session(iam, resolver, sts)
    resolved(resolver, credentials["AccessKeyId"], credentials["SessionToken"])
    iam("DeleteRole", RoleName="reader")
    assert resolver.resolve(credentials["AccessKeyId"], credentials["SessionToken"]) is None


def test_session_token_of_a_deleted_user_is_refused(iam: Iam, resolver: CredentialResolver, sts: StsService) -> None:
    iam.create_user("alice")
    access_key_id, _ = user_key(iam, "alice")
    alice = resolved(resolver, access_key_id).principal
    credentials = sts.call("GetSessionToken", {}, caller_of(alice))["Credentials"]
    session = resolved(resolver, credentials["AccessKeyId"], credentials["SessionToken"]).principal
    assert (session.arn, session.kind, session.user_id, session.name) == (alice.arn, "user", alice.user_id, "alice")
    assert session.session is not None and session.session.kind == "session-token"
    iam("DeleteAccessKey", UserName="alice", AccessKeyId=access_key_id)
    iam("DeleteUser", UserName="alice")
    assert resolver.resolve(credentials["AccessKeyId"], credentials["SessionToken"]) is None


def test_session_token_of_root(resolver: CredentialResolver, sts: StsService) -> None:
    credentials = sts.call("GetSessionToken", {}, root_caller())["Credentials"]
    principal = resolved(resolver, credentials["AccessKeyId"], credentials["SessionToken"]).principal
    assert (principal.arn, principal.kind, principal.user_id) == (f"arn:aws:iam::{ACCOUNT}:root", "root", ACCOUNT)
    assert principal.session is not None and principal.session.kind == "session-token"


def test_dev_credentials(
    store: SqliteStore, root_key: FileRootKey, clock: ManualClock, accounts: AccountDirectory
) -> None:
    dev = CredentialResolver(store, root_key, accounts, dev=True, clock=clock)
    test = resolved(dev, "test")
    assert test.principal == Principal.root(DEFAULT_ACCOUNT_ID, "test")
    assert test.secret_access_key is None
    assert store.get_account(DEFAULT_ACCOUNT_ID) is not None
    numbered = resolved(dev, "999988887777", "any-token")
    assert numbered.principal == Principal.root("999988887777", "999988887777")
    assert store.get_account("999988887777") is not None


def test_dev_credentials_are_off_by_default(resolver: CredentialResolver, store: SqliteStore) -> None:
    assert resolver.resolve("test") is None
    assert resolver.resolve("999988887777") is None
    assert store.get_account("999988887777") is None
