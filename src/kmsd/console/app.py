"""The web console's routes under ``/console``: the page, its static files, and the small JSON API it calls.

``/console/`` serves one page (``static/index.html``) and its scripts and
styles from the package: nothing is fetched from elsewhere, and a strict
Content-Security-Policy keeps it that way.  The page talks to
``/console/api/``:

- ``sign-in``, ``session``, ``sign-out``: the session (:mod:`kmsd.console.sessions`);
- ``call`` and ``calls``: API calls made as the user (:mod:`kmsd.console.dispatch`);
- ``permissions``, ``lint``, ``console-policy``: questions answered without a
  call (:mod:`kmsd.console.checks`).

Every POST but ``sign-in`` must carry the session's CSRF token; every answer
is JSON, never cached.  The console acts only through the user's credentials:
a session whose access key was deactivated, deleted or has expired gets
``NotSignedIn`` at its next request.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import re
import traceback
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from importlib import resources
from typing import Any

from kmsd.api.app import KmsdApp, Receive, Scope, Send, read_body
from kmsd.api.request_ids import new_request_id
from kmsd.console import checks
from kmsd.console.dispatch import SERVICES, USER_AGENT, ApiDispatcher, Credentials, Origin
from kmsd.console.sessions import (
    COOKIE_NAME,
    CSRF_HEADER,
    MAX_COOKIE_VALUE,
    ConsoleSession,
    SessionSeal,
    new_csrf_token,
    session_expiry,
)
from kmsd.crypto import RootKey
from kmsd.iam.credentials import SessionExpired
from kmsd.iam.principal import Caller

log = logging.getLogger("kmsd.console")

PREFIX = "/console"
# A key policy is at most 32 KB; JSON escaping can double it.
MAX_BODY_BYTES = 256 * 1024
MAX_BATCH = 100
_CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
}
_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_SECURITY_HEADERS = (
    (b"content-security-policy", _CSP),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_STATIC_NAME = re.compile(r"[a-z0-9_-]+\.(html|css|js|svg|png|ico)")
_OPERATION = re.compile(r"[A-Za-z0-9]{1,64}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")


class ConsoleError(Exception):
    """A console request refused before any call: its HTTP status, code and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ConsoleApp:
    """The ``/console`` routes, mounted on :class:`~kmsd.api.app.KmsdApp` (``app.mount``)."""

    def __init__(self, app: KmsdApp, root_key: RootKey) -> None:
        self.app = app
        self.runtime = app.runtime
        self.seal = SessionSeal(root_key)
        self.dispatcher = ApiDispatcher(app)
        self._static: dict[str, tuple[bytes, bytes]] = {}
        self._routes: dict[str, Callable[[Scope, Any], Awaitable[tuple[int, Any, list[tuple[bytes, bytes]]]]]] = {
            "sign-in": self._sign_in,
            "sign-out": self._sign_out,
            "call": self._call,
            "calls": self._calls,
            "permissions": self._permissions,
            "lint": self._lint,
            "console-policy": self._console_policy,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == PREFIX:
            await _send(send, 308, b"text/plain; charset=utf-8", b"", [(b"location", b"/console/")])
        elif path == PREFIX + "/" or path.startswith(PREFIX + "/static/"):
            await self._serve_static(path, method, send)
        elif path.startswith(PREFIX + "/api/"):
            await self._api(path[len(PREFIX + "/api/") :], scope, receive, send)
        else:
            await _send(send, 404, b"text/plain; charset=utf-8", b"not found\n")

    # --- the page -----------------------------------------------------------------------------------
    async def _serve_static(self, path: str, method: str, send: Send) -> None:
        if method not in ("GET", "HEAD"):
            await _send(send, 405, b"text/plain; charset=utf-8", b"method not allowed\n", [(b"allow", b"GET, HEAD")])
            return
        name = "index.html" if path == PREFIX + "/" else path[len(PREFIX + "/static/") :]
        found = self._static_file(name)
        if found is None:
            await _send(send, 404, b"text/plain; charset=utf-8", b"not found\n")
            return
        body, content_type = found
        await _send(send, 200, content_type, b"" if method == "HEAD" else body, [(b"cache-control", b"no-cache")])

    def _static_file(self, name: str) -> tuple[bytes, bytes] | None:
        if not _STATIC_NAME.fullmatch(name):
            return None
        if name not in self._static:
            resource = resources.files("kmsd.console").joinpath("static", name)
            if not resource.is_file():
                return None
            self._static[name] = (resource.read_bytes(), _CONTENT_TYPES[name[name.rindex(".") :]])
        return self._static[name]

    # --- the API ------------------------------------------------------------------------------------
    async def _api(self, route: str, scope: Scope, receive: Receive, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = []
        try:
            if route == "session":
                if scope["method"] != "GET":
                    raise ConsoleError(405, "MethodNotAllowed", "Use GET.")
                status, answer = 200, self._session(scope).identity()
            else:
                handler = self._routes.get(route)
                if handler is None:
                    raise ConsoleError(404, "NotFound", f"No console API named {route!r}.")
                if scope["method"] != "POST":
                    raise ConsoleError(405, "MethodNotAllowed", "Use POST.")
                if not _json_content(scope):
                    raise ConsoleError(415, "UnsupportedMediaType", "Send application/json.")
                body = await _read_json(receive)
                status, answer, headers = await handler(scope, body)
        except ConsoleError as error:
            status, answer = error.status, {"error": {"code": error.code, "message": error.message}}
            if error.code == "NotSignedIn":
                headers = [(b"set-cookie", _cookie("", 0, _secure(scope)))]
        except Exception as failure:
            # The exception's text may quote the request, credentials included: its type and place only.
            place = traceback.extract_tb(failure.__traceback__)[-1]
            log.error(
                "console request %s failed: %s at %s:%s", route, type(failure).__name__, place.filename, place.lineno
            )
            status, answer = 500, {"error": {"code": "InternalFailure", "message": "The console failed to answer."}}
        payload = json.dumps(answer, separators=(",", ":")).encode()
        await _send(send, status, b"application/json", payload, [(b"cache-control", b"no-store"), *headers])

    def _open_session(self, scope: Scope) -> ConsoleSession | None:
        """The session the request's cookie seals, if it carries a valid one."""
        value = _cookie_value(scope)
        return self.seal.open(value, self.runtime.clock.now()) if value else None

    def _session(self, scope: Scope) -> ConsoleSession:
        session = self._open_session(scope)
        if session is None:
            raise ConsoleError(401, "NotSignedIn", "Sign in to use the console.")
        return session

    def _signed_in(self, scope: Scope) -> ConsoleSession:
        """The session of a change request, whose CSRF token must match."""
        session = self._session(scope)
        _check_csrf(scope, session)
        return session

    async def _sign_in(self, scope: Scope, body: Any) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        fields = _object(body)
        access_key_id = _field(fields, "accessKeyId", 128)
        secret = _field(fields, "secretAccessKey", 128)
        token = _field(fields, "sessionToken", 8192, required=False) or None
        region = _field(fields, "region", 32, required=False) or "us-east-1"
        if not _REGION.fullmatch(region):
            raise ConsoleError(400, "InvalidRegion", f"{region!r} is not a Region name, such as us-east-1.")
        credentials = Credentials(access_key_id, secret, token, region)
        answer = await self.dispatcher.call(credentials, _origin(scope, self.app), "sts", "GetCallerIdentity", {})
        if "error" in answer:
            error = answer["error"]
            raise ConsoleError(401, error["code"], error["message"])
        identity = answer["result"]
        now = self.runtime.clock.now()
        session = ConsoleSession(
            access_key_id=access_key_id,
            secret_access_key=secret,
            session_token=token,
            region=region,
            arn=str(identity.get("Arn", "")),
            account=str(identity.get("Account", "")),
            user_id=str(identity.get("UserId", "")),
            csrf_token=new_csrf_token(),
            expires_at=session_expiry(now, self._credentials_expiry(access_key_id, token)),
        )
        sealed = self.seal.seal(session)
        if len(sealed) > MAX_COOKIE_VALUE:
            raise ConsoleError(400, "CredentialsTooLarge", "These credentials are too large for a browser cookie.")
        max_age = int((session.expires_at - now).total_seconds())
        return 200, session.identity(), [(b"set-cookie", _cookie(sealed, max_age, _secure(scope)))]

    async def _sign_out(self, scope: Scope, body: Any) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        # With a session, only its own page may end it; without one there is nothing to protect.
        session = self._open_session(scope)
        if session is not None:
            _check_csrf(scope, session)
        cleared = [
            (b"set-cookie", _cookie("", 0, _secure(scope))),
            (b"clear-site-data", b'"cookies", "storage"'),
        ]
        return 200, {}, cleared

    async def _call(self, scope: Scope, body: Any) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        session = self._signed_in(scope)
        return 200, await self._one_call(session, scope, _object(body)), []

    async def _calls(self, scope: Scope, body: Any) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        session = self._signed_in(scope)
        calls = _object(body).get("calls")
        if not isinstance(calls, list) or len(calls) > MAX_BATCH:
            raise ConsoleError(400, "ValidationException", f"'calls' must be a list of at most {MAX_BATCH} calls.")
        results = [await self._one_call(session, scope, _object(call)) for call in calls]
        return 200, {"results": results}, []

    async def _one_call(self, session: ConsoleSession, scope: Scope, call: Mapping[str, Any]) -> dict[str, Any]:
        service, operation, params = call.get("service"), call.get("operation"), call.get("params", {})
        if service not in SERVICES:
            raise ConsoleError(400, "ValidationException", f"'service' must be one of {', '.join(SERVICES)}.")
        if not isinstance(operation, str) or not _OPERATION.fullmatch(operation):
            raise ConsoleError(400, "ValidationException", "'operation' must be an operation name.")
        if not isinstance(params, dict):
            raise ConsoleError(400, "ValidationException", "'params' must be an object.")
        if service in ("iam", "sts") and not all(_query_field(value) for value in params.values()):
            raise ConsoleError(400, "ValidationException", "IAM and STS 'params' are the query API's flat fields.")
        return await self.dispatcher.call(
            Credentials.of(session), _origin(scope, self.app), str(service), operation, params
        )

    async def _permissions(self, scope: Scope, body: Any) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        caller = self._caller(scope, self._signed_in(scope))
        wanted = _object(body).get("checks")
        if not isinstance(wanted, list) or not all(isinstance(check, dict) for check in wanted):
            raise ConsoleError(400, "ValidationException", "'checks' must be a list of {action, resource}.")
        run = functools.partial(checks.permission_checks, self.runtime.store, self.runtime.clock, caller, wanted)
        return 200, {"results": await asyncio.get_running_loop().run_in_executor(None, run)}, []

    async def _lint(self, scope: Scope, body: Any) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        caller = self._caller(scope, self._signed_in(scope))
        fields = _object(body)
        text = fields.get("policy")
        key_arn = fields.get("keyArn")
        if not isinstance(text, str) or (key_arn is not None and not isinstance(key_arn, str)):
            raise ConsoleError(400, "ValidationException", "'policy' must be text and 'keyArn' an ARN or null.")
        run = functools.partial(checks.lint_key_policy, self.runtime.store, self.runtime.clock, caller, text, key_arn)
        return 200, await asyncio.get_running_loop().run_in_executor(None, run), []

    async def _console_policy(self, scope: Scope, body: Any) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        session = self._signed_in(scope)
        return 200, checks.console_policy(session.account, _object(body)), []

    def _credentials_expiry(self, access_key_id: str, token: str | None) -> datetime | None:
        """When temporary credentials expire (the session must not outlive them); None for long-term keys."""
        try:
            resolved = self.runtime.credentials.resolve(access_key_id, token)
        except SessionExpired:
            return self.runtime.clock.now()
        session = resolved.principal.session if resolved is not None else None
        return session.expires_at if session is not None else None

    def _caller(self, scope: Scope, session: ConsoleSession) -> Caller:
        """The session's principal as the credential resolver knows it now, as a caller of the page's request."""
        try:
            resolved = self.runtime.credentials.resolve(session.access_key_id, session.session_token)
        except SessionExpired:
            resolved = None
        secret = resolved.secret_access_key if resolved is not None else None
        if resolved is None or (
            secret is not None and not hmac.compare_digest(secret.encode(), session.secret_access_key.encode())
        ):
            raise ConsoleError(401, "NotSignedIn", "The session's credentials are no longer valid; sign in again.")
        client = scope.get("client")
        return Caller(
            principal=resolved.principal,
            region=session.region,
            request_id=new_request_id(),
            source_ip=client[0] if client else "",
            secure_transport=_secure(scope),
            user_agent=USER_AGENT,
        )


def _check_csrf(scope: Scope, session: ConsoleSession) -> None:
    if not session.csrf_matches(_header(scope, CSRF_HEADER)):
        raise ConsoleError(403, "InvalidCsrfToken", "The request did not carry this session's CSRF token.")


def _query_field(value: Any) -> bool:
    """Whether ``value`` can be a field of a query-protocol request: a number, a boolean, or text that is UTF-8
    (JSON can carry a lone surrogate, ``"\\ud800"``; a form body cannot)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    return isinstance(value, int | bool)


def _origin(scope: Scope, app: KmsdApp) -> Origin:
    forwarded = None
    if app.trusted_proxy_header is not None:
        value = _header(scope, app.trusted_proxy_header)
        if value is not None:
            forwarded = (app.trusted_proxy_header, value)
    return Origin(scope.get("client"), scope.get("scheme", "http"), _header(scope, "host") or "localhost", forwarded)


def _secure(scope: Scope) -> bool:
    return scope.get("scheme") == "https"


def _header(scope: Scope, name: str) -> str | None:
    wanted = name.encode("latin-1")
    for key, value in scope.get("headers", ()):
        if key.lower() == wanted:
            return str(value.decode("latin-1"))
    return None


def _json_content(scope: Scope) -> bool:
    return (_header(scope, "content-type") or "").split(";")[0].strip().lower() == "application/json"


def _cookie_value(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            name, _, found = part.strip().partition("=")
            if name == COOKIE_NAME:
                return str(found)
    return None


def _cookie(value: str, max_age: int, secure: bool) -> bytes:
    attributes = f"{COOKIE_NAME}={value}; Path={PREFIX}; Max-Age={max_age}; HttpOnly; SameSite=Strict"
    return (attributes + ("; Secure" if secure else "")).encode("latin-1")


async def _read_json(receive: Receive) -> Any:
    body = await read_body(receive, MAX_BODY_BYTES)
    if body is None:
        raise ConsoleError(413, "RequestEntityTooLarge", f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise ConsoleError(400, "SerializationException", "The body is not JSON.") from None


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConsoleError(400, "ValidationException", "Expected a JSON object.")
    return value


def _field(fields: Mapping[str, Any], name: str, limit: int, *, required: bool = True) -> str:
    value = fields.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value) or len(value) > limit or not value.isascii():
        raise ConsoleError(400, "ValidationException", f"'{name}' must be ASCII text of at most {limit} characters.")
    return value


async def _send(
    send: Send, status: int, content_type: bytes, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), *_SECURITY_HEADERS]
    headers.extend(extra or ())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
