"""``kmsd serve --workers N``: N processes on one port, over one store and one root key.

The parent binds the port, opens the store once (migrating it and creating the default account, whose
credentials it prints once), then hands the socket to uvicorn's process supervisor, which spawns the workers
and starts a new one when one dies (``kill -9`` included).  Each worker builds its own runtime from the same
store URL and root key; the settings travel in one environment variable because the workers are spawned, not
forked, and import the app by name (:func:`worker_app`).

Why this is enough for read-your-writes across workers: every write commits to the one SQLite file before its
answer is sent, and a worker asks the store on every request whether anyone committed since its previous
request (``PRAGMA data_version``, see :meth:`kmsd.store.sqlite.store.SqliteStore.changed_since_last_check`),
dropping its caches if so.  A commit is in the WAL file before the answer, so a killed worker loses nothing
it acknowledged, and SQLite releases a dead process's locks.

With PostgreSQL, each worker is a node of its own to the store: it hears the others' commits by LISTEN/NOTIFY
(:mod:`kmsd.store.postgres.notifications`), within milliseconds rather than on the next request.

The periodic sweep runs in one process of the service at a time, the holder of the store's background lease
(:meth:`kmsd.store.base.Store.try_hold_background_lease`): purging a key is not safe to run twice at once.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from uvicorn.supervisors import Multiprocess

from kmsd.api.app import KmsdApp
from kmsd.api.request_log import configure_logging
from kmsd.crypto.attestation import TrustRoot
from kmsd.server import RequestOptions, bind_and_open, build_app, console_line, open_parts, uvicorn_config
from kmsd.store.local_commits import create_counter_file
from kmsd.store.urls import redacted

# The settings of the workers, set by the parent before it spawns them (JSON).
SETTINGS_VARIABLE = "KMSD_WORKER_SETTINGS"
# The directory where the workers' metrics meet (prometheus-client's multiprocess mode, kmsd.api.metrics): the
# parent makes an empty one for this server and sets it before the workers import prometheus-client.
METRICS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker needs to build the same app as the others (see :func:`kmsd.server.serve`)."""

    store_url: str
    dev: bool
    options: dict[str, object]  # kmsd.server.RequestOptions, as asdict() gives it
    attestation_root_pem: str | None  # base64 of the PEM, None for AWS's Nitro root
    local_commits: str | None  # the commit counter file of a PostgreSQL store (kmsd.store.local_commits)

    def to_environment(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> WorkerSettings:
        return cls(**json.loads(os.environ[SETTINGS_VARIABLE]))


def settings_for(
    store_url: str,
    dev: bool,
    options: dict[str, object],
    attestation_root: TrustRoot | None,
    local_commits: Path | None,
) -> WorkerSettings:
    pem = None
    if attestation_root is not None:
        pem = base64.b64encode(attestation_root.certificate.public_bytes(Encoding.PEM)).decode()
    return WorkerSettings(store_url, dev, options, pem, None if local_commits is None else str(local_commits))


def worker_app() -> KmsdApp:
    """The app of one worker (uvicorn's factory, called in each spawned process)."""
    settings = WorkerSettings.from_environment()
    fields = dict(settings.options)
    if fields.get("regions") is not None:
        fields["regions"] = tuple(fields["regions"])  # type: ignore[arg-type]  # a JSON list
    options = RequestOptions(**fields)  # type: ignore[arg-type]
    attestation_root = None
    if settings.attestation_root_pem is not None:
        attestation_root = TrustRoot.from_pem(base64.b64decode(settings.attestation_root_pem))
    local_commits = None if settings.local_commits is None else Path(settings.local_commits)
    configure_logging(options.log_format, options.log_level)
    return build_app(
        open_parts(settings.store_url, local_commits=local_commits),
        settings.dev,
        options,
        attestation_root,
        # Every request asks the store whether another worker committed: read-your-writes across workers.
        store_check_interval=0.0,
        worker_id=str(os.getpid()),
        metrics_dir=os.environ.get(METRICS_DIR_VARIABLE),
    )


class Supervisor(Multiprocess):
    """uvicorn's supervisor, which also closes its own copy of the listening socket when it stops the workers.

    On SIGTERM or SIGINT each worker stops accepting, finishes the calls in flight and exits; but the kernel
    keeps completing connections on a listening socket while any process holds it open, and the parent holds
    it until the last worker has exited, so a client connecting meanwhile would wait on an answer nobody gives.
    Closed here, the socket closes once the workers close theirs, and a new connection is refused.
    """

    def terminate_all(self) -> None:
        for sock in self.sockets:
            sock.close()
        super().terminate_all()


def serve_workers(
    host: str,
    port: int,
    store_url: str,
    *,
    workers: int,
    dev: bool = False,
    options: RequestOptions | None = None,
    attestation_root: TrustRoot | None = None,
) -> None:
    """``kmsd serve --workers N``: bind, open the store once, then serve from ``workers`` processes under
    uvicorn's supervisor, which replaces one that dies."""
    sock, parts = bind_and_open(host, port, store_url)
    # The parent only migrated the store and made the default account; each worker opens its own.
    parts.store.close()
    options = options or RequestOptions()
    # SQLite's data_version already sees every process's commits; PostgreSQL's notifications come a moment late.
    local_commits = None if store_url.startswith("sqlite:") else create_counter_file()
    settings = settings_for(store_url, dev, dataclasses.asdict(options), attestation_root, local_commits)
    # Spawned workers inherit the environment (and with it KMSD_ROOT_KEY and PYTHONPATH, if set).
    os.environ[SETTINGS_VARIABLE] = settings.to_environment()
    # This server's own, empty: files left by another server would be added to its counts.
    metrics_dir = tempfile.mkdtemp(prefix="kmsd-metrics-")
    os.environ[METRICS_DIR_VARIABLE] = metrics_dir
    configure_logging(options.log_format, options.log_level)
    config = uvicorn_config("kmsd.workers:worker_app", factory=True, workers=workers, log_level=options.log_level)
    mode = " (--dev: development credentials accepted)" if dev else ""
    print(
        f"kmsd: serving KMS, IAM and STS on http://{host}:{port} with store {redacted(store_url)}{mode}, "
        f"{workers} workers",
        flush=True,
    )
    print(console_line(host, port), flush=True)
    try:
        Supervisor(config, sockets=[sock]).run()
    finally:
        if local_commits is not None:
            local_commits.unlink(missing_ok=True)
        shutil.rmtree(metrics_dir, ignore_errors=True)
