"""Console sessions: a signed-in user's credentials, sealed under the root key into an HttpOnly cookie.

The console acts for a user by signing real API requests with the user's own
credentials (:mod:`kmsd.console.dispatch`), so the server needs them for
every action.  They are kept in the one place every ``kmsd serve`` process
and node can read and no script in the page can: a cookie whose value is the
session sealed with the root key (``RootKey.wrap``, AES-256-GCM, with its own
purpose label), marked ``HttpOnly``, ``SameSite=Strict``, ``Path=/console``
and, when the console is served over TLS, ``Secure``.  A process-local table
would break under ``kmsd serve --workers`` and across nodes, where the next
request may reach another process.

The session also holds its CSRF token: every change is a POST that must
carry it in the ``X-Kmsd-Csrf`` header, which a page of another origin can
neither read nor set (SameSite=Strict alone already keeps the cookie off
cross-site requests; the token covers same-site origins and old browsers).
A session lasts at most ``SESSION_SECONDS`` (12 hours, the AWS console's
longest) and never beyond its temporary credentials' expiry.  Signing out
expires the cookie; the credentials themselves stay as revocable as ever
(deactivating the access key ends every session that uses it at its next
call).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from kmsd.crypto import CryptoError, RootKey

COOKIE_NAME = "kmsd-console"
CSRF_HEADER = "x-kmsd-csrf"
SESSION_SECONDS = 12 * 3600
# Browsers keep cookies up to 4096 bytes, name and attributes included.
MAX_COOKIE_VALUE = 3800
_PURPOSE = b"kmsd/console-session/v1"


@dataclass(frozen=True)
class ConsoleSession:
    """Who is signed in, with what, until when; the CSRF token every change must echo."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None
    region: str
    arn: str
    account: str
    user_id: str
    csrf_token: str
    expires_at: datetime

    def identity(self) -> dict[str, object]:
        """What the page may know of the session: never the secret or the session token."""
        return {
            "identity": {"Arn": self.arn, "Account": self.account, "UserId": self.user_id},
            "region": self.region,
            "csrfToken": self.csrf_token,
            "expiresAt": self.expires_at.isoformat(),
        }

    def csrf_matches(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), self.csrf_token.encode())


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def session_expiry(now: datetime, credentials_expire: datetime | None) -> datetime:
    """``SESSION_SECONDS`` from ``now``, or earlier when the temporary credentials expire first."""
    latest = now + timedelta(seconds=SESSION_SECONDS)
    return min(latest, credentials_expire) if credentials_expire is not None else latest


class SessionSeal:
    """Seals sessions into cookie values and opens them again, with the root key."""

    def __init__(self, root_key: RootKey) -> None:
        self._root_key = root_key

    def seal(self, session: ConsoleSession) -> str:
        document = {
            "a": session.access_key_id,
            "s": session.secret_access_key,
            "t": session.session_token,
            "r": session.region,
            "n": session.arn,
            "c": session.account,
            "u": session.user_id,
            "x": session.csrf_token,
            "e": session.expires_at.isoformat(),
        }
        sealed = self._root_key.wrap(json.dumps(document, separators=(",", ":")).encode(), _PURPOSE)
        return base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def open(self, value: str, now: datetime) -> ConsoleSession | None:
        """The session ``value`` seals, or None when it is not one of ours, was altered, or has expired."""
        if len(value) > MAX_COOKIE_VALUE:
            return None
        try:
            sealed = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            document = json.loads(self._root_key.unwrap(sealed, _PURPOSE))
            session = ConsoleSession(
                access_key_id=str(document["a"]),
                secret_access_key=str(document["s"]),
                session_token=document["t"] if isinstance(document["t"], str) else None,
                region=str(document["r"]),
                arn=str(document["n"]),
                account=str(document["c"]),
                user_id=str(document["u"]),
                csrf_token=str(document["x"]),
                expires_at=datetime.fromisoformat(document["e"]),
            )
        except (CryptoError, binascii.Error, ValueError, KeyError, TypeError):
            return None
        return session if now < session.expires_at else None
