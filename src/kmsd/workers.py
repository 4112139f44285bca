"""``kmsd serve --workers N``: N processes on one port, over one SQLite store and one root key.

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

The periodic sweep runs in one worker at a time (:class:`SweepLease`): purging a key is not safe to run twice
at once, and one sweeper per file is all the work needs.
"""

from __future__ import annotations

import base64
import dataclasses
import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from uvicorn.supervisors import Multiprocess

from kmsd.api.app import KmsdApp
from kmsd.crypto.attestation import TrustRoot
from kmsd.server import ListenError, RequestOptions, bind_and_open, build_app, open_parts, uvicorn_config
from kmsd.store.urls import sqlite_path

# The settings of the workers, set by the parent before it spawns them (JSON).
SETTINGS_VARIABLE = "KMSD_WORKER_SETTINGS"


class SweepLease:
    """An exclusive ``flock`` on a file beside the database: its holder is the one process that sweeps.

    The kernel releases the lock when the holder dies, however it dies, so another worker takes over at its
    next sweep; nothing has to expire or be cleaned up.  The lock file holds nothing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._descriptor: int | None = None

    def try_hold(self) -> bool:
        """Whether this process holds the lease now (taking it if it is free); never waits."""
        if self._descriptor is not None:
            return True
        descriptor = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._descriptor = descriptor
        return True


@dataclass(frozen=True)
class WorkerSettings:
    """What every worker needs to build the same app as the others (see :func:`kmsd.server.serve`)."""

    store_url: str
    dev: bool
    options: dict[str, object]  # kmsd.server.RequestOptions, as asdict() gives it
    attestation_root_pem: str | None  # base64 of the PEM, None for AWS's Nitro root

    def to_environment(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_environment(cls) -> WorkerSettings:
        return cls(**json.loads(os.environ[SETTINGS_VARIABLE]))


def settings_for(
    store_url: str, dev: bool, options: dict[str, object], attestation_root: TrustRoot | None
) -> WorkerSettings:
    pem = None
    if attestation_root is not None:
        pem = base64.b64encode(attestation_root.certificate.public_bytes(Encoding.PEM)).decode()
    return WorkerSettings(store_url, dev, options, pem)


def sweep_lock_path(store_url: str) -> Path:
    database = sqlite_path(store_url)
    return database.with_name(database.name + ".sweep-lock")


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
    return build_app(
        open_parts(settings.store_url),
        settings.dev,
        options,
        attestation_root,
        # Every request asks the store whether another worker committed: read-your-writes across workers.
        store_check_interval=0.0,
        worker_id=str(os.getpid()),
        sweep_gate=SweepLease(sweep_lock_path(settings.store_url)).try_hold,
    )


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
    if not store_url.startswith("sqlite:"):
        raise ListenError(f"--workers {workers} needs a SQLite store")
    sock, parts = bind_and_open(host, port, store_url)
    # The parent only migrated the store and made the default account; each worker opens its own.
    parts.store.close()
    options = options or RequestOptions()
    settings = settings_for(store_url, dev, dataclasses.asdict(options), attestation_root)
    # Spawned workers inherit the environment (and with it KMSD_ROOT_KEY and PYTHONPATH, if set).
    os.environ[SETTINGS_VARIABLE] = settings.to_environment()
    config = uvicorn_config("kmsd.workers:worker_app", factory=True, workers=workers)
    mode = " (--dev: development credentials accepted)" if dev else ""
    print(
        f"kmsd: serving KMS, IAM and STS on http://{host}:{port} with store {store_url}{mode}, {workers} workers",
        flush=True,
    )
    Multiprocess(config, sockets=[sock]).run()
