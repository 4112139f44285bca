"""A world for authorizer tests: a real SqliteStore with two accounts, IAM and KMS services on it, and callers.

:class:`World` creates IAM users, roles and policies through :class:`IamService` (so the
identity-policy caches are invalidated as in production) and calls KMS as any principal:
``world.kms(caller)("Encrypt", ...)``.  Account :data:`A` owns the keys; :data:`B` is the other
account of cross-account tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.errors import AwsError
from kmsd.iam.principal import Caller, Principal, Session
from kmsd.iam.service import IamService
from kmsd.kms.service import KmsService
from kmsd.store.sqlite import SqliteStore

A = "111122223333"
B = "444455556666"
REGION = "us-west-2"

Document = Mapping[str, Any]


def policy(*statements: Mapping[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    """An identity-policy statement."""
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def key_statement(
    principal: str | list[str], action: str | list[str] = "kms:*", effect: str = "Allow", **extra: Any
) -> dict[str, Any]:
    """A key-policy statement naming ``principal`` (an ARN, account id or ``*``)."""
    named: Any = "*" if principal == "*" else {"AWS": principal}
    return {"Effect": effect, "Principal": named, "Action": action, "Resource": "*", **extra}


def root_arn(account: str = A) -> str:
    return f"arn:aws:iam::{account}:root"


def default_policy(account: str = A) -> dict[str, Any]:
    """AWS's default key policy: the account's root delegates to IAM."""
    return policy({"Sid": "Enable IAM User Permissions", **key_statement(root_arn(account))})


def denial(principal_arn: str, action: str, resource: str, reason: str) -> str:
    """AWS's AccessDenied message."""
    return f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {reason}"


def no_resource_policy(action: str) -> str:
    return f"because no resource-based policy allows the {action} action"


def no_identity_policy(action: str) -> str:
    return f"because no identity-based policy allows the {action} action"


@contextmanager
def aws_error(code: str, message: str | None = None) -> Iterator[None]:
    """Assert that the block raises AWS's error ``code`` (and exactly ``message`` when given)."""
    with pytest.raises(AwsError) as raised:
        yield
    assert raised.value.code == code, raised.value
    if message is not None:
        assert raised.value.message == message


@contextmanager
def access_denied(message: str) -> Iterator[None]:
    with pytest.raises(AwsError) as raised:
        yield
    assert (raised.value.code, raised.value.status) == ("AccessDeniedException", 400), raised.value
    assert raised.value.message == message


class Kms:
    """KmsService.call for one caller."""

    def __init__(self, service: KmsService, caller: Caller, via_service: str | None = None) -> None:
        self.service = service
        self.caller = caller
        self.via_service = via_service

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.service.call(operation, params, self.caller, via_service=self.via_service)

    def create_key(self, key_policy: Document | None = None, **params: Any) -> dict[str, Any]:
        if key_policy is not None:
            params["Policy"] = json.dumps(key_policy)
        metadata: dict[str, Any] = self("CreateKey", **params)["KeyMetadata"]
        return metadata

    def via(self, service: str) -> Kms:
        return Kms(self.service, self.caller, service)


class World:
    def __init__(self, store: SqliteStore, root_key: FileRootKey, clock: ManualClock) -> None:
        self.store = store
        self.clock = clock
        self.iam_service = IamService(store, root_key, clock, SeededRandomSource(11))
        self.kms_service = KmsService(store, root_key, clock, SeededRandomSource(7))

    # --- callers ------------------------------------------------------------------------------------
    def root(self, account: str = A, *, source_ip: str = "127.0.0.1") -> Caller:
        return Caller(principal=Principal.root(account), region=REGION, request_id="r", source_ip=source_ip)

    def iam(self, operation: str, account: str = A, **params: Any) -> dict[str, Any]:
        return self.iam_service.call(operation, params, self.root(account))

    def user(
        self,
        name: str,
        *statements: Mapping[str, Any],
        account: str = A,
        boundary: Document | None = None,
        tags: Mapping[str, str] | None = None,
        source_ip: str = "127.0.0.1",
    ) -> Caller:
        """An IAM user with one inline policy of ``statements`` (none when empty), as a caller."""
        if self.store.get_user(account, name) is None:
            tag_list = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
            self.iam("CreateUser", account, UserName=name, Tags=tag_list)
        if statements:
            document = json.dumps(policy(*statements))
            self.iam("PutUserPolicy", account, UserName=name, PolicyName="inline", PolicyDocument=document)
        if boundary is not None:
            arn = self.managed_policy(f"{name}-boundary", boundary, account)
            self.iam("PutUserPermissionsBoundary", account, UserName=name, PermissionsBoundary=arn)
        user = self.store.get_user(account, name)
        assert user is not None
        principal = Principal(
            arn=user.arn,
            account_id=account,
            kind="user",
            user_id=user.user_id,
            name=user.user_name,
            tags=dict(user.tags),
        )
        return Caller(principal=principal, region=REGION, request_id="r", source_ip=source_ip)

    def managed_policy(self, name: str, document: Document, account: str = A) -> str:
        created = self.iam("CreatePolicy", account, PolicyName=name, PolicyDocument=json.dumps(document))
        arn: str = created["Policy"]["Arn"]
        return arn

    def role_session(
        self,
        role_name: str,
        *statements: Mapping[str, Any],
        account: str = A,
        session_name: str = "session",
        session_policy: Document | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Caller:
        """A session of the role ``role_name`` (created with ``statements`` as its inline policy)."""
        if self.store.get_role(account, role_name) is None:
            trust = policy({"Effect": "Allow", "Principal": {"AWS": root_arn(account)}, "Action": "sts:AssumeRole"})
            tag_list = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
            self.iam(
                "CreateRole", account, RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust), Tags=tag_list
            )
        if statements:
            document = json.dumps(policy(*statements))
            self.iam("PutRolePolicy", account, RoleName=role_name, PolicyName="inline", PolicyDocument=document)
        role = self.store.get_role(account, role_name)
        assert role is not None
        issued = self.clock.now()
        session = Session(
            kind="assumed-role",
            access_key_id=f"ASIA{role.role_id[4:12]}{session_name[:8].upper():<8}".replace(" ", "X"),
            issued_at=issued,
            expires_at=issued + timedelta(hours=1),
            name=session_name,
            role_id=role.role_id,
            policy=json.dumps(session_policy) if session_policy is not None else None,
        )
        principal = Principal(
            arn=f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}",
            account_id=account,
            kind="assumed-role",
            user_id=f"{role.role_id}:{session_name}",
            role_arn=role.arn,
            tags=dict(role.tags),
            session=session,
        )
        return Caller(principal=principal, region=REGION, request_id="r")

    # --- KMS ----------------------------------------------------------------------------------------
    def kms(self, caller: Caller | None = None) -> Kms:
        return Kms(self.kms_service, caller or self.root())

    def key(self, key_policy: Document | None = None, account: str = A, **params: Any) -> dict[str, Any]:
        """A key of ``account`` created by its root user (the lockout check is bypassed for odd policies)."""
        if key_policy is not None:
            params.setdefault("BypassPolicyLockoutSafetyCheck", True)
        return self.kms(self.root(account)).create_key(key_policy, **params)


@pytest.fixture
def world(store: SqliteStore, root_key: FileRootKey, clock: ManualClock) -> World:
    """Accounts :data:`A` and :data:`B` exist in the shared ``store`` fixture (tests/conftest.py)."""
    return World(store, root_key, clock)
