"""A real ``kmsd serve`` process on a free port, for tests that speak to it over HTTP.

Tests start the installed console script exactly as a user would, wait for
``/health``, read what it printed (the default account's credentials), and
stop it gently or with SIGKILL to test durability.

The store URL comes from the test's store kind (tests/integration/stores.py).
Every ``kmsd`` process of a server, ``serve`` or a CLI command, runs in the
server's data directory: a store that is no file of its own (PostgreSQL)
keeps its root key in ``./.kmsd`` of the working directory, so each server
has its own, and the tests leave none in the repository.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import chdir, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import uvicorn
from botocore.config import Config

from kmsd.api.app import KmsdApp
from kmsd.clock import ManualClock
from kmsd.crypto.attestation import TrustRoot
from kmsd.root_binding import ROOT_KEY_FILE_NAME
from kmsd.server import Parts, build_runtime, data_dir_for, open_parts

KMSD = str(Path(sys.executable).with_name("kmsd"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without AWS settings or a root key (a user has neither set), and ``extra_env``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("KMSD_ROOT_KEY", None)
    env.update(extra_env or {})
    return env


def run_kmsd(
    args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run a ``kmsd`` command to its end in ``cwd`` (where a PostgreSQL store's ``./.kmsd`` root key is)."""
    return subprocess.run(
        [KMSD, *args],
        cwd=cwd,
        env=server_environment() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class KmsdServer:
    data_dir: Path
    store_url: str
    dev: bool = False
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    # Environment variables the server gets besides the test process's own (SOFTHSM2_CONF for a token's files).
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def root_key_path(self) -> Path:
        """The root-key file ``kmsd serve`` made for this store (beside a SQLite file, else in ``./.kmsd``)."""
        return self.data_dir / data_dir_for(self.store_url) / ROOT_KEY_FILE_NAME

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self, timeout: float = 20.0) -> KmsdServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [KMSD, "serve", "--port", str(self.port), "--store", self.store_url, *self.extra_args]
        if self.dev:
            args.append("--dev")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=server_environment(self.extra_env), cwd=self.data_dir
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kmsd exited early:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.endpoint + "/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"kmsd did not become healthy:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def default_credentials(self) -> tuple[str, str]:
        text = self.output()
        key = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", text)
        secret = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", text)
        assert key and secret, text
        return key.group(1), secret.group(1)

    def command(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``kmsd ARGS`` to its end as this server's operator would: in its directory, with its environment."""
        return run_kmsd(list(args), self.data_dir, server_environment(self.extra_env), timeout)

    def create_account(self, account_id: str) -> tuple[str, str]:
        out = self.command("accounts", "create", account_id, "--json", "--store", self.store_url)
        assert out.returncode == 0, out.stderr
        data = json.loads(out.stdout)
        return data["AccessKeyId"], data["SecretAccessKey"]

    def client(self, service: str = "kms", *, access_key: str, secret_key: str, region: str = "us-east-1") -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(retries={"max_attempts": 1}, parameter_validation=False),
        )

    def root_client(self, service: str = "kms", *, region: str = "us-east-1") -> Any:
        """A client signed with the default account's root credentials that the server printed."""
        access_key, secret_key = self.default_credentials()
        return self.client(service, access_key=access_key, secret_key=secret_key, region=region)


@dataclass
class InProcessServer:
    """kmsd's app served by uvicorn in a thread of the test process, so the test can hold its clock."""

    kms: Any  # a boto3 KMS client signed with the development credentials
    clock: ManualClock
    parts: Parts
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        return self.server.config.port

    def stop(self) -> None:
        """Stop serving and close the store, once the server's thread has ended (a second call does nothing)."""
        if not self.thread.is_alive() and self.server.should_exit:
            return
        self.server.should_exit = True
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the in-process server did not stop"
        self.parts.store.close()


@contextmanager
def in_process_server(
    data_dir: Path,
    store_url: str,
    *,
    sweep_interval: float,
    pkcs11_module: str | None = None,
    attestation_root: TrustRoot | None = None,
) -> Iterator[InProcessServer]:
    """A server on a free port over ``store_url`` (files in ``data_dir``), with a manual clock and ``--dev``.

    Development credentials, because a signature's timestamp is checked against the server's clock,
    which such tests move by days.  ``pkcs11_module`` is ``kmsd serve --pkcs11-module``, and
    ``attestation_root`` is ``kmsd serve --attestation-root``.
    """
    clock = ManualClock(datetime.now(UTC))
    # In data_dir, as the subprocesses run: a PostgreSQL store's root key goes to data_dir/.kmsd, not the repository.
    with chdir(data_dir):
        parts = open_parts(store_url, clock=clock)
    runtime = build_runtime(parts, dev=True, pkcs11_module=pkcs11_module, attestation_root=attestation_root)
    app = KmsdApp(runtime, sweep_interval=sweep_interval)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    kms = boto3.client(
        "kms",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, parameter_validation=False),
    )
    running = InProcessServer(kms, clock, parts, server, thread)
    try:
        yield running
    finally:
        running.stop()
