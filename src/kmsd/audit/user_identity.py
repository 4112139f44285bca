"""CloudTrail's ``userIdentity`` element for the principal that signed a call.

As the CloudTrail User Guide ("CloudTrail userIdentity element") shows it:
``Root``, ``IAMUser`` (with ``userName``) or ``AssumedRole``, each with
``principalId`` (``aws:userid``: the account id, ``AIDA...``, or
``AROA...:session``), ``arn``, ``accountId`` and the ``accessKeyId`` that
signed.  Temporary credentials add ``sessionContext``: its ``attributes``
(when the session was issued, and ``mfaAuthenticated``), and for a role
session the ``sessionIssuer`` (the role) and the ``sourceIdentity`` set when
the role was first assumed ("AWS STS source identity").
"""

from __future__ import annotations

from typing import Any

from kmsd.audit.redaction import iso_seconds
from kmsd.iam.principal import Principal

_TYPES = {"root": "Root", "user": "IAMUser", "assumed-role": "AssumedRole"}


def user_identity(principal: Principal) -> dict[str, Any]:
    session = principal.session
    identity: dict[str, Any] = {
        "type": _TYPES[principal.kind],
        "principalId": principal.user_id,
        "arn": principal.arn,
        "accountId": principal.account_id,
        "accessKeyId": principal.access_key_id or (session.access_key_id if session is not None else ""),
    }
    if principal.kind == "user" and principal.name is not None:
        identity["userName"] = principal.name
    if session is None:
        return identity
    context: dict[str, Any] = {}
    if principal.kind == "assumed-role":
        role_arn = principal.role_arn or ""
        context["sessionIssuer"] = {
            "type": "Role",
            "principalId": session.role_id or principal.user_id.partition(":")[0],
            "arn": role_arn,
            "accountId": principal.account_id,
            "userName": role_arn.rpartition("/")[2],
        }
    else:
        # GetSessionToken's credentials: issued to the user (or root) itself, no role.
        context["sessionIssuer"] = {}
    # kmsd issues no session on an MFA code, so none is MFA-authenticated.
    context["attributes"] = {"creationDate": iso_seconds(session.issued_at), "mfaAuthenticated": "false"}
    if session.source_identity is not None:
        context["sourceIdentity"] = session.source_identity
    identity["sessionContext"] = context
    return identity


def username(principal: Principal) -> str | None:
    """LookupEvents' Username of the principal: the user's name, the role session's name, or ``root``."""
    if principal.kind == "user":
        return principal.name
    if principal.kind == "assumed-role":
        session = principal.session
        return session.name if session is not None and session.name else principal.arn.rpartition("/")[2]
    return "root"
