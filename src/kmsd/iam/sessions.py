"""Temporary credentials: issuing them for AssumeRole and GetSessionToken, and checking them on each request.

A session is an access key id (``ASIA`` + 16 characters), a secret access key
and a session token.  The secret is stored wrapped under the root key, bound
to its access key id exactly as long-term secrets are; of the token only its
SHA-256 is stored, and a presented token is compared with it in constant
time, so a copy of the database neither yields usable tokens nor lets anyone
learn one by timing.  Expired sessions stay in the store for a day after
expiry, so that a client still using one is told the token expired (AWS's
``ExpiredToken``) rather than that it is unknown, and are purged when the
next session is issued.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kmsd.iam.accounts import new_access_key_id, new_secret_access_key, secret_purpose
from kmsd.iam.context import IamContext
from kmsd.iam.ids import SESSION_KEY_ID_PREFIX
from kmsd.iam.principal import Session, SessionKind
from kmsd.store.models import SessionRecord

# How long an expired session is kept so that its token is reported as expired rather than invalid.
EXPIRED_SESSION_RETENTION = timedelta(days=1)
_TOKEN_BYTES = 96  # 128 base64 characters; AWS's tokens are opaque and of varying length


@dataclass(frozen=True)
class SessionSpec:
    """What a new session is for; the credentials and times are chosen when it is issued."""

    kind: SessionKind
    account_id: str
    principal_arn: str  # the assumed-role ARN, or the user's or root's ARN for GetSessionToken
    user_id: str  # aws:userid of the session
    duration_seconds: int
    role_id: str | None = None
    session_name: str | None = None
    source_user_id: str | None = None
    session_policy: str | None = None
    session_policy_arns: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    transitive_tag_keys: tuple[str, ...] = ()
    source_identity: str | None = None


@dataclass(frozen=True)
class IssuedCredentials:
    """Credentials as STS returns them once; only the record (secret wrapped, token hashed) is kept."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime

    def to_shape(self) -> dict[str, Any]:
        """The ``Credentials`` structure of the AssumeRole and GetSessionToken responses."""
        return {
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration,
        }


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


def token_matches(stored_hash: bytes, presented: str | None) -> bool:
    """Whether ``presented`` is the session's token, compared in constant time."""
    if not presented:
        return False
    return hmac.compare_digest(stored_hash, token_hash(presented))


def forget_expired_sessions(ctx: IamContext) -> int:
    """Delete the sessions expired longer ago than EXPIRED_SESSION_RETENTION (the periodic sweep); how many."""
    with ctx.store.transaction():
        return ctx.store.delete_sessions_expired_before(ctx.clock.now() - EXPIRED_SESSION_RETENTION)


def issue_session(ctx: IamContext, spec: SessionSpec) -> IssuedCredentials:
    """Create and store a session for ``spec``; the caller holds the store transaction."""
    now = ctx.clock.now()
    access_key_id = new_access_key_id(ctx.rng, SESSION_KEY_ID_PREFIX)
    secret = new_secret_access_key(ctx.rng)
    token = base64.b64encode(ctx.rng.bytes(_TOKEN_BYTES)).decode("ascii")
    expires_at = now + timedelta(seconds=spec.duration_seconds)
    ctx.store.delete_sessions_expired_before(now - EXPIRED_SESSION_RETENTION)
    ctx.store.insert_session(
        SessionRecord(
            access_key_id=access_key_id,
            wrapped_secret=ctx.root_key.wrap(secret.encode("ascii"), secret_purpose(access_key_id)),
            token_hash=token_hash(token),
            account_id=spec.account_id,
            kind=spec.kind,
            principal_arn=spec.principal_arn,
            user_id=spec.user_id,
            created_at=now,
            expires_at=expires_at,
            role_id=spec.role_id,
            session_name=spec.session_name,
            source_user_id=spec.source_user_id,
            session_policy=spec.session_policy,
            session_policy_arns=spec.session_policy_arns,
            tags=dict(spec.tags),
            transitive_tag_keys=spec.transitive_tag_keys,
            source_identity=spec.source_identity,
        )
    )
    return IssuedCredentials(access_key_id, secret, token, expires_at)


def session_of(record: SessionRecord) -> Session:
    """The session data a principal carries, from its stored record."""
    kind: SessionKind = "assumed-role" if record.kind == "assumed-role" else "session-token"
    return Session(
        kind=kind,
        access_key_id=record.access_key_id,
        issued_at=record.created_at,
        expires_at=record.expires_at,
        name=record.session_name,
        role_id=record.role_id,
        policy=record.session_policy,
        policy_arns=tuple(record.session_policy_arns),
        tags=dict(record.tags),
        transitive_tag_keys=tuple(record.transitive_tag_keys),
        source_identity=record.source_identity,
    )


def merged_tags(entity_tags: dict[str, str], session_tags: dict[str, str]) -> dict[str, str]:
    """A role session's ``aws:PrincipalTag`` values: the role's tags, overridden by session tags.

    IAM User Guide, "Pass session tags in AWS STS": tag keys are not case
    sensitive, and a session tag overrides a role tag with the same key
    whatever its case (the session tag's spelling is kept).
    """
    merged = dict(entity_tags)
    for key, value in session_tags.items():
        for existing in [name for name in merged if name.lower() == key.lower()]:
            del merged[existing]
        merged[key] = value
    return merged
