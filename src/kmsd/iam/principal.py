"""Who is calling: the principal a signed request resolves to, and the call's origin.

The API layer builds a :class:`Caller` from the verified SigV4 credentials and
the connection; service packages receive it with every operation and never
look at HTTP themselves.  The authorizer turns it into the policy engine's
request context (``aws:PrincipalArn``, ``aws:userid``, ``aws:SourceIp``, ...).
A principal that signed with temporary credentials from STS carries its
:class:`Session`: what kind of session it is, when it was issued and expires,
and the session policies and tags that narrow or describe it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from kmsd.store.models import IamRole, IamUser

PrincipalKind = Literal["root", "user", "assumed-role"]
SessionKind = Literal["assumed-role", "session-token"]


@dataclass(frozen=True)
class Session:
    """Temporary credentials issued by STS: AssumeRole (``assumed-role``) or GetSessionToken (``session-token``)."""

    kind: SessionKind
    access_key_id: str  # ASIA...
    issued_at: datetime
    expires_at: datetime
    name: str | None = None  # RoleSessionName, for assumed-role sessions
    role_id: str | None = None  # AROA..., for assumed-role sessions
    policy: str | None = None  # the inline session policy, as given to AssumeRole
    policy_arns: tuple[str, ...] = ()  # the managed session policies given to AssumeRole
    tags: dict[str, str] = field(default_factory=dict)  # session tags, inherited transitive tags included
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None  # aws:SourceIdentity: set once by AssumeRole, kept through role chaining


@dataclass(frozen=True)
class Principal:
    arn: str  # arn:aws:iam::ACCOUNT:root | ...:user/PATH/NAME | arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
    account_id: str
    kind: PrincipalKind
    user_id: str  # aws:userid: the account id for root, AIDA... for a user, AROA...:session for a session
    name: str | None = None  # aws:username, for IAM users only
    role_arn: str | None = None  # for assumed-role sessions: arn:aws:iam::ACCOUNT:role/PATH/NAME
    tags: dict[str, str] = field(default_factory=dict)  # aws:PrincipalTag: the user's, or the role's and session's
    access_key_id: str = ""
    session: Session | None = None  # set when the request was signed with temporary credentials

    @staticmethod
    def root(account_id: str, access_key_id: str = "") -> Principal:
        return Principal(
            arn=f"arn:aws:iam::{account_id}:root",
            account_id=account_id,
            kind="root",
            user_id=account_id,
            access_key_id=access_key_id,
        )


@dataclass(frozen=True)
class Caller:
    """One authenticated call: the principal plus where and how it arrived."""

    principal: Principal
    region: str  # from the SigV4 credential scope
    request_id: str
    source_ip: str = "127.0.0.1"
    secure_transport: bool = False
    user_agent: str = ""


def user_principal(user: IamUser, access_key_id: str = "", session: Session | None = None) -> Principal:
    """The IAM user ``user`` as a caller: signing with ``access_key_id`` (and ``session``, for its temporary
    credentials), or asked about offline or by the simulator (neither given)."""
    return Principal(
        arn=user.arn,
        account_id=user.account_id,
        kind="user",
        user_id=user.user_id,
        name=user.user_name,
        tags=dict(user.tags),
        access_key_id=access_key_id,
        session=session,
    )


def hypothetical_session(role: IamRole, session_name: str, purpose: str, now: datetime) -> Principal:
    """``role`` as one of its sessions named ``session_name`` would call, for a question asked offline or of the
    simulator (a role itself never signs a request); ``purpose`` ("explain", "simulation") names it in the
    session's key id, by which identity policy sets are cached, so it is never taken for a real session."""
    session = Session(
        kind="assumed-role",
        access_key_id=f"{purpose}:{role.role_id}:{session_name}",
        issued_at=now,
        expires_at=now + timedelta(hours=1),
        name=session_name,
        role_id=role.role_id,
    )
    return Principal(
        arn=f"arn:aws:sts::{role.account_id}:assumed-role/{role.role_name}/{session_name}",
        account_id=role.account_id,
        kind="assumed-role",
        user_id=f"{role.role_id}:{session_name}",
        role_arn=role.arn,
        tags=dict(role.tags),
        session=session,
    )
