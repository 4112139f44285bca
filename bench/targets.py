"""The servers the benchmark measures, each started, given a fresh key, and stopped.

- ``kmsd``: ``kmsd serve`` (uvicorn, uvloop, httptools) on a fresh SQLite store;
  the credentials are the ones it prints on first start.
- ``kmsd-granian``: the same app on the same store, built by ``granian_app.py``
  and served by granian, to compare server stacks.
- ``ceiling``: ``echo_app.py`` on kmsd's uvicorn options: the fastest any app
  can be on that stack.
- ``kmsd-sigv4``: kmsd's app cut short after SigV4 verification
  (``stage_app.py``) on the same options and store: where kmsd's time goes.
- ``moto``: ``moto_server``, the usual emulator, as the peer.

Each context manager yields a :class:`ReadyTarget` holding what the cells need:
the endpoint, an access key, a key id and a ciphertext made by that server,
and how to read the server's CPU time.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from failures import BenchmarkFailure
from kms_workload import PLAINTEXT, KeyFixture, check_answer, decode_json
from server_processes import LOOPBACK, free_port, running_server
from signed_requests import AccessKey, send, sign_kms_request

BENCH_DIR = Path(__file__).resolve().parent
BENCH_STORE_ENV = "KMSD_BENCH_STORE"  # read by granian_app.py and stage_app.py
ROOT_KEY_ENV = "KMSD_ROOT_KEY"

# The ceiling never looks at these; they only give its requests a realistic size.
ECHO_KEY = KeyFixture(
    key_id="arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    ciphertext_blob=bytes(range(184)),
)
ECHO_ACCESS_KEY = AccessKey("AKIAECHOCEILING00000", "echo-ceiling-secret")
MOTO_ACCESS_KEY = AccessKey("testing", "testing")


@dataclass(frozen=True)
class ReadyTarget:
    name: str
    server: str
    endpoint: str
    access_key: AccessKey
    key: KeyFixture
    checks_answers: bool
    cpu_seconds: Callable[[], float]  # the server's CPU time so far (ServerProcess.cpu_seconds)
    cpu_by_process: Callable[[], dict[int, float]]  # the same, by process (ServerProcess.cpu_by_process)
    group: int  # the server's process group: its first process's pid (a supervisor's, with workers)


@dataclass
class KmsdStore:
    """One store shared by the kmsd targets; the credentials come from its first start.

    ``root_key`` (base64, as ``KMSD_ROOT_KEY`` takes it) is given to every server of the store: a store on a
    database server has no directory of its own for a root-key file, and every node must hold the same root
    key.  Without it, kmsd creates a root-key file beside a SQLite store.
    """

    url: str
    root_key: str | None = None
    access_key: AccessKey | None = None

    @classmethod
    def sqlite(cls, directory: Path) -> KmsdStore:
        """A fresh SQLite store in ``directory``, which must not exist yet."""
        directory.mkdir()
        return cls(f"sqlite:///{directory / 'kmsd.db'}")


@contextlib.contextmanager
def kmsd_uvicorn(
    store: KmsdStore,
    log_dir: Path,
    *,
    workers: int = 1,
    name: str = "kmsd",
    own_session: bool = True,
    extra_args: Sequence[str] = (),
) -> Iterator[ReadyTarget]:
    """``kmsd serve`` on ``store``; with ``workers`` > 1, ``--workers N``: N processes on one port.

    ``own_session``: as :func:`server_processes.running_server` takes it; ``extra_args``: more ``kmsd serve``
    options (``--audit-file PATH``).
    """
    port = free_port()
    command = [_tool("kmsd"), "serve", "--host", LOOPBACK, "--port", str(port), "--store", store.url, *extra_args]
    description = "kmsd serve: uvicorn + uvloop + httptools, 1 process"
    if workers > 1:
        command += ["--workers", str(workers)]
        description = f"kmsd serve --workers {workers}: uvicorn's supervisor and {workers} worker processes"
    environment = _kmsd_environment(store)
    with _kmsd_target(name, description, command, port, store, log_dir, environment, own_session=own_session) as target:
        yield target


@contextlib.contextmanager
def kmsd_granian(store: KmsdStore, log_dir: Path) -> Iterator[ReadyTarget]:
    port = free_port()
    command = [
        _tool("granian"),
        "--interface",
        "asgi",
        "--http",
        "1",
        "--no-ws",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        "1",
        "--loop",
        "uvloop",
        "--log-level",
        "warning",
        "--no-access-log",
        "--working-dir",
        str(BENCH_DIR),
        "--factory",
        "granian_app:create_app",
    ]
    description = "kmsd's app on granian (asgi, HTTP/1, uvloop, 1 worker)"
    environment = {**_kmsd_environment(store), BENCH_STORE_ENV: store.url}
    with _kmsd_target("kmsd-granian", description, command, port, store, log_dir, environment) as target:
        yield target


@contextlib.contextmanager
def kmsd_sigv4_only(store: KmsdStore, log_dir: Path) -> Iterator[ReadyTarget]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "stage_app:create_app", *_uvicorn_options(port)]
    description = "bench/stage_app.py: kmsd's app up to SigV4 verification, then the ceiling's answer; uvicorn"
    environment = {**_kmsd_environment(store), BENCH_STORE_ENV: store.url}
    # It answers every KMS call with the ceiling's body: the ceiling's key id gives a request of the same shape.
    with _kmsd_target("kmsd-sigv4", description, command, port, store, log_dir, environment, ECHO_KEY) as target:
        yield target


@contextlib.contextmanager
def _kmsd_target(
    name: str,
    description: str,
    command: list[str],
    port: int,
    store: KmsdStore,
    log_dir: Path,
    environment: dict[str, str],
    fixed_key: KeyFixture | None = None,
    *,
    own_session: bool = True,
) -> Iterator[ReadyTarget]:
    """A server of kmsd's app on ``store``: its answers are checked unless it answers ``fixed_key``'s requests."""
    with running_server(
        name,
        command,
        port=port,
        ready_path="/health",
        log_dir=log_dir,
        environment=environment,
        own_session=own_session,
    ) as server:
        access_key = _kmsd_access_key(store, server.log_text(), name)
        yield ReadyTarget(
            name=name,
            server=description,
            endpoint=server.endpoint,
            access_key=access_key,
            key=fixed_key or _fresh_key(name, server.endpoint, access_key),
            checks_answers=fixed_key is None,
            cpu_seconds=server.cpu_seconds,
            cpu_by_process=server.cpu_by_process,
            group=server.process.pid,
        )


@contextlib.contextmanager
def ceiling(
    log_dir: Path, *, workers: int = 1, name: str = "ceiling", own_session: bool = True
) -> Iterator[ReadyTarget]:
    """The echo app on kmsd's uvicorn options; with ``workers`` > 1, under uvicorn's supervisor as
    ``kmsd serve --workers N`` runs kmsd.  ``own_session``: as :func:`server_processes.running_server` takes it."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "echo_app:app", *_uvicorn_options(port)]
    description = "bench/echo_app.py: uvicorn + uvloop + httptools, reads the body, fixed JSON answer"
    if workers > 1:
        command += ["--workers", str(workers)]
        description += f"; {workers} workers under uvicorn's supervisor"
    with running_server(name, command, port=port, ready_path="/", log_dir=log_dir, own_session=own_session) as server:
        yield ReadyTarget(
            name=name,
            server=description,
            endpoint=server.endpoint,
            access_key=ECHO_ACCESS_KEY,
            key=ECHO_KEY,
            checks_answers=False,
            cpu_seconds=server.cpu_seconds,
            cpu_by_process=server.cpu_by_process,
            group=server.process.pid,
        )


def _uvicorn_options(port: int) -> list[str]:
    """The options kmsd.server.serve passes to uvicorn.run, as uvicorn's command line."""
    return [
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--lifespan",
        "on",
        "--no-access-log",
        "--no-server-header",
        "--no-proxy-headers",
        "--log-level",
        "warning",
    ]


@contextlib.contextmanager
def moto(log_dir: Path) -> Iterator[ReadyTarget]:
    port = free_port()
    command = [_tool("moto_server"), "-H", LOOPBACK, "-p", str(port)]
    with running_server("moto", command, port=port, ready_path="/moto-api/", log_dir=log_dir) as server:
        yield ReadyTarget(
            name="moto",
            server="moto_server (werkzeug, threaded)",
            endpoint=server.endpoint,
            access_key=MOTO_ACCESS_KEY,
            key=_fresh_key("moto", server.endpoint, MOTO_ACCESS_KEY),
            checks_answers=True,
            cpu_seconds=server.cpu_seconds,
            cpu_by_process=server.cpu_by_process,
            group=server.process.pid,
        )


def _fresh_key(target: str, endpoint: str, access_key: AccessKey) -> KeyFixture:
    """Create a symmetric key on the target and encrypt ``PLAINTEXT`` under it for the Decrypt cells."""
    status, body = send(sign_kms_request(endpoint, access_key, "CreateKey", {"Description": "kmsd benchmark"}))
    if status != 200:
        raise BenchmarkFailure(f"{target} CreateKey: HTTP {status}: {body[:300]!r}")
    metadata = decode_json(target, "CreateKey", body).get("KeyMetadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("KeyId"), str):
        raise BenchmarkFailure(f"{target} CreateKey: the answer has no KeyMetadata.KeyId: {body[:300]!r}")
    key_id: str = metadata["KeyId"]
    encrypt = {"KeyId": key_id, "Plaintext": _b64(PLAINTEXT)}
    status, body = send(sign_kms_request(endpoint, access_key, "Encrypt", encrypt))
    check_answer(target, "Encrypt", status, body)
    blob = decode_json(target, "Encrypt", body)["CiphertextBlob"]
    return KeyFixture(key_id=key_id, ciphertext_blob=base64.b64decode(blob))


def _kmsd_access_key(store: KmsdStore, log_text: str, target: str) -> AccessKey:
    """The default account's root key, printed once by whichever kmsd server first opened the store."""
    key_id = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", log_text)
    secret = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", log_text)
    if key_id and secret:
        store.access_key = AccessKey(key_id.group(1), secret.group(1))
    if store.access_key is None:
        raise BenchmarkFailure(f"{target} did not print the default account's credentials on first start")
    return store.access_key


def _kmsd_environment(store: KmsdStore) -> dict[str, str]:
    # The store's own root key, else a fresh root-key file beside it; a root key from the caller's shell stays unused.
    environment = {name: value for name, value in os.environ.items() if name != ROOT_KEY_ENV}
    if store.root_key is not None:
        environment[ROOT_KEY_ENV] = store.root_key
    return environment


def _tool(name: str) -> str:
    """A console script from this interpreter's environment (the venv), else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise BenchmarkFailure(f"`{name}` is not installed: run `make bench` (it installs the test extras)")
    return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
