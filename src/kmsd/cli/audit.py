"""``kmsd audit verify|query``: the stored audit trail, read with no server involved.

``verify`` walks the hash chain (:func:`kmsd.audit.chain.verify`) with the key derived from the store's root
key (``KMSD_ROOT_KEY`` or the root-key file, as ``kmsd serve`` finds it; never created here) and prints one
line per problem -- an edited, removed, reordered or cut-off event, by sequence and event id -- then exits 1;
on an intact chain it prints how many events it checked and the sealed head, and exits 0.  ``query`` prints
the matching events' CloudTrail records, newest first: one summary line each, or the records themselves as
JSON lines with ``--json``.  Neither writes to the store.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime

from kmsd.audit.chain import ChainSeal, verify
from kmsd.crypto import RootKeyError
from kmsd.root_binding import ROOT_KEY_CHECK_SETTING, find_root_key, missing_root_key
from kmsd.store.audit_records import AuditEventQuery, AuditEventRow
from kmsd.store.urls import open_store, redacted

# Events read per round trip while printing a query's answer.
QUERY_PAGE = 500


def run_audit_verify(args: argparse.Namespace) -> int:
    # Imported here: the offline commands must not load the server stack (uvicorn, the app) for one path rule.
    from kmsd.server import data_dir_for

    store = open_store(args.store)
    try:
        root_key, source = find_root_key(data_dir_for(args.store), os.environ)
        if root_key is None:
            raise missing_root_key(source)
        check_value = store.get_setting(ROOT_KEY_CHECK_SETTING)
        if check_value is not None and not root_key.matches(check_value):
            raise RootKeyError(f"{source} is not the root key of {redacted(args.store)}")
        result = verify(store, ChainSeal(root_key.audit_chain_key()))
    finally:
        store.close()
    for problem in result.problems:
        print(problem)
    if result.problems:
        print(
            f"kmsd: the audit trail of {redacted(args.store)} is NOT intact: {len(result.problems)} problem(s) "
            f"in {result.events} event(s)",
            file=sys.stderr,
        )
        return 1
    pruned = f", after {result.pruned_sequence} pruned by retention" if result.pruned_sequence else ""
    print(
        f"audit trail intact: {result.events} event(s) verified{pruned}; sealed head: sequence "
        f"{result.head_sequence}, hash {result.head_hash}"
    )
    return 0


def run_audit_query(args: argparse.Namespace) -> int:
    key = args.key
    query = AuditEventQuery(
        account_id=args.account,
        start=args.start_time,
        end=args.end_time,
        principal_arn=args.principal,
        event_name=args.event_name,
        error_code=args.error,
        errors_only=args.errors_only,
        resource_name=key if key is not None and key.startswith("arn:") else None,
        resource_key_id=key if key is not None and not key.startswith("arn:") else None,
    )
    store = open_store(args.store)
    try:
        left = args.max
        while left is None or left > 0:
            size = QUERY_PAGE if left is None else min(QUERY_PAGE, left)
            rows = store.find_audit_events(query, size)
            for row in rows:
                print(row.record if args.json else _summary(row))
            if len(rows) < size:
                break
            if left is not None:
                left -= len(rows)
            query = _after(query, rows[-1])
    finally:
        store.close()
    return 0


def _after(query: AuditEventQuery, row: AuditEventRow) -> AuditEventQuery:
    return replace(query, before=(row.event_time, row.sequence))


def _summary(row: AuditEventRow) -> str:
    """One line: when, account, source and name, who, the outcome and the resources."""
    outcome = row.error_code or "ok"
    who = row.principal_arn or "-"
    resources = " ".join(name for _, name in row.resources)
    return (
        f"{row.event_time.isoformat(timespec='milliseconds')}  {row.account_id}  "
        f"{row.event_source.split('.', 1)[0]}:{row.event_name}  {who}  {outcome}  {row.event_id}"
        + (f"  {resources}" if resources else "")
    )


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (``2026-01-02T03:04:05Z``, a date alone is midnight); UTC when no zone is given."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
