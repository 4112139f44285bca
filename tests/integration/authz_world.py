"""A world of accounts, IAM identities and KMS keys on a real ``kmsd serve``, for the issue-5 end-to-end tests.

The ``test_authz_*`` modules each start one server (:func:`running_world`),
then build what a scenario needs through the public APIs only, exactly as a
user would: ``kmsd accounts create`` for accounts, boto3's ``iam`` client for
users, roles, policies and access keys, ``sts`` for role sessions and ``kms``
for keys.  Account ids are the ones AWS's own examples use (111122223333 and
444455556666), so each example reads the same here as on its documentation
page.  The helpers also spell AWS's ``AccessDeniedException`` message
("Troubleshoot access denied error messages", IAM User Guide) so that every
module asserts the same wording.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.helpers.simulation_check import Subject, watch
from tests.integration.server import KmsdServer
from tests.integration.stores import Stores

ACCOUNT_A = "111122223333"
ACCOUNT_B = "444455556666"
ACCOUNT_C = "777788889999"
WEST = "us-west-2"
EAST = "us-east-1"

# The AWS managed policies the reference page names ("AWS managed policies for AWS KMS").
POWER_USER = "arn:aws:iam::aws:policy/AWSKeyManagementServicePowerUser"

# The four phrasings of an AccessDeniedException's reason ("Troubleshoot access denied error messages").
NO_RESOURCE_POLICY = "because no resource-based policy allows the {action} action"
NO_IDENTITY_POLICY = "because no identity-based policy allows the {action} action"
NO_BOUNDARY = "because no permissions boundary allows the {action} action"
NO_SESSION_POLICY = "because no session policy allows the {action} action"
DENY_IN_RESOURCE_POLICY = "with an explicit deny in a resource-based policy"
DENY_IN_IDENTITY_POLICY = "with an explicit deny in an identity-based policy"

Error = tuple[str, str, int]
Statement = dict[str, Any]
# One call to try: the IAM action it needs, the client method, and its parameters.
Attempt = tuple[str, Callable[..., Any], dict[str, Any]]

# The root user of each account of each running world, by (endpoint, account id): it asks the simulator.
_ROOTS: dict[tuple[str, str], Identity] = {}

# One session loads botocore's models once for the many clients a module makes.
_SESSION = boto3.session.Session()
_CONFIG = Config(retries={"max_attempts": 1})


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def policy(*statements: Statement) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def statement(
    effect: str,
    actions: str | Sequence[str],
    resource: str | Sequence[str] | None = "*",
    *,
    principal: str | Sequence[str] | None = None,
    condition: Mapping[str, Mapping[str, Any]] | None = None,
    sid: str | None = None,
) -> Statement:
    """One policy statement; ``principal`` (an AWS principal or ``*``) makes it a key policy statement."""
    result: Statement = {"Effect": effect, "Action": actions if isinstance(actions, str) else list(actions)}
    if sid is not None:
        result = {"Sid": sid, **result}
    if principal is not None:
        result["Principal"] = {"AWS": principal if isinstance(principal, str) else list(principal)}
    if resource is not None:
        result["Resource"] = resource if isinstance(resource, str) else list(resource)
    if condition is not None:
        result["Condition"] = {operator: dict(values) for operator, values in condition.items()}
    return result


def allow(actions: str | Sequence[str], resource: str | Sequence[str] | None = "*", **extra: Any) -> Statement:
    return statement("Allow", actions, resource, **extra)


def deny(actions: str | Sequence[str], resource: str | Sequence[str] | None = "*", **extra: Any) -> Statement:
    return statement("Deny", actions, resource, **extra)


def account_root(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def enable_iam_policies(account_id: str) -> Statement:
    """The default key policy's statement: the account may delegate ``kms:*`` with IAM policies."""
    return allow("kms:*", principal=account_root(account_id), sid="Enable IAM User Permissions")


def denied(caller_arn: str, action: str, resource: str, reason: str) -> Error:
    """AWS's AccessDeniedException for KMS: HTTP 400 and the message form of the KMS issue."""
    because = reason.format(action=action)
    return (
        "AccessDeniedException",
        f"User: {caller_arn} is not authorized to perform: {action} on resource: {resource} {because}",
        400,
    )


def error_of(error: ClientError) -> Error:
    response: Any = error.response
    return (
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def refused(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Error:
    """The error ``call(*args, **kwargs)`` fails with; the test fails if it succeeds."""
    with pytest.raises(ClientError) as excinfo:
        call(*args, **kwargs)
    return error_of(excinfo.value)


def code_of(call: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """``"ok"`` when the call succeeds, else its error code: for tables of outcomes."""
    try:
        call(*args, **kwargs)
    except ClientError as error:
        return error_of(error)[0]
    return "ok"


def new_client(
    server: KmsdServer,
    service: str,
    credentials: tuple[str, str],
    *,
    region: str = WEST,
    session_token: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Any:
    client = _SESSION.client(
        service,
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
        aws_session_token=session_token,
        config=_CONFIG,
    )
    if headers:
        extra = dict(headers)

        def add_headers(request: Any, **_: Any) -> None:
            for name, value in extra.items():
                request.headers[name] = value

        # Added before signing, so the headers are part of the signed request like any SDK header.
        client.meta.events.register(f"before-sign.{service}.*", add_headers)
    return client


@dataclass(frozen=True)
class Key:
    key_id: str
    arn: str
    region: str


@dataclass
class Identity:
    """Someone who signs requests: an account's root user, an IAM user, or a role session."""

    server: KmsdServer
    arn: str
    account_id: str
    credentials: tuple[str, str]
    session_token: str | None = None
    name: str | None = None
    # Who the policy simulator is to simulate for this identity's KMS calls (None: it cannot be simulated).
    subject: Subject | None = None
    _clients: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def client(self, service: str, region: str = WEST) -> Any:
        cached = self._clients.get((service, region))
        if cached is None:
            cached = new_client(self.server, service, self.credentials, region=region, session_token=self.session_token)
            if service == "kms" and self.subject is not None:
                # Issue 13: every KMS decision these tests see is asked again of the simulator, which must agree.
                root = _ROOTS[(self.server.endpoint, self.subject.account_id)]
                watch(cached, self.subject, lambda: root.client("iam", EAST), lambda: root.unwatched_kms(region))
            self._clients[(service, region)] = cached
        return cached

    def unwatched_kms(self, region: str) -> Any:
        """A KMS client whose calls are not compared with the simulator (for the comparison's own look-ups)."""
        return new_client(self.server, "kms", self.credentials, region=region, session_token=self.session_token)

    def kms(self, region: str = WEST) -> Any:
        return self.client("kms", region)

    def kms_with_headers(self, headers: Mapping[str, str], region: str = WEST) -> Any:
        """A KMS client that adds ``headers`` to every request it signs."""
        return new_client(
            self.server, "kms", self.credentials, region=region, session_token=self.session_token, headers=headers
        )

    def raw_kms(
        self, operation: str, params: Mapping[str, Any], region: str = WEST, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One signed KMS request over plain HTTP: the status and the whole JSON body, unknown members included."""
        body = json.dumps(params).encode("utf-8")
        request = AWSRequest(
            method="POST",
            url=self.server.endpoint + "/",
            data=body,
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": f"TrentService.{operation}",
                **(headers or {}),
            },
        )
        SigV4Auth(Credentials(*self.credentials, self.session_token), "kms", region).add_auth(request)
        prepared = request.prepare()
        sent = urllib.request.Request(prepared.url, data=body, headers=dict(prepared.headers), method="POST")
        try:
            with urllib.request.urlopen(sent, timeout=10) as response:
                return int(response.status), json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            with error:
                return int(error.code), json.loads(error.read() or b"{}")


@dataclass
class Account:
    server: KmsdServer
    account_id: str
    root: Identity

    @property
    def iam(self) -> Any:
        return self.root.client("iam", EAST)

    def kms(self, region: str = WEST) -> Any:
        return self.root.kms(region)

    def user(
        self,
        *inline: Statement,
        managed: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        boundary: str | None = None,
        groups: Sequence[str] = (),
        name: str | None = None,
    ) -> Identity:
        """A new IAM user with an access key; ``inline`` statements become one inline policy."""
        name = name or unique("user")
        create: dict[str, Any] = {"UserName": name}
        if tags:
            create["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        if boundary is not None:
            create["PermissionsBoundary"] = boundary
        created = self.iam.create_user(**create)["User"]
        arn = created["Arn"]
        if inline:
            self.iam.put_user_policy(UserName=name, PolicyName="inline", PolicyDocument=policy(*inline))
        for policy_arn in managed:
            self.iam.attach_user_policy(UserName=name, PolicyArn=policy_arn)
        for group in groups:
            self.iam.add_user_to_group(GroupName=group, UserName=name)
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        credentials = (key["AccessKeyId"], key["SecretAccessKey"])
        subject = Subject(self.account_id, arn, None, created["UserId"])
        return Identity(self.server, arn, self.account_id, credentials, name=name, subject=subject)

    def managed_policy(self, *statements: Statement) -> str:
        return str(
            self.iam.create_policy(PolicyName=unique("policy"), PolicyDocument=policy(*statements))["Policy"]["Arn"]
        )

    def role(self, *inline: Statement, trusted: str, tags: Mapping[str, str] | None = None) -> str:
        """A new role that ``trusted`` (an ARN) may assume; ``inline`` statements become its inline policy."""
        name = unique("role")
        create: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": policy(allow("sts:AssumeRole", None, principal=trusted)),
        }
        if tags:
            create["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        arn = str(self.iam.create_role(**create)["Role"]["Arn"])
        if inline:
            self.iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=policy(*inline))
        return arn

    def key(
        self,
        *key_policy: Statement,
        region: str = WEST,
        tags: Mapping[str, str] | None = None,
        bypass: bool = False,
        description: str = "",
    ) -> Key:
        """A key made by this account's root user: the default key policy unless statements are given."""
        create: dict[str, Any] = {"Description": description}
        if key_policy:
            create["Policy"] = policy(*key_policy)
        if bypass:
            create["BypassPolicyLockoutSafetyCheck"] = True
        if tags:
            create["Tags"] = [{"TagKey": k, "TagValue": v} for k, v in tags.items()]
        meta = self.kms(region).create_key(**create)["KeyMetadata"]
        return Key(meta["KeyId"], meta["Arn"], region)


def assume(identity: Identity, role_arn: str, session_name: str | None = None, **extra: Any) -> Identity:
    """A role session of ``role_arn`` started by ``identity``."""
    session_name = session_name or unique("session")
    assumed = identity.client("sts", EAST).assume_role(RoleArn=role_arn, RoleSessionName=session_name, **extra)
    credentials = assumed["Credentials"]
    session_arn = assumed["AssumedRoleUser"]["Arn"]
    account_id = role_arn.split(":")[4]
    # The simulator takes a role and one of its sessions, not session policies, tags or a source identity.
    subject = None if extra else Subject(account_id, role_arn, session_arn)
    return Identity(
        identity.server,
        session_arn,
        account_id,
        (credentials["AccessKeyId"], credentials["SecretAccessKey"]),
        session_token=credentials["SessionToken"],
        subject=subject,
    )


@dataclass
class World:
    server: KmsdServer
    accounts: dict[str, Account] = field(default_factory=dict)

    def account(self, account_id: str) -> Account:
        """The account ``account_id``, created (``kmsd accounts create``) on first use."""
        found = self.accounts.get(account_id)
        if found is None:
            credentials = self.server.create_account(account_id)
            arn = account_root(account_id)
            root = Identity(self.server, arn, account_id, credentials, subject=Subject(account_id, None, arn))
            _ROOTS[(self.server.endpoint, account_id)] = root
            found = self.accounts[account_id] = Account(self.server, account_id, root)
        return found

    @property
    def a(self) -> Account:
        return self.account(ACCOUNT_A)

    @property
    def b(self) -> Account:
        return self.account(ACCOUNT_B)

    @property
    def c(self) -> Account:
        return self.account(ACCOUNT_C)


@contextmanager
def running_world(stores: Stores, data_dir: Path, *extra_args: str) -> Iterator[World]:
    """A fresh ``kmsd serve`` (with ``extra_args``) on a new store and the world built on it; both gone afterwards."""
    server = KmsdServer(data_dir, stores.new(data_dir), extra_args=list(extra_args))
    try:
        yield World(server.start())
    finally:
        server.stop()
        stores.release(server.store_url)
