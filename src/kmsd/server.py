"""The composition root: build a :class:`Runtime` from a store URL and run it on uvicorn.

This is the one place that chooses concrete parts — the store behind the URL,
the root key (``KMSD_ROOT_KEY``, or a 0600 file beside the data), the system
clock and randomness — and hands them to the services.  Tests build the same
runtime with a manual clock and seeded randomness instead.

uvicorn (with uvloop and httptools) was measured against granian on the
Encrypt benchmark in ``bench/``; the README's performance section has the
numbers and the reason for the choice.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from kmsd.api.app import KmsdApp, Runtime
from kmsd.api.metrics import Metrics
from kmsd.api.regions import RegionPolicy
from kmsd.api.request_log import LogFormat, RequestLog, configure_logging
from kmsd.api.shapes import ServiceModel
from kmsd.audit.call_record import CallObserver
from kmsd.audit.chain import ChainSeal
from kmsd.audit.event import AuditSink
from kmsd.audit.fan_out import FanOut
from kmsd.audit.file_sink import FileSink
from kmsd.audit.observer import AuditObserver
from kmsd.audit.redaction import Redactor
from kmsd.audit.trail import AuditTrail
from kmsd.authz.simulation import KmsKeySimulator
from kmsd.clock import Clock, SystemClock
from kmsd.console.app import PREFIX as CONSOLE_PREFIX
from kmsd.console.app import ConsoleApp
from kmsd.crypto import RandomSource, RootKey, SystemRandomSource
from kmsd.crypto.attestation import TrustRoot
from kmsd.hsm import Pkcs11Module, TokenDirectory
from kmsd.iam.accounts import AccountDirectory, RootCredentials
from kmsd.iam.credentials import CredentialResolver
from kmsd.iam.service import IamService
from kmsd.iam.sts import StsService
from kmsd.kms.service import KmsService
from kmsd.root_binding import open_root_key
from kmsd.store.base import Store
from kmsd.store.urls import open_store, redacted, sqlite_path

if TYPE_CHECKING:
    import uvicorn


def data_dir_for(store_url: str) -> Path:
    """Where the root key file lives: beside a SQLite database, else ``./.kmsd``."""
    if store_url.startswith("sqlite:"):
        return sqlite_path(store_url).parent
    return Path(".kmsd")


def load_root_key(store: Store, store_url: str) -> RootKey:
    """``KMSD_ROOT_KEY`` or the root-key file, refused (RootKeyError) unless it is the store's own root key."""
    return open_root_key(store, data_dir_for(store_url), os.environ)


@dataclass
class Parts:
    store: Store
    root_key: RootKey
    clock: Clock
    rng: RandomSource
    accounts: AccountDirectory


def open_parts(
    store_url: str, *, clock: Clock | None = None, rng: RandomSource | None = None, local_commits: Path | None = None
) -> Parts:
    """The store (``local_commits``: see :func:`kmsd.store.urls.open_store`), its root key, the account directory."""
    store = open_store(store_url, local_commits=local_commits)
    try:
        root_key = load_root_key(store, store_url)
    except BaseException:
        store.close()
        raise
    clock = clock or SystemClock()
    rng = rng or SystemRandomSource()
    return Parts(store, root_key, clock, rng, AccountDirectory(store, root_key, clock, rng))


def build_runtime(
    parts: Parts, *, dev: bool = False, pkcs11_module: str | None = None, attestation_root: TrustRoot | None = None
) -> Runtime:
    """The services over ``parts``; ``pkcs11_module`` is the PKCS#11 library of custom key stores, if any, and
    ``attestation_root`` the root of Recipient's attestation documents (AWS's Nitro Enclaves root if None)."""
    credentials = CredentialResolver(parts.store, parts.root_key, parts.accounts, dev=dev, clock=parts.clock)
    # The policy simulator decides KMS key permissions with the live authorizer (iam/ cannot import authz/).
    key_simulator = KmsKeySimulator(parts.store, parts.clock)
    iam = IamService(parts.store, parts.root_key, parts.clock, parts.rng, key_simulator)
    # An inactive or deleted key, a deleted user, changed tags: the very next request must see it.
    iam.add_write_listener(credentials.invalidate)
    tokens = TokenDirectory(Pkcs11Module(pkcs11_module) if pkcs11_module is not None else None)
    kms = KmsService(
        parts.store, parts.root_key, parts.clock, parts.rng, tokens=tokens, attestation_root=attestation_root
    )
    # A deleted user or role: the grants KMS caches now name its unique id (store.sqlite_principal_references).
    iam.add_write_listener(kms.invalidate_caches)
    return Runtime(
        store=parts.store,
        clock=parts.clock,
        credentials=credentials,
        kms=kms,
        iam=iam,
        sts=StsService(parts.store, parts.root_key, parts.clock, parts.rng),
        schema_version=parts.store.schema_version(),
    )


def console_line(host: str, port: int) -> str:
    """Where the web console is, for the startup output (a wildcard address is reached as the local host)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else f"[{host}]" if ":" in host else host
    return f"kmsd: web console on http://{shown}:{port}{CONSOLE_PREFIX}/"


def announce_default_account(credentials: RootCredentials) -> None:
    print(
        f"kmsd: created the default account {credentials.account_id}. "
        "Its root credentials are shown only this once:\n"
        f"  AWS_ACCESS_KEY_ID={credentials.access_key_id}\n"
        f"  AWS_SECRET_ACCESS_KEY={credentials.secret_access_key}",
        flush=True,
    )


@dataclass(frozen=True)
class RequestOptions:
    """How the server treats requests beyond the store and credentials (``kmsd serve`` options).

    ``explain_denials`` puts the trace of each AccessDenied decision in its JSON body
    (``kmsdExplanation``), for callers in the key's own account.  ``trusted_proxy_header`` names a
    header (``X-Forwarded-For``) whose ``trusted_proxy_hops``-th address from the right is the
    caller's ``aws:SourceIp``; ``trusted_service_header`` names a header whose value
    (``ec2.us-east-1.amazonaws.com``) is ``kms:ViaService``.  Name a header only when a front end you
    control sets it and strips it from client requests: a client that can set it chooses those keys.
    """

    explain_denials: bool = False
    trusted_proxy_header: str | None = None
    trusted_service_header: str | None = None
    # How many proxies in front of kmsd append to trusted_proxy_header: the address is the hops-th from the right.
    trusted_proxy_hops: int = 1
    # The regions a request may be signed for; None: any AWS region name (kmsd.api.regions).
    regions: tuple[str, ...] | None = None
    # The PKCS#11 library whose tokens back AWS_CLOUDHSM custom key stores; None: no custom key stores.
    pkcs11_module: str | None = None
    # Audit events older than this are deleted (CloudTrail's event history keeps 90 days).
    audit_retention_days: int = 90
    # A file the audit events are also appended to, as JSON lines (kmsd.audit.file_sink); None: none.
    audit_file: str | None = None
    # /metrics (kmsd.api.metrics): served or not, and the file holding the bearer token a scrape must present.
    metrics: bool = True
    metrics_token_file: str | None = None
    # Every log line of the process (kmsd.api.request_log): its format, and the level from which lines are written;
    # "info" adds one line per request.
    log_format: LogFormat = "text"
    log_level: str = "warning"


class ListenError(Exception):
    """The server's address cannot be bound (a port in use, a host that is not this machine's)."""


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, or :class:`ListenError` in one line.

    ``kmsd serve`` binds before it creates the default account or says it is serving, so a second server on a
    busy port neither prints credentials it will not serve nor claims to serve.  SO_REUSEADDR only lets a
    restart take over a port whose old connections are in TIME_WAIT; a port someone listens on stays refused.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise ListenError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        sock.close()
        reason = "the address is already in use (another kmsd?)" if error.errno == errno.EADDRINUSE else error.strerror
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def bind_and_open(host: str, port: int, store_url: str) -> tuple[socket.socket, Parts]:
    """Bind the port, open (migrating) the store and print the default account's credentials if this start
    created it: in this order, so that a second server on a busy port neither prints credentials it will not
    serve nor claims to serve."""
    sock = listen(host, port)
    try:
        parts = open_parts(store_url)
    except BaseException:
        sock.close()
        raise
    first_start = parts.accounts.initialise_default()
    if first_start is not None:
        announce_default_account(first_start)
    return sock, parts


def read_metrics_token(path: str) -> str:
    """The bearer token in the file ``path`` (surrounding whitespace dropped); OptionError if unreadable or empty."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise OptionError(f"--metrics-token-file {path}: {reason}") from None
    if not token:
        raise OptionError(f"--metrics-token-file {path}: the file is empty")
    return token


class OptionError(Exception):
    """A ``kmsd serve`` option names something unusable (an unreadable file); one line for the user."""


def serve(
    host: str,
    port: int,
    store_url: str,
    *,
    dev: bool = False,
    options: RequestOptions | None = None,
    attestation_root: TrustRoot | None = None,
) -> None:
    import uvicorn

    options = options or RequestOptions()
    configure_logging(options.log_format, options.log_level)
    sock, parts = bind_and_open(host, port, store_url)
    app = build_app(parts, dev, options, attestation_root)
    mode = " (--dev: development credentials accepted)" if dev else ""
    print(f"kmsd: serving KMS, IAM and STS on http://{host}:{port} with store {redacted(store_url)}{mode}", flush=True)
    print(console_line(host, port), flush=True)
    server = uvicorn.Server(uvicorn_config(app, log_level=options.log_level))
    # uvicorn stops gracefully on SIGTERM (no new connection; the calls in flight finish), then raises the signal
    # again under the handler it found: with this one, a SIGTERM stop is a clean exit (status 0), not a death.
    previous = signal.signal(signal.SIGTERM, _stopped_by_sigterm)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stopped_by_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM after uvicorn's graceful shutdown: nothing is left to do."""


def build_app(
    parts: Parts,
    dev: bool,
    options: RequestOptions,
    attestation_root: TrustRoot | None,
    *,
    metrics_dir: str | None = None,
    app_class: type[KmsdApp] = KmsdApp,
    **more: Any,
) -> KmsdApp:
    """The app ``kmsd serve`` runs on ``parts``, from its options; ``metrics_dir`` is the directory the workers'
    metrics share (kmsd.api.metrics), and ``more`` adds the workers' other settings (kmsd.workers).  ``app_class``
    is KmsdApp, or a benchmark's cut of it (bench/stage_app.py), built the same way."""
    more.setdefault("store_check_interval", parts.store.change_check_interval)
    # The sweep runs in the one process of the service that holds the store's background lease.
    more.setdefault("sweep_gate", parts.store.try_hold_background_lease)
    trail = more.setdefault("audit_trail", build_audit_trail(parts, options))
    if options.metrics:
        token = read_metrics_token(options.metrics_token_file) if options.metrics_token_file is not None else None
        more["metrics"] = Metrics(token=token, multiprocess_dir=metrics_dir)
    app = app_class(
        build_runtime(parts, dev=dev, pkcs11_module=options.pkcs11_module, attestation_root=attestation_root),
        observers=call_observers(audit_sinks(trail, options)),
        explain_denials=options.explain_denials,
        trusted_proxy_header=options.trusted_proxy_header,
        trusted_service_header=options.trusted_service_header,
        trusted_proxy_hops=options.trusted_proxy_hops,
        regions=RegionPolicy(options.regions) if options.regions is not None else None,
        **more,
    )
    app.observers.append(RequestLog(app.operation_names))
    app.mount(CONSOLE_PREFIX, ConsoleApp(app, parts.root_key))
    if app.metrics is not None and app.audit_trail is not None:
        app.metrics.add_gauge_source(
            "kmsd_audit_queue_depth",
            "Audit events of read-only calls queued for the store, not yet written",
            app.audit_trail.queue_depth,
        )
    return app


def build_audit_trail(parts: Parts, options: RequestOptions) -> AuditTrail:
    """The store's audit trail, its hash chain sealed with a key derived from the root key."""
    return AuditTrail(
        parts.store,
        ChainSeal(parts.root_key.audit_chain_key()),
        parts.clock,
        retention=timedelta(days=options.audit_retention_days),
    )


def audit_sinks(trail: AuditTrail | None, options: RequestOptions) -> list[AuditSink]:
    """Where the audit events go: every sink gets every event (kmsd.audit.fan_out), in this order."""
    sinks: list[AuditSink] = []
    # The store's trail (LookupEvents, kmsd audit) first: a durable event is in the trail before the file.
    if trail is not None:
        sinks.append(trail)
    if options.audit_file is not None:
        sinks.append(FileSink(Path(options.audit_file)))
    return sinks


def call_observers(sinks: list[AuditSink]) -> list[CallObserver]:
    """The app's observers of calls: the audit trail, when some sink keeps its events."""
    if not sinks:
        return []
    redactors = {service: audit_redactor(service) for service in AUDITED_SERVICES}
    return [AuditObserver(sinks[0] if len(sinks) == 1 else FanOut(sinks), redactors)]


# The services whose calls the audit trail records with their parameters, by their name in the SigV4 scope.
AUDITED_SERVICES = ("kms", "iam", "sts", "cloudtrail")


def audit_redactor(service: str) -> Redactor:
    """What of ``service``'s parameters and answers an audit record may hold, from its model."""
    model = ServiceModel.load(service)
    return Redactor(service, model.operations, model.shapes)


def uvicorn_config(app: KmsdApp | str, *, log_level: str = "warning", **more: Any) -> uvicorn.Config:
    """The uvicorn settings of ``kmsd serve``; ``more`` adds the workers' (kmsd.workers)."""
    import uvicorn

    return uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        # kmsd's request log (kmsd.api.request_log) replaces uvicorn's access log.
        access_log=False,
        # uvicorn's own lines go to the root logger, in kmsd's format (configure_logging), at kmsd's level.
        log_config=None,
        log_level=log_level,
        server_header=False,
        # uvicorn would otherwise take the client address from X-Forwarded-For when the peer is 127.0.0.1;
        # aws:SourceIp must be the TCP peer unless the operator names a header (--trusted-proxy-header).
        proxy_headers=False,
        **more,
    )
