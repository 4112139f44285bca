"""``kmsd store migrate``, ``kmsd store check`` and the refusals of ``kmsd store copy``, as an operator meets them.

Real ``kmsd`` processes on SQLite files and on databases of the test PostgreSQL: what they print, their exit
status, and what they leave behind (check writes nothing; a refused or failed copy leaves its destination
empty).  Also the promise behind "every node of one service uses the same root key": a second ``kmsd serve`` on
the same PostgreSQL database with another root key refuses to start, and the first keeps serving.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from kmsd.store.inspect import inspect_store
from kmsd.store.migrations import LATEST_VERSION
from tests.helpers.postgres import PostgresDatabases
from tests.integration.server import KmsdServer, free_port, run_kmsd, server_environment
from tests.integration.stores import sqlite_url

LATEST = LATEST_VERSION


def kmsd(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``kmsd ARGS`` in ``cwd`` (where a PostgreSQL store's root key is looked for), no root key but ``env``'s."""
    return run_kmsd(list(args), cwd, server_environment(env))


def dev_kms(server: KmsdServer) -> Any:
    """A KMS client with the development credentials of a ``--dev`` server."""
    return server.client("kms", access_key="test", secret_key="test")


def another_root_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.mark.postgresql_only("migrates and checks a new PostgreSQL database (SQLite: the next test)")
def test_migrate_and_check_a_new_postgresql_database(tmp_path: Path, postgres_databases: PostgresDatabases) -> None:
    url = postgres_databases.create()
    checked = kmsd("store", "check", "--store", url, cwd=tmp_path)
    assert checked.returncode == 1
    lines = checked.stdout.splitlines()
    assert lines[0] == f"store: {url}"
    assert lines[1].startswith("connectivity: ok (PostgreSQL ")
    assert lines[2] == (
        f"schema version: FAILED: no kmsd schema yet (this kmsd writes {LATEST}): run `kmsd store migrate`"
    )
    assert checked.stderr == "kmsd: store check failed: schema version\n"

    migrated = kmsd("store", "migrate", "--store", url, cwd=tmp_path)
    assert (migrated.returncode, migrated.stdout) == (0, f"{url}: schema version 0 -> {LATEST} (migrated)\n")
    again = kmsd("store", "migrate", "--store", url, cwd=tmp_path)
    assert again.stdout == f"{url}: schema version {LATEST}, the latest; nothing to migrate\n"

    checked = kmsd("store", "check", "--store", url, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[2:] == [
        f"schema version: {LATEST} (current)",
        "root key: none recorded in the store yet; the first kmsd serve records the one from a new .kmsd/root.key",
    ]
    assert not (tmp_path / ".kmsd").exists()  # check creates no root key


@pytest.mark.sqlite_only("checks a SQLite file and the root key beside it (PostgreSQL: the test before)")
def test_check_a_sqlite_store_and_its_root_key(tmp_path: Path) -> None:
    path = tmp_path / "data" / "kmsd.db"
    url = f"sqlite:///{path}"
    missing = kmsd("store", "check", "--store", url, cwd=tmp_path)
    assert missing.returncode == 1
    assert missing.stdout.splitlines()[1] == f"connectivity: FAILED: there is no SQLite store at {path}"
    assert missing.stderr == "kmsd: store check failed: the store cannot be read\n"
    assert not (tmp_path / "data").exists()  # no file, no directory, no root key

    # An account binds the store to the root key it creates beside the file.
    assert kmsd("accounts", "create", "111122223333", "--store", url, cwd=tmp_path).returncode == 0
    good = kmsd("store", "check", "--store", url, cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[1:] == [
        f"connectivity: ok (SQLite {sqlite3.sqlite_version})",
        f"schema version: {LATEST} (current)",
        f"root key: matches the one the store was initialised with (from root key {path.parent / 'root.key'})",
    ]

    wrong = kmsd("store", "check", "--store", url, cwd=tmp_path, env={"KMSD_ROOT_KEY": another_root_key()})
    assert wrong.returncode == 1
    assert wrong.stdout.splitlines()[3] == (
        "root key: FAILED: the root key from KMSD_ROOT_KEY is not the one this store was initialised with; "
        "kmsd serve would refuse to start with it"
    )
    assert wrong.stderr == "kmsd: store check failed: root key\n"
    malformed = kmsd("store", "check", "--store", url, cwd=tmp_path, env={"KMSD_ROOT_KEY": "not base64!"})
    assert malformed.returncode == 1 and "root key: FAILED: KMSD_ROOT_KEY" in malformed.stdout

    (path.parent / "root.key").rename(tmp_path / "root.key.saved")
    lost = kmsd("store", "check", "--store", url, cwd=tmp_path)
    assert lost.returncode == 1
    assert f"root key: FAILED: root key {path.parent / 'root.key'} is missing" in lost.stdout
    assert not (path.parent / "root.key").exists()  # and check did not make a new one


@pytest.mark.postgresql_only("checks a PostgreSQL URL with a password")
def test_check_an_unreachable_store_without_printing_its_password(tmp_path: Path) -> None:
    done = kmsd("store", "check", "--store", "postgresql://kmsd:sekrit@127.0.0.1:1/kmsd", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == "store: postgresql://kmsd:***@127.0.0.1:1/kmsd"
    assert "connectivity: FAILED: cannot connect to the PostgreSQL store at postgresql://kmsd:***@" in done.stdout
    assert "sekrit" not in done.stdout + done.stderr


@pytest.mark.sqlite_only("sets the source's schema version back with sqlite3")
def test_copy_refuses_a_source_behind_the_schema_without_migrating_it(tmp_path: Path) -> None:
    source = tmp_path / "old.db"
    assert kmsd("store", "migrate", "--store", f"sqlite:///{source}", cwd=tmp_path).returncode == 0
    with sqlite3.connect(source) as connection:
        connection.execute(f"PRAGMA user_version = {LATEST - 1}")
    destination = tmp_path / "new.db"
    done = kmsd("store", "copy", "--from", f"sqlite:///{source}", "--to", f"sqlite:///{destination}", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        f"kmsd: the source store sqlite:///{source} has schema version {LATEST - 1}, and a copy needs version "
        f"{LATEST} on both sides: run `kmsd store migrate --store sqlite:///{source}` first\n"
    )
    assert not destination.exists()
    same = kmsd("store", "copy", "--from", f"sqlite:///{source}", "--to", f"sqlite:///{source}", cwd=tmp_path)
    assert (same.returncode, same.stderr) == (1, "kmsd: --from and --to name the same store\n")


@pytest.mark.postgresql_only("copies a SQLite store it makes into a PostgreSQL database")
def test_a_copy_that_fails_half_way_leaves_the_destination_empty(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    # SQLite can keep a key description holding U+0000 (the API refuses it now, but a store written before that
    # rule may hold one); PostgreSQL's text cannot.  Keys come after the settings, accounts, access keys and IAM
    # policies, so the copy has written rows when it fails.
    source = KmsdServer(tmp_path / "source", sqlite_url(tmp_path / "source"), dev=True).start()
    try:
        kms = dev_kms(source)
        kms.create_key(Description="fine")
        bad = kms.create_key(Description="to be spoiled")["KeyMetadata"]["KeyId"]
    finally:
        source.stop()
    with sqlite3.connect(tmp_path / "source" / "kmsd.db") as database:
        database.execute("UPDATE keys SET description = ? WHERE key_id = ?", ("nul\x00inside", bad))
    url = postgres_databases.create()
    done = kmsd("store", "copy", "--from", source.store_url, "--to", url, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"kmsd: keys (key_id='{bad}', region='us-east-1'): description holds the character U+0000, which the "
        "destination cannot store (PostgreSQL text cannot hold it); change that value in the source and copy again"
    )
    assert "kmsd: store copy: settings: " in done.stderr  # rows were written before the failure
    facts = inspect_store(url)
    assert (facts.schema_version, facts.tables_with_rows) == (LATEST, ())


@pytest.mark.postgresql_only("two nodes on one PostgreSQL database")
def test_a_node_with_another_root_key_refuses_to_serve_the_store(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    url = postgres_databases.create()
    first_key = another_root_key()
    first = KmsdServer(tmp_path / "first", url, dev=True, extra_env={"KMSD_ROOT_KEY": first_key}).start()
    try:
        second = kmsd(
            "serve",
            "--port",
            str(free_port()),
            "--store",
            url,
            cwd=tmp_path,
            env={"KMSD_ROOT_KEY": another_root_key()},
        )
        assert second.returncode == 1
        assert second.stderr == (
            "kmsd: the root key from KMSD_ROOT_KEY is not the one this store was initialised with; "
            "refusing to start with it (use the store's own root key)\n"
        )
        # The first node serves on.
        with urllib.request.urlopen(first.endpoint + "/health", timeout=5) as response:
            assert response.status == 200
        kms = dev_kms(first)
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"still here")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still here"
        # And check says so before anyone tries.
        assert kmsd("store", "check", "--store", url, cwd=tmp_path, env={"KMSD_ROOT_KEY": first_key}).returncode == 0
    finally:
        first.stop()
