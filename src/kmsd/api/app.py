"""The ASGI application: one endpoint for every API, plus ``/health``.

A request walks the pipeline of DESIGN.md: read the body (bounded), parse
the SigV4 ``Authorization`` to learn the access key and the credential scope,
resolve the caller, verify the signature, pick the service from the scope,
decode the protocol, validate against the service model, call the service,
encode.  A request that is not signed, or signed wrongly, never reaches a
service.  Handlers are thin; every rule lives in the service packages.

Service calls run inline on the event loop: the SQLite store answers in
microseconds and the work is CPU-bound under the GIL anyway, so a thread hop
would only add latency.  (A store with network round trips will move the
call to a worker thread.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from kmsd.api import json_protocol
from kmsd.api.shapes import ServiceModel
from kmsd.api.sigv4 import SigV4Error, parse_request, to_aws_error, unknown_access_key, verify
from kmsd.clock import Clock
from kmsd.errors import AwsError
from kmsd.iam.credentials import CredentialResolver
from kmsd.iam.principal import Caller
from kmsd.kms.service import KmsService
from kmsd.store.base import Store

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("kmsd.api")

# Large enough for any KMS request (a 32 KB key policy, escaped, is well under it).
MAX_BODY_BYTES = 1024 * 1024


@dataclass
class Runtime:
    """Everything the app serves from, built once by the server (or a test)."""

    store: Store
    clock: Clock
    credentials: CredentialResolver
    kms: KmsService
    schema_version: int


class KmsdApp:
    def __init__(
        self, runtime: Runtime, *, max_body_bytes: int = MAX_BODY_BYTES, sweep_interval: float = 5.0
    ) -> None:
        self.runtime = runtime
        self.max_body_bytes = max_body_bytes
        self.sweep_interval = sweep_interval
        self.kms_model = ServiceModel.load("kms")
        self._kms_target_prefix = str(self.kms_model.metadata["targetPrefix"])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/health" and scope["method"] in ("GET", "HEAD"):
            await self._health(send)
            return
        await self._aws_request(scope, receive, send)

    # --- AWS APIs ---------------------------------------------------------------
    async def _aws_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = str(uuid.uuid4())
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        target = _header(headers, "x-amz-target")
        body = await _read_body(receive, self.max_body_bytes)
        if body is None:
            too_large = AwsError(
                "RequestEntityTooLargeException",
                f"Request body exceeds the maximum of {self.max_body_bytes} bytes.",
                413,
            )
            await self._send_json_error(send, too_large, request_id)
            return
        try:
            caller, service = self._authenticate(scope, headers, body, request_id)
        except AwsError as error:
            await self._send_json_error(send, error, request_id)
            return
        if service == "kms":
            await self._kms(send, caller, target, body, request_id)
        else:
            # IAM and STS (query protocol) are served once the IAM issue lands.
            unserved = AwsError("UnknownOperationException", f"kmsd does not serve the {service} API yet.")
            await self._send_json_error(send, unserved, request_id)

    def _authenticate(
        self, scope: Scope, headers: list[tuple[str, str]], body: bytes, request_id: str
    ) -> tuple[Caller, str]:
        runtime = self.runtime
        # A commit from another process (a new account, a changed key) must be seen by the next request.
        if runtime.store.changed_since_last_check():
            runtime.credentials.invalidate()
        try:
            signed = parse_request(
                scope["method"],
                scope.get("raw_path", b"/").decode("utf-8", "surrogateescape").split("?", 1)[0],
                scope.get("query_string", b"").decode("utf-8", "surrogateescape"),
                headers,
            )
        except SigV4Error as failure:
            raise to_aws_error(failure, "json") from None
        resolved = runtime.credentials.resolve(signed.access_key_id)
        if resolved is None:
            raise to_aws_error(unknown_access_key(), "json")
        if resolved.secret_access_key is not None:
            try:
                verify(signed, resolved.secret_access_key, body, runtime.clock)
            except SigV4Error as failure:
                raise to_aws_error(failure, "json") from None
        client = scope.get("client")
        caller = Caller(
            principal=resolved.principal,
            region=signed.region,
            request_id=request_id,
            source_ip=client[0] if client else "",
            secure_transport=scope.get("scheme") == "https",
            user_agent=_header(headers, "user-agent") or "",
        )
        return caller, signed.service

    async def _kms(
        self, send: Send, caller: Caller, target: str | None, body: bytes, request_id: str
    ) -> None:
        try:
            operation = json_protocol.operation_from_target(target, self._kms_target_prefix)
            if operation not in self.kms_model.operations:
                raise AwsError("UnknownOperationException", "")
            if operation not in self.runtime.kms.operations:
                raise AwsError("UnsupportedOperationException", f"kmsd does not support {operation} yet.")
            params = self.kms_model.parse_request(operation, json_protocol.decode_body(body))
            result = self.runtime.kms.call(operation, params, caller)
            payload = json_protocol.encode_result(self.kms_model.serialize_response(operation, result))
        except AwsError as error:
            await self._send_json_error(send, error, request_id)
            return
        except Exception:
            # The exception may carry secrets in its arguments: log the type and traceback location only.
            log.exception("internal error in %s (request %s)", target, request_id)
            await self._send_json_error(send, AwsError("KMSInternalException", "", 500), request_id)
            return
        await _send(send, 200, json_protocol.CONTENT_TYPE, payload, request_id)

    async def _send_json_error(self, send: Send, error: AwsError, request_id: str) -> None:
        await _send(
            send, error.status, json_protocol.CONTENT_TYPE, json_protocol.encode_error(error), request_id
        )

    # --- other routes -----------------------------------------------------------
    async def _health(self, send: Send) -> None:
        store_ok = self.runtime.store.ping()
        body = {
            "status": "ok" if store_ok else "degraded",
            "store": "reachable" if store_ok else "unreachable",
            "schema_version": self.runtime.schema_version,
        }
        await _send(send, 200 if store_ok else 503, b"application/json", json.dumps(body).encode(), None)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        sweeper: asyncio.Task[None] | None = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                sweeper = asyncio.create_task(self._sweep_forever())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if sweeper is not None:
                    sweeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sweeper
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _sweep_forever(self) -> None:
        """End deletion windows and run due rotations even for keys nobody asks about."""
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                self.runtime.kms.sweep()
            except Exception:
                log.exception("periodic sweep failed; retrying in %s s", self.sweep_interval)


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None once it passes ``limit`` (the rest is drained, not kept)."""
    chunks: list[bytes] = []
    size = 0
    too_large = False
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            too_large = True
        elif chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return None if too_large else b"".join(chunks)


async def _send(send: Send, status: int, content_type: bytes, body: bytes, request_id: str | None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if request_id is not None:
        headers.append((b"x-amzn-requestid", request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
