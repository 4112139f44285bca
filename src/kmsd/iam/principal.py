"""Who is calling: the principal a signed request resolves to, and the call's origin.

The API layer builds a :class:`Caller` from the verified SigV4 credentials and
the connection; service packages receive it with every operation and never
look at HTTP themselves.  The authorizer turns it into the policy engine's
request context (``aws:PrincipalArn``, ``aws:userid``, ``aws:SourceIp``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

PrincipalKind = Literal["root", "user", "assumed-role"]


@dataclass(frozen=True)
class Principal:
    arn: (
        str  # arn:aws:iam::ACCOUNT:root | ...:user/PATH/NAME | arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
    )
    account_id: str
    kind: PrincipalKind
    user_id: str  # aws:userid: the account id for root, AIDA... for a user, AROA...:session for a session
    name: str | None = None  # aws:username, for IAM users only
    role_arn: str | None = None  # for assumed-role sessions: arn:aws:iam::ACCOUNT:role/PATH/NAME
    tags: dict[str, str] = field(default_factory=dict)
    access_key_id: str = ""

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
