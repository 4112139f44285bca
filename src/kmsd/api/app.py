"""The ASGI application: one endpoint for every API, plus ``/health`` and ``/metrics`` (:mod:`kmsd.api.metrics`).

A request walks the pipeline of DESIGN.md: read the body (bounded), tell the
protocol from the request's shape (an ``X-Amz-Target`` header or a JSON
content type is JSON 1.1; a form body or a GET is the query protocol), parse
the SigV4 ``Authorization`` to learn the access key and the credential scope,
resolve the caller, verify the signature, pick the service from the scope
(``kms`` and ``cloudtrail``, JSON 1.1; ``iam`` and ``sts``, which share the
query protocol), decode the
protocol, validate against the service model, call the service, encode.  A
request that is not signed, or signed wrongly, never reaches a service, and
its error is written in the request's protocol (JSON ``__type`` or XML
``ErrorResponse``).  Handlers are thin; every rule lives in the service
packages.

The event loop never waits for another tenant's work (docs/architecture.md,
"One tenant cannot stall the others").  KMS reads of ordinary size -- the
cryptographic calls above all -- run inline on the loop: the SQLite store
answers them in microseconds without its writer lock, and a thread hop would
only add latency.  Policy evaluation is linear in policy size × request size,
so a request whose body is larger than ``INLINE_BODY_BYTES`` (up to 1 MiB,
against an adversarial 32 KB key policy: seconds) runs its service call on
the *large-call* threads instead; off the loop it costs the others a share of
the interpreter (the loop gets the GIL back at every switch interval), not
their answers.  Everything that takes the store's writer lock -- KMS writes,
IAM and STS calls, access-key-use records (:mod:`kmsd.iam.access_key_use`),
keys' last-use records (:mod:`kmsd.kms.key_usage`),
the periodic sweep -- runs on the one *store-call* thread, in arrival order,
so the loop never blocks behind a writer either; the loop's own change check
only tries the lock.  A small read that turns out to need a PKCS#11 token (a
key of a custom key store) stops before it acts (``TokenCallOffLoop``) and runs
again on a large-call thread, because an HSM may answer slowly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from kmsd.api import explanation_header, json_protocol, query_protocol
from kmsd.api.forwarded import forwarded_source_ip, via_service
from kmsd.api.metrics import PUBLISH_SECONDS, Metrics
from kmsd.api.query_protocol import FORM_CONTENT_TYPE, QueryCodec, read_fields
from kmsd.api.regions import RegionPolicy
from kmsd.api.request_ids import new_request_id
from kmsd.api.shapes import ServiceModel
from kmsd.api.sigv4 import Protocol as WireProtocol
from kmsd.api.sigv4 import (
    SignedRequest,
    SigV4Error,
    expired_session_token,
    to_aws_error,
    unknown_access_key,
    verify_at,
)
from kmsd.api.sigv4.parse import parse_grouped_request
from kmsd.audit.call_record import CallObserver, CallRecord
from kmsd.audit.lookup import CloudTrailService
from kmsd.audit.trail import AuditTrail
from kmsd.authz.denial import EXPLANATION_MEMBER, AccessDeniedError
from kmsd.call_notes import CallNotes, collecting
from kmsd.clock import Clock
from kmsd.errors import AwsError
from kmsd.iam.access_key_use import AccessKeyUse
from kmsd.iam.credentials import CredentialResolver, SessionExpired
from kmsd.iam.principal import Caller, Principal
from kmsd.iam.service import IamService
from kmsd.iam.sts import StsService
from kmsd.kms.service import KmsService
from kmsd.kms.token_keys import TokenCallOffLoop
from kmsd.store.base import Store

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("kmsd.api")

# Large enough for any KMS, IAM or STS request (a 32 KB key policy, escaped, is well under it).
MAX_BODY_BYTES = 1024 * 1024

# Bodies up to this size are served on the event loop; larger ones run their service call on a large-call
# thread.  Below it the worst evaluation we could build (docs/architecture.md) stays near 0.1 s, and every
# request of the benchmark and of ordinary clients (a 4 KB plaintext is 5.5 KB of JSON) is either far below
# it or pays the thread hop (tens of microseconds) on top of work that large anyway.
INLINE_BODY_BYTES = 2048
# At most this many oversized calls run at once; more wait for a thread, never the event loop.
LARGE_CALL_THREADS = 2

# How often, at most, a request asks the store whether another process committed (and the credential
# caches are dropped if so): asking costs a round on the store's write lock, and DESIGN.md lets a node's
# caches follow another node's change within a second.  This process's own writes are seen at once.
STORE_CHANGE_CHECK_SECONDS = 0.1

# The services one endpoint serves, by the service name in the SigV4 credential scope.
KMS = "kms"
QUERY_SERVICES = ("iam", "sts")
# The other JSON 1.1 services, each with its model (api/models) and its X-Amz-Target prefix; KMS, the hot path,
# keeps its own route.
CLOUDTRAIL = "cloudtrail"

# An ASGI scope key only a caller inside the process can set (the server builds the scope of every network
# request): a list that receives the request's CallRecord, so the console (kmsd.console.dispatch) can read a
# denial's explanation of a call it made for its user.
CALL_RECORD_SINK = "kmsd.call_records"


class QueryService(Protocol):
    """What the app needs of IAM and STS: the operations they implement and one entry point."""

    @property
    def operations(self) -> frozenset[str]: ...

    def call(self, operation: str, params: Mapping[str, Any], caller: Caller) -> dict[str, Any]: ...

    def writes(self, operation: str) -> bool: ...


@dataclass(frozen=True)
class JsonService:
    """A JSON 1.1 service other than KMS: its model, its X-Amz-Target prefix and its entry point."""

    model: ServiceModel
    target_prefix: str
    service: QueryService


@dataclass
class Runtime:
    """Everything the app serves from, built once by the server (or a test)."""

    store: Store
    clock: Clock
    credentials: CredentialResolver
    kms: KmsService
    iam: IamService
    sts: StsService
    schema_version: int


# A NamedTuple, not a frozen dataclass: one is built per request, at a third of a frozen dataclass's cost.
class WireRequest(NamedTuple):
    """One request as read off the wire, nothing trusted yet: its protocol and the parts SigV4 covers."""

    method: str
    raw_path: str
    query_string: str
    header_map: Mapping[str, list[str]]  # header values by lower-case name, in arrival order (group_headers)
    body: bytes
    protocol: WireProtocol
    fields: Mapping[str, str]  # query-protocol parameters; empty for JSON


class KmsdApp:
    """The ASGI app over one :class:`Runtime`.

    Commits by another process or node (a deactivated access key, a changed
    key) are noticed within ``store_check_interval`` seconds (default
    ``STORE_CHANGE_CHECK_SECONDS``, 0.1 s): at most that often does a request
    ask the store whether someone else committed and drop the credential
    caches if so.  This process's own writes are seen by the very next
    request, and so is an access key or account created elsewhere, because an
    access key the caches do not know is always looked up in the store.
    ``kmsd serve --workers`` passes 0: every request asks, so a write answered
    by one worker is honoured by every worker's next request.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        max_body_bytes: int = MAX_BODY_BYTES,
        sweep_interval: float = 5.0,
        store_check_interval: float = STORE_CHANGE_CHECK_SECONDS,
        explain_denials: bool = False,
        trusted_proxy_header: str | None = None,
        trusted_service_header: str | None = None,
        trusted_proxy_hops: int = 1,
        regions: RegionPolicy | None = None,
        inline_body_bytes: int = INLINE_BODY_BYTES,
        worker_id: str | None = None,
        sweep_gate: Callable[[], bool] | None = None,
        observers: Sequence[CallObserver] = (),
        audit_trail: AuditTrail | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.runtime = runtime
        # The store's audit trail: its writer runs from startup to shutdown (which writes what it queued), and
        # the sweep applies its retention.
        self.audit_trail = audit_trail
        # They see every call once, before its answer is sent (kmsd.api.call_record).
        self.observers: list[CallObserver] = list(observers)
        # kmsd serve --workers N: every response names the process that answered (x-kmsd-worker), so that an
        # operator or a test can see requests spread across workers; one worker adds nothing.
        self._worker_headers: tuple[tuple[bytes, bytes], ...] = (
            ((b"x-kmsd-worker", worker_id.encode()),) if worker_id is not None else ()
        )
        # Whether this process runs the periodic sweep now (the store's background lease); None: always.
        self._sweep_gate = sweep_gate
        # kmsd serve --explain-denials: AccessDeniedException bodies carry the decision's trace (for callers
        # in the key's own account only, see _send_json_error).
        self.explain_denials = explain_denials
        # Headers set by a trusted front end (kmsd.api.forwarded); never trusted unless named.
        self.trusted_proxy_header = trusted_proxy_header.lower() if trusted_proxy_header else None
        self.trusted_service_header = trusted_service_header.lower() if trusted_service_header else None
        if trusted_proxy_hops < 1:
            raise ValueError("trusted_proxy_hops must be at least 1")
        self.trusted_proxy_hops = trusted_proxy_hops
        # kmsd serve --regions: the credential scope's region must be one of these, else any AWS region name.
        self.regions = regions if regions is not None else RegionPolicy()
        self.max_body_bytes = max_body_bytes
        self.inline_body_bytes = inline_body_bytes
        # Oversized calls (see INLINE_BODY_BYTES); threads start on first use.
        self._large_calls = concurrent.futures.ThreadPoolExecutor(LARGE_CALL_THREADS, "kmsd-large-call")
        # Everything that takes the store's writer lock.  One thread: SQLite has one writer anyway, and in
        # arrival order a request's access-key-use record is written before the next request is served.
        self._store_calls = concurrent.futures.ThreadPoolExecutor(1, "kmsd-store-call")
        self.sweep_interval = sweep_interval
        self.store_check_interval = store_check_interval
        self._next_store_check = 0.0  # time.monotonic() after which a request asks the store again
        self.kms_model = ServiceModel.load(KMS)
        self._kms_target_prefix = str(self.kms_model.metadata["targetPrefix"])
        self.query_codecs = {service: QueryCodec.load(service) for service in QUERY_SERVICES}
        self._query_services: dict[str, QueryService] = {"iam": runtime.iam, "sts": runtime.sts}
        cloudtrail_model = ServiceModel.load(CLOUDTRAIL)
        self._json_services: dict[str, JsonService] = {
            CLOUDTRAIL: JsonService(
                cloudtrail_model,
                str(cloudtrail_model.metadata["targetPrefix"]),
                CloudTrailService(runtime.store, runtime.clock),
            )
        }
        # Access-key last-use records (IAM's bookkeeping) are written on the store-call thread, queued
        # before the request's own store call.
        self.key_use = AccessKeyUse(runtime.store, self._store_calls.submit)
        # KMS keys' last-use records (GetKeyLastUsage) likewise, at most one write per key per minute.
        runtime.kms.record_usage_with(self._store_calls.submit)
        # ReplicateKey may only create a replica in a Region this server answers for.
        runtime.kms.serve_regions(self.regions.is_valid)
        # /metrics (kmsd.api.metrics); None: not served.  It counts every call, as an observer.
        # The operation names of each service served, from its model: the only operation names observers may use
        # as labels (a request's raw target or Action is the caller's to choose).
        self.operation_names: dict[str, frozenset[str]] = {KMS: frozenset(self.kms_model.operations)}
        for service, codec in self.query_codecs.items():
            self.operation_names[service] = frozenset(codec.model.operations)
        for service, json_service in self._json_services.items():
            self.operation_names[service] = frozenset(json_service.model.operations)
        self.metrics = metrics
        # Other apps served under a path of this one's port (the web console, kmsd.console): (prefix, app).
        self._mounts: list[tuple[str, AsgiApp]] = []
        if metrics is not None:
            metrics.attach(runtime.credentials, runtime.kms, runtime.store, self.operation_names)
            self.observers.append(metrics)

    def mount(self, prefix: str, app: AsgiApp) -> None:
        """Serve ``prefix`` and the paths under it with ``app`` (``/console``); the server composes them."""
        self._mounts.append((prefix, app))

    def target_prefix(self, service: str) -> str:
        """The X-Amz-Target prefix of a JSON 1.1 service served here (``kms``, ``cloudtrail``); KeyError otherwise."""
        if service == KMS:
            return self._kms_target_prefix
        return self._json_services[service].target_prefix

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
        if path == "/metrics" and scope["method"] in ("GET", "HEAD"):
            await self._metrics(scope, send)
            return
        for prefix, mounted in self._mounts:
            if path == prefix or path.startswith(prefix + "/"):
                await mounted(scope, receive, send)
                return
        await self._aws_request(scope, receive, send)

    # --- AWS APIs ---------------------------------------------------------------
    async def _aws_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A random UUID per request, as AWS's: a counter would reveal the server's request volume.
        request_id = new_request_id()
        header_map = _group_raw_headers(scope["headers"])
        method = scope["method"]
        protocol = _protocol_of(method, header_map)
        client = scope.get("client")
        record = CallRecord(
            request_id,
            self.runtime.clock.now(),
            time.perf_counter(),
            forwarded_source_ip(header_map, self.trusted_proxy_header, self.trusted_proxy_hops)
            or (client[0] if client else ""),
            _first_value(header_map, "user-agent") or "",
        )
        sink = scope.get(CALL_RECORD_SINK)
        if sink is not None:
            sink.append(record)
        body = await read_body(receive, self.max_body_bytes)
        if body is None:
            too_large = AwsError(
                "RequestEntityTooLargeException",
                f"Request body exceeds the maximum of {self.max_body_bytes} bytes.",
                413,
            )
            await self._refuse(send, record, too_large, protocol, self._codec_for({}))
            return
        query_string = scope.get("query_string", b"").decode("utf-8", "surrogateescape")
        fields: Mapping[str, str] = {}
        if protocol == "query":
            try:
                fields = read_fields(query_string, body)
            except AwsError as error:
                await self._refuse(send, record, error, protocol, self._codec_for({}))
                return
        request = WireRequest(
            method=method,
            raw_path=scope.get("raw_path", b"/").decode("utf-8", "surrogateescape").split("?", 1)[0],
            query_string=query_string,
            header_map=header_map,
            body=body,
            protocol=protocol,
            fields=fields,
        )
        try:
            caller, service = self._authenticate(scope, request, record)
        except AwsError as error:
            await self._refuse(send, record, error, protocol, self._codec_for(fields))
            return
        record.service = service
        record.caller = caller
        large = len(body) > self.inline_body_bytes
        if service == KMS:
            try:
                via = via_service(header_map, self.trusted_service_header)
            except AwsError as error:
                await self._refuse(send, record, error, protocol, self._codec_for(fields))
                return
            target = _first_value(header_map, "x-amz-target")
            await self._kms(send, record, target, body, via, large=large)
        elif service in self._json_services:
            await self._json(send, record, self._json_services[service], _first_value(header_map, "x-amz-target"), body)
        else:
            await self._query(send, record, fields, large=large)

    def _authenticate(self, scope: Scope, request: WireRequest, record: CallRecord) -> tuple[Caller, str]:
        runtime = self.runtime
        # A commit from another process (a changed key, a deactivated access key) is seen within
        # store_check_interval seconds: the check is throttled (see STORE_CHANGE_CHECK_SECONDS).  An access
        # key created elsewhere works at once all the same, because an unknown key is always looked up.
        now = time.monotonic()
        if now >= self._next_store_check:
            self._next_store_check = now + self.store_check_interval
            # Only tries the writer lock: a call holding it runs on the store-call thread, not here.
            if runtime.store.changed_since_last_check(wait=False):
                runtime.credentials.invalidate()
                runtime.kms.invalidate_caches()
        try:
            signed = parse_grouped_request(request.method, request.raw_path, request.query_string, request.header_map)
            self._check_scope_service(signed, request)
            # The region enters every ARN kmsd builds: only a region name may (issue 9, item 6).
            self.regions.check(signed.region)
            resolved = runtime.credentials.resolve(signed.access_key_id, signed.security_token)
            if resolved is None:
                raise unknown_access_key()
            verified_at = None
            if resolved.secret_access_key is not None:
                verified_at = runtime.clock.now()
                # The derived signing keys live with the credential, and go when the resolver forgets it.
                verify_at(signed, resolved.secret_access_key, request.body, verified_at, resolved.signing_keys)
        except SigV4Error as failure:
            raise to_aws_error(failure, request.protocol) from None
        except SessionExpired:
            raise to_aws_error(expired_session_token(), request.protocol) from None
        if verified_at is not None:
            self.key_use.note(signed.access_key_id, signed.service, signed.region, verified_at)
        caller = _caller(
            resolved.principal,
            signed.region,
            record.request_id,
            record.source_ip,
            scope.get("scheme") == "https",
            record.user_agent,
        )
        return caller, signed.service

    def _check_scope_service(self, signed: SignedRequest, request: WireRequest) -> None:
        """The credential scope must name the service the request is for, as each AWS endpoint requires.

        JSON 1.1 requests are KMS's or CloudTrail's, query requests IAM's or STS's,
        whichever the scope names.  Anything else gets the message AWS endpoints
        give, e.g. "Credential should be scoped to correct service: 'kms'. " (a
        signature error), naming the service the X-Amz-Target header is for.
        """
        if request.protocol == "json":
            if signed.service == KMS or signed.service in self._json_services:
                return
            expected = self._json_service_for(_first_value(request.header_map, "x-amz-target"))
        elif signed.service in QUERY_SERVICES:
            return
        else:
            expected = self._query_service_for(request.fields)
        if signed.service != expected:
            raise SigV4Error("signature", f"Credential should be scoped to correct service: '{expected}'. ")

    def _json_service_for(self, target: str | None) -> str:
        """Which JSON service a request meant, from its X-Amz-Target alone (for errors before the scope is trusted)."""
        prefix = (target or "").rpartition(".")[0]
        for name, json_service in self._json_services.items():
            if prefix == json_service.target_prefix:
                return name
        return KMS

    def _query_service_for(self, fields: Mapping[str, str]) -> str:
        """Which query service a request meant, from its Action alone (for errors before the scope is trusted)."""
        if fields.get("Action") in self.query_codecs["sts"].model.operations:
            return "sts"
        return "iam"

    def _codec_for(self, fields: Mapping[str, str]) -> QueryCodec:
        return self.query_codecs[self._query_service_for(fields)]

    async def _refuse(
        self, send: Send, record: CallRecord, error: AwsError, protocol: WireProtocol, codec: QueryCodec
    ) -> None:
        """Answer a request refused before it reached a service, once the observers have seen it."""
        record.error = error
        self._finish(record)
        await self._send_error(send, error, protocol, codec, record.request_id)

    def _finish(self, record: CallRecord) -> None:
        """Show the finished call to every observer (on the thread that ran it), before its answer is sent."""
        for observer in self.observers:
            try:
                observer.call_finished(record)
            except Exception:
                # An observer's failure must not change the answer of a call that has already happened.
                log.exception("observer %s failed on request %s", type(observer).__name__, record.request_id)

    async def _kms(
        self,
        send: Send,
        record: CallRecord,
        target: str | None,
        body: bytes,
        via_service: str | None = None,
        *,
        large: bool = False,
    ) -> None:
        call = functools.partial(self._kms_call, record, target, body, via_service)
        if large:
            payload = await self._on(self._large_calls, call)
        elif target is not None and self.runtime.kms.writes(target.rpartition(".")[2]):
            payload = await self._on(self._store_calls, call)
        else:
            try:
                payload = self._kms_call(record, target, body, via_service, inline=True)
            except TokenCallOffLoop:
                # The call would wait for an HSM token (a custom key store's key): not on the loop.
                record.notes = CallNotes()
                payload = await self._on(self._large_calls, call)
        if record.error is not None:
            caller = record.caller
            await self._send_json_error(
                send, record.error, record.request_id, caller.principal.account_id if caller is not None else None
            )
            return
        await _send(send, 200, json_protocol.CONTENT_TYPE, payload, record.request_id, self._worker_headers)

    def _kms_call(
        self, record: CallRecord, target: str | None, body: bytes, via_service: str | None, *, inline: bool = False
    ) -> bytes:
        """Decode, validate, run and encode one KMS call (the part of a request that may take long), then show it
        to the observers; on a refusal, ``record.error`` is set and the payload is empty.

        ``inline``: the call runs on the event loop, and raises TokenCallOffLoop rather than wait for an HSM.
        """
        caller = record.caller
        assert caller is not None  # set once SigV4 verified, before any service call
        try:
            with collecting(record.notes):
                operation = json_protocol.operation_from_target(target, self._kms_target_prefix)
                record.operation = operation
                if operation not in self.kms_model.operations:
                    raise AwsError("UnknownOperationException", "")
                if operation not in self.runtime.kms.operations:
                    raise AwsError("UnsupportedOperationException", f"kmsd does not support {operation} yet.")
                record.writes = self.runtime.kms.writes(operation)
                params = self.kms_model.parse_request(operation, json_protocol.decode_body(body))
                record.params = params
                result = self.runtime.kms.call(operation, params, caller, via_service=via_service, inline=inline)
                record.result = result
                payload = json_protocol.encode_result(self.kms_model.serialize_response(operation, result))
        except TokenCallOffLoop:
            raise
        except AwsError as error:
            record.error = error
            payload = b""
        except Exception:
            # The exception may carry secrets in its arguments: log the type and traceback location only.
            log.exception("internal error in %s (request %s)", target, record.request_id)
            record.error = AwsError("KMSInternalException", "", 500)
            payload = b""
        self._finish(record)
        return payload

    @staticmethod
    async def _on(threads: concurrent.futures.Executor, call: Callable[[], bytes]) -> bytes:
        """``call()`` on one of ``threads``, while the event loop serves other requests."""
        return await asyncio.get_running_loop().run_in_executor(threads, call)

    async def _json(
        self, send: Send, record: CallRecord, json_service: JsonService, target: str | None, body: bytes
    ) -> None:
        """A call to a JSON 1.1 service other than KMS (CloudTrail's LookupEvents), on a large-call thread: a read
        that may scan many rows, which must not hold the event loop."""
        call = functools.partial(self._json_call, record, json_service, target, body)
        payload = await self._on(self._large_calls, call)
        if record.error is not None:
            await self._send_json_error(send, record.error, record.request_id)
            return
        await _send(send, 200, json_protocol.CONTENT_TYPE, payload, record.request_id, self._worker_headers)

    def _json_call(self, record: CallRecord, json_service: JsonService, target: str | None, body: bytes) -> bytes:
        """Decode, validate, run and encode one call of ``json_service``, then show it to the observers."""
        caller = record.caller
        assert caller is not None  # set once SigV4 verified, before any service call
        model, service = json_service.model, json_service.service
        try:
            with collecting(record.notes):
                operation = json_protocol.operation_from_target(target, json_service.target_prefix)
                record.operation = operation
                if operation not in model.operations:
                    raise AwsError("UnknownOperationException", "")
                if operation not in service.operations:
                    raise AwsError("UnsupportedOperationException", f"kmsd does not support {operation} yet.")
                record.writes = service.writes(operation)
                params = model.parse_request(operation, json_protocol.decode_body(body))
                record.params = params
                result = service.call(operation, params, caller)
                record.result = result
                payload = json_protocol.encode_result(model.serialize_response(operation, result))
        except AwsError as error:
            record.error = error
            payload = b""
        except Exception:
            log.exception("internal error in %s %s (request %s)", record.service, record.operation, record.request_id)
            record.error = AwsError("InternalFailure", "", 500)
            payload = b""
        self._finish(record)
        return payload

    async def _query(self, send: Send, record: CallRecord, fields: Mapping[str, str], *, large: bool = False) -> None:
        codec = self.query_codecs[record.service]
        service = self._query_services[record.service]
        call = functools.partial(self._query_call, codec, service, fields, record)
        payload = await self._on(self._large_calls if large else self._store_calls, call)
        if record.error is not None:
            await self._send_error(send, record.error, "query", codec, record.request_id)
            return
        await _send(send, 200, query_protocol.CONTENT_TYPE, payload, record.request_id, self._worker_headers)

    def _query_call(
        self, codec: QueryCodec, service: QueryService, fields: Mapping[str, str], record: CallRecord
    ) -> bytes:
        """Decode, run and encode one IAM or STS call, then show it to the observers; on a refusal,
        ``record.error`` is set and the payload is empty."""
        caller = record.caller
        assert caller is not None  # set once SigV4 verified, before any service call
        record.operation = fields.get("Action")
        try:
            with collecting(record.notes):
                operation = codec.operation(fields)
                record.operation = operation
                if operation not in service.operations:
                    raise AwsError("UnsupportedOperation", f"kmsd does not support {operation} yet.")
                record.writes = service.writes(operation)
                params = codec.decode(operation, fields)
                record.params = params
                result = service.call(operation, params, caller)
                record.result = result
                payload = codec.encode_result(operation, result, record.request_id)
        except AwsError as error:
            record.error = error
            payload = b""
        except Exception:
            # The exception may carry secrets in its arguments: log the type and traceback location only.
            log.exception("internal error in %s %s (request %s)", record.service, record.operation, record.request_id)
            # IAM models its own 500 (ServiceFailure); STS answers the common InternalFailure.
            record.error = AwsError(
                "ServiceFailure" if record.service == "iam" else "InternalFailure",
                "The request processing has failed because of an unknown error, exception or failure.",
                500,
            )
            payload = b""
        self._finish(record)
        return payload

    async def _send_error(
        self, send: Send, error: AwsError, protocol: WireProtocol, codec: QueryCodec, request_id: str
    ) -> None:
        if protocol == "json":
            await self._send_json_error(send, error, request_id)
        else:
            payload = codec.encode_error(error, request_id)
            await _send(send, error.status, query_protocol.CONTENT_TYPE, payload, request_id, self._worker_headers)

    async def _send_json_error(
        self, send: Send, error: AwsError, request_id: str, caller_account: str | None = None
    ) -> None:
        payload = json_protocol.encode_error(error)
        extra = self._worker_headers
        if self.explain_denials and caller_account is not None and isinstance(error, AccessDeniedError):
            # Only a caller in the account that owns the key sees its policies and grants (issue 9, item 14).
            payload, explanation = _with_explanation(payload, error, caller_account)
            extra = extra + explanation
        await _send(send, error.status, json_protocol.CONTENT_TYPE, payload, request_id, extra)

    # --- other routes -----------------------------------------------------------
    async def _health(self, send: Send) -> None:
        store_ok = self.runtime.store.ping()
        body = {
            "status": "ok" if store_ok else "degraded",
            "store": "reachable" if store_ok else "unreachable",
            "schema_version": self.runtime.schema_version,
        }
        await _send(
            send, 200 if store_ok else 503, b"application/json", json.dumps(body).encode(), None, self._worker_headers
        )

    async def _metrics(self, scope: Scope, send: Send) -> None:
        metrics = self.metrics
        if metrics is None:
            await _send(send, 404, b"text/plain; charset=utf-8", b"not found\n", None, self._worker_headers)
            return
        header_map = _group_raw_headers(scope["headers"])
        if not metrics.authorized(_first_value(header_map, "authorization")):
            challenge = ((b"www-authenticate", b'Bearer realm="kmsd metrics"'), *self._worker_headers)
            await _send(send, 401, b"text/plain; charset=utf-8", b"unauthorized\n", None, challenge)
            return
        # Off the loop: under --workers the page adds up every worker's files.
        page, content_type = await asyncio.get_running_loop().run_in_executor(
            None, metrics.page, _first_value(header_map, "accept")
        )
        await _send(send, 200, content_type.encode(), page, None, self._worker_headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        background: list[asyncio.Task[None]] = []
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.audit_trail is not None:
                    self.audit_trail.start()
                background.append(asyncio.create_task(self._sweep_forever()))
                if self.metrics is not None and self.metrics.multiprocess_dir is not None:
                    background.append(asyncio.create_task(self._publish_metrics_forever(self.metrics)))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in background:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                # A call already running finishes (and commits or rolls back) on its thread; none starts now.
                self._large_calls.shutdown(wait=False, cancel_futures=True)
                self._store_calls.shutdown(wait=False, cancel_futures=True)
                if self.audit_trail is not None:
                    # The read-only calls' queued events are written before the process goes.
                    await asyncio.get_running_loop().run_in_executor(None, self.audit_trail.close)
                if self.metrics is not None:
                    self.metrics.stopped()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    async def _publish_metrics_forever(metrics: Metrics) -> None:
        """Under --workers: this worker's plain counters reach the shared files even when it is not the one scraped."""
        while True:
            await asyncio.sleep(PUBLISH_SECONDS)
            try:
                metrics.publish()
            except Exception:
                log.exception("publishing the metrics failed; retrying in %s s", PUBLISH_SECONDS)

    async def _sweep_forever(self) -> None:
        """End deletion windows, expire imported material and sessions, and run due rotations, even for keys and
        sessions nobody asks about."""
        while True:
            await asyncio.sleep(self.sweep_interval)
            try:
                await asyncio.get_running_loop().run_in_executor(self._store_calls, self._sweep_once)
            except Exception:
                log.exception("periodic sweep failed; retrying in %s s", self.sweep_interval)

    def _sweep_once(self) -> None:
        """One sweep, on the store-call thread (taking the lease may reach the database)."""
        # With several processes or nodes, the holder of the store's background lease sweeps (the sweep's purges
        # are not safe to run twice at once); the others still drop the material of keys purged elsewhere, so
        # an idle process keeps none.
        kms = self.runtime.kms
        if self._sweep_gate is None or self._sweep_gate():
            kms.sweep()
            self.runtime.sts.sweep()
            if self.audit_trail is not None:
                self.audit_trail.sweep()
        else:
            kms.drop_purged_material()


def _protocol_of(method: str, header_map: Mapping[str, list[str]]) -> WireProtocol:
    """JSON 1.1 when the request says so (target header, JSON content type); a form body or a GET is query."""
    if "x-amz-target" in header_map:
        return "json"
    content_type = (_first_value(header_map, "content-type") or "").lower()
    if content_type.startswith(FORM_CONTENT_TYPE) or (method == "GET" and not content_type):
        return "query"
    return "json"


def _with_explanation(
    payload: bytes, error: AccessDeniedError, caller_account: str
) -> tuple[bytes, tuple[tuple[bytes, bytes], ...]]:
    """The AccessDenied body with the decision's trace as one more member, and its summary as a header.

    AWS SDKs drop unknown body members, so the summary also travels in ``x-kmsd-explanation``, which boto3
    keeps in ResponseMetadata.  Unchanged, AWS's plain error, when the trace covers a resource of another
    account than the caller's.
    """
    explanation = error.explanation_for(caller_account)
    if explanation is None:
        return payload, ()
    body = json.loads(payload)
    body[EXPLANATION_MEMBER] = explanation
    header = (explanation_header.HEADER, explanation_header.summary(explanation).encode("ascii"))
    return json.dumps(body, separators=(",", ":")).encode("utf-8"), (header,)


# _caller stores exactly these fields: a field added to Caller must be added there too.
_CALLER_FIELDS = ("principal", "region", "request_id", "source_ip", "secure_transport", "user_agent")
if tuple(field.name for field in dataclasses.fields(Caller)) != _CALLER_FIELDS:
    raise ImportError("kmsd.api.app._caller does not set every field of Caller")


def _caller(
    principal: Principal, region: str, request_id: str, source_ip: str, secure_transport: bool, user_agent: str
) -> Caller:
    """``Caller(...)`` with every field given, stored straight into the instance dictionary.

    A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``; one Caller is
    built per request, so its fields are stored directly, as :class:`~kmsd.policy.PrincipalInfo` does.
    """
    caller = object.__new__(Caller)
    fields = caller.__dict__
    fields["principal"] = principal
    fields["region"] = region
    fields["request_id"] = request_id
    fields["source_ip"] = source_ip
    fields["secure_transport"] = secure_transport
    fields["user_agent"] = user_agent
    return caller


def _first_value(header_map: Mapping[str, list[str]], name: str) -> str | None:
    """The first value of the header ``name`` (lower case) in arrival order, in one lookup."""
    values = header_map.get(name)
    return values[0] if values else None


def _group_raw_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, list[str]]:
    """:func:`~kmsd.api.sigv4.parse.group_headers` of the ASGI scope's byte pairs, decoded in the same pass.

    HTTP/1.1 header bytes are ISO-8859-1 (RFC 9110, "Field Values"); one loop instead of a decoded
    copy of the list followed by the grouping saves a list and a pass on every request.
    """
    grouped: dict[str, list[str]] = {}
    for raw_name, raw_value in raw:
        name = raw_name.decode("latin-1").lower()
        values = grouped.get(name)
        if values is None:
            grouped[name] = [raw_value.decode("latin-1")]
        else:
            values.append(raw_value.decode("latin-1"))
    return grouped


async def read_body(receive: Receive, limit: int) -> bytes | None:
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


async def _send(
    send: Send,
    status: int,
    content_type: bytes,
    body: bytes,
    request_id: str | None,
    extra_headers: Sequence[tuple[bytes, bytes]] = (),
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if request_id is not None:
        headers.append((b"x-amzn-requestid", request_id.encode()))
    headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
