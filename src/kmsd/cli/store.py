"""``kmsd store migrate|check|copy``: the operations on a store itself, with no server involved.

``migrate`` brings a store to the schema this kmsd writes (``kmsd serve`` does that on start as well; run it
first to upgrade a PostgreSQL store before rolling the nodes, or a copy's source).  ``check`` reads, and
writes nothing (it creates no file, no schema, no root key): whether the store answers, its schema version,
and whether the root key ``kmsd serve`` would use here (``KMSD_ROOT_KEY``, or the root-key file) is the
store's; it exits 1 when anything is wrong, for a deployment's pre-flight step.  ``copy`` moves a deployment
between SQLite and PostgreSQL (:mod:`kmsd.store.copy`).  No message shows a store URL's password.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kmsd.cli.store_progress import progress_for
from kmsd.crypto import ROOT_KEY_ENV, RootKeyError
from kmsd.root_binding import ROOT_KEY_CHECK_SETTING, ROOT_KEY_FILE_NAME, find_root_key, missing_root_key
from kmsd.store.base import StoreError
from kmsd.store.copy import TABLES, copy_store
from kmsd.store.inspect import StoreFacts, inspect_store
from kmsd.store.migrations import LATEST_VERSION
from kmsd.store.urls import is_postgres_url, open_store, redacted, sqlite_path


def run_store_migrate(args: argparse.Namespace) -> int:
    before = 0 if _new_sqlite_file(args.store) else inspect_store(args.store).schema_version
    store = open_store(args.store)  # opening migrates
    try:
        after = store.schema_version()
    finally:
        store.close()
    if before == after:
        print(f"{redacted(args.store)}: schema version {after}, the latest; nothing to migrate")
    else:
        print(f"{redacted(args.store)}: schema version {before} -> {after} (migrated)")
    return 0


def run_store_check(args: argparse.Namespace) -> int:
    print(f"store: {redacted(args.store)}")
    try:
        facts = inspect_store(args.store)
    except StoreError as error:
        print(f"connectivity: FAILED: {error}")
        return _failed("the store cannot be read")
    print(f"connectivity: ok ({facts.engine})")
    failures = []
    version_ok, version_line = _schema_line(facts)
    print(f"schema version: {version_line}")
    if not version_ok:
        failures.append("schema version")
    root_key_ok, root_key_line = _root_key_line(args.store, facts)
    print(f"root key: {root_key_line}")
    if not root_key_ok:
        failures.append("root key")
    return _failed(", ".join(failures)) if failures else 0


def run_store_copy(args: argparse.Namespace) -> int:
    progress = progress_for()
    try:
        report = copy_store(args.from_url, args.to_url, progress)
    finally:
        progress.close()  # a failure's message must not land at the end of the bar's line
    width = max(len(name) for name in (*report.counts, *report.rebuilt))
    for name, rows in report.counts.items():
        print(f"{name:<{width}}  {rows:>8}")
    for name, (in_source, rebuilt) in report.rebuilt.items():
        print(
            f"{name:<{width}}  {rebuilt:>8}  (rebuilt by the destination from the policies; the source has {in_source})"
        )
    print(
        f"copied {sum(report.counts.values())} rows in {len(TABLES)} tables from {redacted(args.from_url)} to "
        f"{redacted(args.to_url)}; every table holds the same number of rows in both."
    )
    print(f"Serve the destination with the root key of the source: {_root_key_hint(args.from_url, args.to_url)}.")
    return 0


def _new_sqlite_file(url: str) -> bool:
    return not is_postgres_url(url) and not sqlite_path(url).exists()


def _schema_line(facts: StoreFacts) -> tuple[bool, str]:
    version = facts.schema_version
    if version == LATEST_VERSION:
        return True, f"{version} (current)"
    if version == 0:
        return False, f"FAILED: no kmsd schema yet (this kmsd writes {LATEST_VERSION}): run `kmsd store migrate`"
    if version < LATEST_VERSION:
        return False, f"FAILED: {version}, behind the {LATEST_VERSION} this kmsd writes: run `kmsd store migrate`"
    return False, f"FAILED: {version}, newer than the {LATEST_VERSION} this kmsd knows: upgrade kmsd"


def _root_key_line(url: str, facts: StoreFacts) -> tuple[bool, str]:
    """Whether the root key ``kmsd serve --store url`` would use here is the store's own; never creates one."""
    from kmsd.server import data_dir_for

    data_dir = data_dir_for(url)
    try:
        root_key, source = find_root_key(data_dir, os.environ)
        recorded = facts.settings.get(ROOT_KEY_CHECK_SETTING)
        if recorded is None:
            where = source if root_key is not None else f"a new {data_dir / ROOT_KEY_FILE_NAME}"
            return True, f"none recorded in the store yet; the first kmsd serve records the one from {where}"
        if root_key is None:
            return False, f"FAILED: {missing_root_key(source)}"
        if not root_key.matches(recorded):
            return False, (
                f"FAILED: the root key from {source} is not the one this store was initialised with; "
                "kmsd serve would refuse to start with it"
            )
    except RootKeyError as error:
        return False, f"FAILED: {error}"
    return True, f"matches the one the store was initialised with (from {source})"


def _root_key_hint(source_url: str, destination_url: str) -> str:
    from kmsd.server import data_dir_for

    if os.environ.get(ROOT_KEY_ENV):
        return f"the same {ROOT_KEY_ENV}; kmsd refuses any other"
    source_file = data_dir_for(source_url) / ROOT_KEY_FILE_NAME
    destination_file = data_dir_for(destination_url) / ROOT_KEY_FILE_NAME
    if _same_file(source_file, destination_file):
        return f"{source_file} (the destination uses it already); kmsd refuses any other"
    return (
        f"set {ROOT_KEY_ENV} to the contents of {source_file}, or copy that file to {destination_file} "
        "(mode 0600); kmsd refuses any other"
    )


def _same_file(first: Path, second: Path) -> bool:
    return first.resolve() == second.resolve()


def _failed(what: str) -> int:
    print(f"kmsd: store check failed: {what}", file=sys.stderr)
    return 1
