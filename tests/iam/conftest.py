"""Fixtures for the IAM service tests: a real SqliteStore in a temporary directory, a ManualClock,
seeded randomness and a file root key, wired into an :class:`IamService` the tests drive through ``call``.

``iam`` calls as the root user of :data:`ACCOUNT` (always allowed in its own
account); ``iam.as_user(name)`` and ``iam.as_role_session(role, session)``
call as other principals of the same service.  ``aws_error(code, message,
status)`` asserts that a block raises exactly that AWS error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.errors import AwsError
from kmsd.iam.accounts import AccountDirectory
from kmsd.iam.credentials import CredentialResolver
from kmsd.iam.ids import new_unique_id
from kmsd.iam.principal import Caller, Principal, Session
from kmsd.iam.service import IamService
from kmsd.iam.sts import StsService
from kmsd.store.models import InlinePolicy, ManagedPolicy, PolicyAttachment, PolicyVersion
from kmsd.store.sqlite import SqliteStore

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-east-1"

TRUST_ACCOUNT_ROOT = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    f'"Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"sts:AssumeRole"}}]}}'
)
TRUST_EC2 = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
    '"Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)


@contextmanager
def aws_error(code: str, message: str | None = None, status: int | None = None) -> Iterator[None]:
    """Assert that the block raises AWS's error ``code`` (and exactly ``message`` / ``status`` when given)."""
    with pytest.raises(AwsError) as raised:
        yield
    assert raised.value.code == code, raised.value
    if message is not None:
        assert raised.value.message == message
    if status is not None:
        assert raised.value.status == status


def root_caller(account_id: str = ACCOUNT) -> Caller:
    return Caller(principal=Principal.root(account_id), region=REGION, request_id="test-request")


class Iam:
    """A thin driver over ``IamService.call`` for one caller."""

    def __init__(self, service: IamService, caller: Caller) -> None:
        self.service = service
        self.caller = caller

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.service.call(operation, params, self.caller)

    @property
    def store(self) -> SqliteStore:
        store = self.service.context.store
        assert isinstance(store, SqliteStore)
        return store

    def as_caller(self, caller: Caller) -> Iam:
        return Iam(self.service, caller)

    def as_root(self, account_id: str) -> Iam:
        return self.as_caller(root_caller(account_id))

    def as_user(self, user_name: str, access_key_id: str = "") -> Iam:
        """Call as the IAM user ``user_name`` of this caller's account (which must exist)."""
        user = self.store.get_user(self.caller.principal.account_id, user_name)
        assert user is not None, user_name
        principal = Principal(
            arn=user.arn,
            account_id=user.account_id,
            kind="user",
            user_id=user.user_id,
            name=user.user_name,
            tags=dict(user.tags),
            access_key_id=access_key_id,
        )
        return self.as_caller(Caller(principal=principal, region=REGION, request_id="test-request"))

    def as_role_session(self, role_name: str, session_name: str = "session") -> Iam:
        """Call as a session of the role ``role_name`` of this caller's account (which must exist)."""
        role = self.store.get_role(self.caller.principal.account_id, role_name)
        assert role is not None, role_name
        issued_at = self.service.context.clock.now()
        session = Session(
            kind="assumed-role",
            access_key_id="ASIA" + role.role_id[4:20],
            issued_at=issued_at,
            expires_at=issued_at + timedelta(hours=1),
            name=session_name,
            role_id=role.role_id,
        )
        principal = Principal(
            arn=f"arn:aws:sts::{role.account_id}:assumed-role/{role.role_name}/{session_name}",
            account_id=role.account_id,
            kind="assumed-role",
            user_id=f"{role.role_id}:{session_name}",
            role_arn=role.arn,
            access_key_id=session.access_key_id,
            session=session,
        )
        return self.as_caller(Caller(principal=principal, region=REGION, request_id="test-request"))

    def create_user(self, name: str, **params: Any) -> dict[str, Any]:
        user: dict[str, Any] = self("CreateUser", UserName=name, **params)["User"]
        return user

    def create_group(self, name: str, **params: Any) -> dict[str, Any]:
        group: dict[str, Any] = self("CreateGroup", GroupName=name, **params)["Group"]
        return group

    def create_role(self, name: str, document: str = TRUST_ACCOUNT_ROOT, **params: Any) -> dict[str, Any]:
        role: dict[str, Any] = self("CreateRole", RoleName=name, AssumeRolePolicyDocument=document, **params)["Role"]
        return role


ALLOW_ALL = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'


def add_managed_policy(store: SqliteStore, account_id: str, name: str, document: str = ALLOW_ALL) -> str:
    """A customer managed policy written straight to the store; returns its ARN.

    Entity tests set policies up through the store so that they exercise the
    entity handlers only, whatever state the policy handlers are in.
    """
    arn = f"arn:aws:iam::{account_id}:policy/{name}"
    now = ManualClock().now()
    store.insert_policy(
        ManagedPolicy(
            arn=arn,
            policy_id=new_unique_id(SeededRandomSource(len(name)), "ANPA"),
            account_id=account_id,
            policy_name=name,
            path="/",
            default_version_id="v1",
            created_at=now,
            updated_at=now,
        )
    )
    store.add_policy_version(PolicyVersion(arn, "v1", document, now))
    return arn


def attach(store: SqliteStore, owner_kind: str, owner_id: str, policy_arn: str, account_id: str = ACCOUNT) -> None:
    store.attach_policy(PolicyAttachment(account_id, owner_kind, owner_id, policy_arn))


def put_inline(store: SqliteStore, owner_kind: str, owner_id: str, name: str, account_id: str = ACCOUNT) -> None:
    store.put_inline_policy(InlinePolicy(account_id, owner_kind, owner_id, name, ALLOW_ALL))


@pytest.fixture
def service(store: SqliteStore, root_key: FileRootKey, clock: ManualClock) -> IamService:
    return IamService(store, root_key, clock, SeededRandomSource(11))


@pytest.fixture
def iam(service: IamService) -> Iam:
    """The IAM service as the root user of :data:`ACCOUNT`."""
    return Iam(service, root_caller())


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def trust(principal: str | list[str], action: str | list[str] = "sts:AssumeRole", **extra: Any) -> str:
    return document({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, **extra})


class World:
    """IAM as root of each account, STS, and a credential resolver that sees IAM's writes at once."""

    def __init__(self, store: SqliteStore, root_key: FileRootKey, clock: ManualClock, service: IamService) -> None:
        self.clock = clock
        self.iam = Iam(service, root_caller())
        self.other = self.iam.as_root(OTHER_ACCOUNT)
        self.sts = StsService(store, root_key, clock, SeededRandomSource(23))
        rng = SeededRandomSource(29)
        self.resolver = CredentialResolver(store, root_key, AccountDirectory(store, root_key, clock, rng), clock=clock)
        service.add_write_listener(self.resolver.invalidate)

    def user(self, name: str, *statements: dict[str, Any], iam: Iam | None = None, **params: Any) -> Caller:
        """A new IAM user (with an inline policy of ``statements``) signing with its own access key."""
        admin = iam or self.iam
        admin.create_user(name, **params)
        if statements:
            admin("PutUserPolicy", UserName=name, PolicyName="inline", PolicyDocument=document(*statements))
        key = admin("CreateAccessKey", UserName=name)["AccessKey"]
        resolved = self.resolver.resolve(key["AccessKeyId"])
        assert resolved is not None
        return Caller(principal=resolved.principal, region=REGION, request_id="test-request")

    def role(
        self, name: str, trust_policy: str, *statements: dict[str, Any], iam: Iam | None = None, **params: Any
    ) -> str:
        admin = iam or self.iam
        arn: str = admin.create_role(name, trust_policy, **params)["Arn"]
        if statements:
            admin("PutRolePolicy", RoleName=name, PolicyName="inline", PolicyDocument=document(*statements))
        return arn

    def assume(self, caller: Caller, role_arn: str, session_name: str = "session", **params: Any) -> dict[str, Any]:
        return self.sts.call("AssumeRole", {"RoleArn": role_arn, "RoleSessionName": session_name, **params}, caller)

    def signed_in(self, credentials: dict[str, Any]) -> Caller:
        """The caller who signs with ``credentials`` (an STS answer's Credentials)."""
        resolved = self.resolver.resolve(credentials["AccessKeyId"], credentials["SessionToken"])
        assert resolved is not None
        assert resolved.secret_access_key == credentials["SecretAccessKey"]
        return Caller(principal=resolved.principal, region=REGION, request_id="test-request")

    def session(self, caller: Caller, role_arn: str, session_name: str = "session", **params: Any) -> Caller:
        return self.signed_in(self.assume(caller, role_arn, session_name, **params)["Credentials"])

    def iam_as(self, caller: Caller) -> Iam:
        return self.iam.as_caller(caller)


@pytest.fixture
def world(store: SqliteStore, root_key: FileRootKey, clock: ManualClock, service: IamService) -> World:
    return World(store, root_key, clock, service)
