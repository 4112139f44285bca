"""Issue 9, items 9, 10 and 16, attacked from outside: the root key bound to its store, deletion that leaves
nothing in the database files, and RotateKeyOnDemand's response.

The root-key tests start and stop real ``kmsd serve`` processes and run the ``kmsd`` command, with the
environment a user would have got wrong (no root-key file, another ``KMSD_ROOT_KEY``); each refusal must be
one line on stderr and a non-zero exit, and no second root-key file may appear.  The deletion test runs the
server in this process (as ``test_time.py`` does) so that it can move the clock past the deletion window,
then reads the raw bytes of ``kmsd.db``, ``kmsd.db-wal`` and ``kmsd.db-shm``.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.server import KMSD, InProcessServer, KmsdServer, free_port, in_process_server
from tests.integration.stores import StoreKind, Stores

# --- item 16: RotateKeyOnDemand answers with the key ARN ---------------------------------------------------


def test_rotate_key_on_demand_returns_the_key_arn(kms: Any) -> None:
    metadata = kms.create_key()["KeyMetadata"]
    # By key id and by ARN alike, the response names the key by its ARN, as AWS's does.
    assert kms.rotate_key_on_demand(KeyId=metadata["KeyId"])["KeyId"] == metadata["Arn"]
    assert kms.rotate_key_on_demand(KeyId=metadata["Arn"])["KeyId"] == metadata["Arn"]


# --- item 9: the root key is bound to the store ---------------------------------------------------------------

OTHER_ROOT_KEY = base64.b64encode(bytes(range(32))).decode()


def _environment(root_key: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "KMSD_ROOT_KEY"}
    if root_key is not None:
        env["KMSD_ROOT_KEY"] = root_key
    return env


def _kmsd(args: list[str], root_key: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the kmsd command to its end (a refused ``serve`` exits at once; a served one would time out)."""
    return subprocess.run(
        [KMSD, *args], env=_environment(root_key), cwd=cwd, capture_output=True, text=True, timeout=20
    )


def _assert_refused(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode != 0, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmsd: "), result.stderr
    assert "Traceback" not in result.stderr
    assert "root key" in lines[0]


def _root_key_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if "root" in p.name)


def test_a_store_refuses_a_missing_or_wrong_root_key(
    fresh_server: KmsdServer, store_kind: StoreKind, tmp_path: Path
) -> None:
    server = fresh_server.start()
    kms = server.root_client()
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"bound to one root")["CiphertextBlob"]
    server.stop()
    data_dir = server.data_dir
    root_file = server.root_key_path
    original = root_file.read_bytes()
    # Where the commands run: for SQLite another directory, as its root key is found beside the database from
    # anywhere; for PostgreSQL the server's, as the root key is in ./.kmsd of the directory kmsd runs in.
    workdir = tmp_path / "elsewhere" if store_kind == "sqlite" else data_dir
    workdir.mkdir(exist_ok=True)
    serve = ["serve", "--port", str(free_port()), "--store", server.store_url]

    # (a) The root-key file is gone: never silently regenerated, neither by serve nor by a CLI command.
    root_file.rename(tmp_path / "saved.key")
    _assert_refused(_kmsd(serve, None, workdir))
    _assert_refused(_kmsd(["accounts", "create", "111122223333", "--store", server.store_url], None, workdir))
    _assert_refused(_kmsd(["accounts", "list", "--store", server.store_url], None, workdir))
    assert _root_key_files(tmp_path) == []  # the server's directory and the commands' (and the saved key's)
    (tmp_path / "saved.key").rename(root_file)

    # (b) Another KMSD_ROOT_KEY is refused, even with the right file in place.
    _assert_refused(_kmsd(serve, OTHER_ROOT_KEY, workdir))
    # (c) So is `kmsd accounts create` with another root key: nothing is written with it.
    _assert_refused(_kmsd(["accounts", "create", "111122223333", "--store", server.store_url], OTHER_ROOT_KEY, workdir))
    assert _root_key_files(tmp_path) == ["root.key"] and root_file.read_bytes() == original

    # The store's own root key still works, and nothing was changed by the refused commands.
    created = _kmsd(["accounts", "create", "111122223333", "--json", "--store", server.store_url], None, workdir)
    assert created.returncode == 0, created.stderr
    server.start()
    assert server.root_client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"bound to one root"
    listed = _kmsd(["accounts", "list", "--store", server.store_url], None, workdir)
    assert "111122223333" in listed.stdout


def test_a_cli_command_without_the_servers_root_key_writes_no_second_one(tmp_path: Path, stores: Stores) -> None:
    """The server runs on KMSD_ROOT_KEY; a CLI command run without it must not create a root-key file."""
    data_dir = tmp_path / "kmsd"
    store_url = stores.new(data_dir)
    server_key = base64.b64encode(bytes(range(100, 132))).decode()
    created = _kmsd(["accounts", "create", "222233334444", "--json", "--store", store_url], server_key, tmp_path)
    assert created.returncode == 0, created.stderr

    _assert_refused(_kmsd(["accounts", "create", "333344445555", "--store", store_url], None, tmp_path))
    _assert_refused(_kmsd(["serve", "--port", str(free_port()), "--store", store_url], None, tmp_path))
    # Neither beside a SQLite database nor in ./.kmsd of the working directory.
    assert _root_key_files(tmp_path) == []

    again = _kmsd(["accounts", "create", "333344445555", "--json", "--store", store_url], server_key, tmp_path)
    assert again.returncode == 0, again.stderr


# --- item 10: a purged key's material is in none of the database files -------------------------------------


@pytest.fixture
def clocked_server(tmp_path: Path, stores: Stores) -> Iterator[InProcessServer]:
    """A server in this process whose clock the test moves (development credentials: see test_time.py)."""
    with in_process_server(tmp_path, stores.new(tmp_path), sweep_interval=3600) as running:
        yield running


def _wrapped_material(db: Path, key_id: str) -> list[bytes]:
    connection = sqlite3.connect(db)
    try:
        rows = connection.execute("SELECT wrapped_material FROM key_materials WHERE key_id = ?", (key_id,)).fetchall()
    finally:
        connection.close()
    return [bytes(row[0]) for row in rows]


def _files_holding(directory: Path, secrets: list[bytes]) -> list[str]:
    """The database files (as a copy taken now would have them) in which any of ``secrets`` occurs."""
    found = []
    for name in ("kmsd.db", "kmsd.db-wal", "kmsd.db-shm"):
        path = directory / name
        content = path.read_bytes() if path.exists() else b""
        # The nonce and the sealed tail separately too: a partial copy of the wrap is still a leak.
        if any(secret in content or secret[1:13] in content or secret[13:] in content for secret in secrets):
            found.append(name)
    return found


@pytest.mark.sqlite_only("scans the bytes of kmsd.db, -wal and -shm; a PostgreSQL server's files are its own")
def test_a_purged_keys_material_is_gone_from_the_database_files(
    clocked_server: InProcessServer, tmp_path: Path
) -> None:
    kms, clock = clocked_server.kms, clocked_server.clock
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.rotate_key_on_demand(KeyId=key_id)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"must not outlive the key")["CiphertextBlob"]
    wrapped = _wrapped_material(tmp_path / "kmsd.db", key_id)
    assert len(wrapped) == 2
    # Before the purge the material is in the files, so the scan below can find it.
    assert _files_holding(tmp_path, wrapped) != []
    kept = kms.create_key()["KeyMetadata"]["KeyId"]

    kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    clock.advance(timedelta(days=7, minutes=1))
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId=key_id)  # the purge happens on first sight of the ended window
    assert excinfo.value.response["Error"]["Code"] == "NotFoundException"
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob)

    # A copy of the live files, taken now, holds none of it ...
    assert _files_holding(tmp_path, wrapped) == []
    # ... the server keeps working ...
    assert kms.encrypt(KeyId=kept, Plaintext=b"x")["KeyId"].endswith(kept)
    # ... and neither do the files once the server has stopped.
    clocked_server.stop()
    assert _files_holding(tmp_path, wrapped) == []
