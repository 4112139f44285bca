"""STS through boto3: who is calling, AssumeRole within and across accounts, session policies and tags,
GetSessionToken, and temporary credentials that stop working when they expire.

The expiry test runs the server in this process with a manual clock (as
``test_time.py`` does) and makes botocore sign at that clock's time, so a
session can be aged by hours without waiting.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.auth
import pytest

from kmsd.clock import ManualClock
from tests.helpers.aws_errors import error_from
from tests.helpers.clients import client, session_client, unique, user_with_key
from tests.helpers.documents import allow, policy, trust
from tests.integration.server import KmsdServer, in_process_server
from tests.integration.stores import Stores

ACCOUNT = "000000000000"
INVALID_TOKEN = ("InvalidClientTokenId", "The security token included in the request is invalid.", 403)


@pytest.fixture
def iam(server: KmsdServer, root_credentials: tuple[str, str]) -> Any:
    return client(server, "iam", root_credentials)


@pytest.fixture(scope="module")
def other_account(server: KmsdServer) -> tuple[str, tuple[str, str]]:
    """A second account (its id and root credentials) on the shared server."""
    account_id = f"{uuid.uuid4().int % 10**12:012d}"
    return account_id, server.create_account(account_id)


def test_caller_identity_of_root_and_user(server: KmsdServer, root_credentials: tuple[str, str], iam: Any) -> None:
    root = client(server, "sts", root_credentials).get_caller_identity()
    assert (root["Account"], root["Arn"], root["UserId"]) == (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT)
    name, credentials = user_with_key(iam)
    user = client(server, "sts", credentials).get_caller_identity()
    assert user["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert user["UserId"] == iam.get_user(UserName=name)["User"]["UserId"]


def test_root_cannot_assume_roles(server: KmsdServer, root_credentials: tuple[str, str], iam: Any) -> None:
    role = unique("role")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(trust(f"arn:aws:iam::{ACCOUNT}:root")))[
        "Role"
    ]["Arn"]
    sts = client(server, "sts", root_credentials)
    assert error_from(sts.assume_role, RoleArn=arn, RoleSessionName="s1") == (
        "AccessDenied",
        "Roles may not be assumed by root accounts.",
        403,
    )


def test_assume_role_in_the_same_account(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/{name}"
    role = unique("reader")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(trust(user_arn)))["Role"]["Arn"]
    role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]
    iam.put_role_policy(RoleName=role, PolicyName="read", PolicyDocument=policy(allow("iam:ListRoles")))
    # A trust policy naming the user itself is enough in the same account; no identity policy needed.
    assumed = client(server, "sts", credentials).assume_role(RoleArn=role_arn, RoleSessionName="build-42")
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["Expiration"] > datetime.now(UTC) + timedelta(minutes=55)
    assert assumed["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role_id}:build-42",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/build-42",
    }
    identity = session_client(server, "sts", creds).get_caller_identity()
    assert (identity["Arn"], identity["UserId"]) == (assumed["AssumedRoleUser"]["Arn"], f"{role_id}:build-42")

    session_iam = session_client(server, "iam", creds)
    assert role in [r["RoleName"] for r in session_iam.list_roles()["Roles"]]
    assert error_from(session_iam.list_users) == (
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/build-42 is not authorized to perform: iam:ListUsers "
        f"on resource: arn:aws:iam::{ACCOUNT}:user/ because no identity-based policy allows the iam:ListUsers action",
        403,
    )


def test_duration_is_bounded_by_the_roles_maximum(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    role = unique("short")
    arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=policy(trust(f"arn:aws:iam::{ACCOUNT}:user/{name}")),
        MaxSessionDuration=3600,
    )["Role"]["Arn"]
    sts = client(server, "sts", credentials)
    assert error_from(sts.assume_role, RoleArn=arn, RoleSessionName="long", DurationSeconds=7200) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        400,
    )
    assert sts.assume_role(RoleArn=arn, RoleSessionName="short", DurationSeconds=900)["Credentials"]


def test_assume_role_across_accounts_with_external_id(
    server: KmsdServer, iam: Any, other_account: tuple[str, tuple[str, str]]
) -> None:
    other_id, other_root = other_account
    name, credentials = user_with_key(iam)
    role = unique("partner")
    other_iam = client(server, "iam", other_root)
    role_arn = other_iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=policy(
            trust(f"arn:aws:iam::{ACCOUNT}:root", Condition={"StringEquals": {"sts:ExternalId": "contract-7"}})
        ),
    )["Role"]["Arn"]
    assert role_arn == f"arn:aws:iam::{other_id}:role/{role}"
    other_iam.put_role_policy(RoleName=role, PolicyName="roles", PolicyDocument=policy(allow("iam:ListRoles")))
    sts = client(server, "sts", credentials)
    refused = (
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: sts:AssumeRole "
        f"on resource: {role_arn}",
        403,
    )
    # The trust policy delegates to the account, so the user's own policies must allow it too.
    assert error_from(sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", ExternalId="contract-7") == refused
    iam.put_user_policy(
        UserName=name, PolicyName="assume", PolicyDocument=policy(allow("sts:AssumeRole", resource=role_arn))
    )
    assert error_from(sts.assume_role, RoleArn=role_arn, RoleSessionName="s1") == refused
    assert error_from(sts.assume_role, RoleArn=role_arn, RoleSessionName="s1", ExternalId="wrong") == refused

    assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName="audit", ExternalId="contract-7")
    identity = session_client(server, "sts", assumed["Credentials"]).get_caller_identity()
    assert identity["Account"] == other_id
    assert identity["Arn"] == f"arn:aws:sts::{other_id}:assumed-role/{role}/audit"
    # The session acts in the role's account: it sees that account's roles.
    listed = session_client(server, "iam", assumed["Credentials"]).list_roles()["Roles"]
    assert role in [r["RoleName"] for r in listed]


def test_session_policy_narrows_the_role(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    role = unique("broad")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(trust(f"arn:aws:iam::{ACCOUNT}:user/{name}")))[
        "Role"
    ]["Arn"]
    iam.attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    sts = client(server, "sts", credentials)
    broad = session_client(server, "iam", sts.assume_role(RoleArn=arn, RoleSessionName="full")["Credentials"])
    assert "Users" in broad.list_users()

    narrowed = sts.assume_role(RoleArn=arn, RoleSessionName="narrow", Policy=policy(allow("iam:ListRoles")))
    session = session_client(server, "iam", narrowed["Credentials"])
    assert "Roles" in session.list_roles()
    assert error_from(session.list_users) == (
        "AccessDenied",
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{role}/narrow is not authorized to perform: iam:ListUsers "
        f"on resource: arn:aws:iam::{ACCOUNT}:user/ because no session policy allows the iam:ListUsers action",
        403,
    )
    # A session policy never grants more than the role has.
    wide = sts.assume_role(RoleArn=arn, RoleSessionName="wide", Policy=policy(allow("iam:*")))
    assert error_from(session_client(server, "iam", wide["Credentials"]).create_user, UserName=unique("x"))[0] == (
        "AccessDenied"
    )
    by_arn = sts.assume_role(
        RoleArn=arn, RoleSessionName="managed", PolicyArns=[{"arn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}]
    )
    assert "Users" in session_client(server, "iam", by_arn["Credentials"]).list_users()


def test_session_tags_are_principal_tags(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    role = unique("tagged")
    arn = iam.create_role(
        RoleName=role,
        AssumeRolePolicyDocument=policy(
            trust(f"arn:aws:iam::{ACCOUNT}:user/{name}", "sts:AssumeRole", "sts:TagSession")
        ),
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role,
        PolicyName="team-only",
        PolicyDocument=policy(
            allow("iam:ListUsers", Condition={"StringEquals": {"aws:PrincipalTag/team": "payments"}})
        ),
    )
    sts = client(server, "sts", credentials)
    payments = sts.assume_role(RoleArn=arn, RoleSessionName="pay", Tags=[{"Key": "team", "Value": "payments"}])
    assert "Users" in session_client(server, "iam", payments["Credentials"]).list_users()
    billing = sts.assume_role(RoleArn=arn, RoleSessionName="bill", Tags=[{"Key": "team", "Value": "billing"}])
    assert error_from(session_client(server, "iam", billing["Credentials"]).list_users)[0] == "AccessDenied"


def test_session_token_must_match(server: KmsdServer, iam: Any) -> None:
    name, credentials = user_with_key(iam)
    issued = client(server, "sts", credentials).get_session_token(DurationSeconds=900)["Credentials"]
    identity = session_client(server, "sts", issued).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    forged = {**issued, "SessionToken": issued["SessionToken"][:-4] + "AAAA"}
    assert error_from(session_client(server, "sts", forged).get_caller_identity) == INVALID_TOKEN
    without = client(server, "sts", (issued["AccessKeyId"], issued["SecretAccessKey"]))
    assert error_from(without.get_caller_identity) == INVALID_TOKEN


# --- expiry, on a manual clock ---------------------------------------------------------------------------------
@pytest.fixture
def clocked_server(
    tmp_path: Path, stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[KmsdServer, ManualClock, tuple[str, str]]]:
    """An in-process server on a manual clock (only its port and endpoint are used), and root credentials.

    The root credentials are the development ones (``--dev``): root of the default account.
    """
    store_url = stores.new(tmp_path)
    with in_process_server(tmp_path, store_url, sweep_interval=3600) as running:
        clock = running.clock
        # botocore stamps each signature with its own clock; make it the server's, so hours can pass at once.
        monkeypatch.setattr(
            botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: clock.now().replace(tzinfo=None)
        )
        yield KmsdServer(tmp_path, store_url, port=running.port), clock, ("test", "test")


def test_expired_session_is_refused(clocked_server: tuple[KmsdServer, ManualClock, tuple[str, str]]) -> None:
    server, clock, root = clocked_server
    iam = client(server, "iam", root)
    name, credentials = user_with_key(iam)
    role = unique("temp")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=policy(trust(f"arn:aws:iam::{ACCOUNT}:user/{name}")))[
        "Role"
    ]["Arn"]
    issued = client(server, "sts", credentials).assume_role(RoleArn=arn, RoleSessionName="s1", DurationSeconds=900)
    creds = issued["Credentials"]
    assert abs((creds["Expiration"] - clock.now()).total_seconds() - 900) < 1
    sts = session_client(server, "sts", creds)
    kms = session_client(server, "kms", creds)
    clock.advance(timedelta(seconds=899))
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/s1"
    clock.advance(timedelta(seconds=2))
    # The query services answer ExpiredToken (403); KMS's JSON protocol ExpiredTokenException (400).
    assert error_from(sts.get_caller_identity) == (
        "ExpiredToken",
        "The security token included in the request is expired",
        403,
    )
    assert error_from(kms.list_keys) == (
        "ExpiredTokenException",
        "The security token included in the request is expired",
        400,
    )
    # The user's long-term key is unaffected.
    assert client(server, "sts", credentials).get_caller_identity()["Arn"].endswith(f":user/{name}")
