"""``kmsd accounts create|list|credentials``: accounts and their root users' access keys, on the store itself.

These commands open the store themselves, so they work with no server
running and while one runs on the same store: a server sees their commits
through the store's change check and honours a new key (and refuses a
rotated-out one) from its next request on.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from kmsd.iam.accounts import RootCredentials
from kmsd.store.models import AccessKeyRecord


def run_create(args: argparse.Namespace) -> int:
    from kmsd.server import open_parts

    parts = open_parts(args.store)
    try:
        credentials = parts.accounts.create(args.account_id)
    finally:
        parts.store.close()
    _print_credentials(credentials, args.json, f"account {credentials.account_id} created; its root user's access key:")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from kmsd.server import open_parts

    parts = open_parts(args.store)
    try:
        accounts = parts.accounts.list()
    finally:
        parts.store.close()
    for account in accounts:
        print(f"{account.account_id}\tcreated {account.created_at.isoformat()}")
    return 0


def run_credentials(args: argparse.Namespace) -> int:
    """The root user's access key ids; ``--rotate``: the way back in when the printed credentials are lost."""
    from kmsd.server import open_parts

    parts = open_parts(args.store)
    try:
        if not args.rotate:
            return _print_keys(parts.accounts.root_keys(args.account_id), args.json)
        credentials = parts.accounts.rotate_root_key(args.account_id)
    finally:
        parts.store.close()
    heading = f"account {credentials.account_id}: new root access key (the old ones are deleted):"
    _print_credentials(credentials, args.json, heading)
    return 0


def _print_credentials(credentials: RootCredentials, as_json: bool, heading: str) -> None:
    if as_json:
        print(json.dumps(credentials.to_json()))
        return
    print(heading)
    print(f"  AWS_ACCESS_KEY_ID={credentials.access_key_id}")
    print(f"  AWS_SECRET_ACCESS_KEY={credentials.secret_access_key}")


def _print_keys(keys: Sequence[AccessKeyRecord], as_json: bool) -> int:
    # The secret is not printed: like AWS, kmsd shows a secret only when it creates it.
    if as_json:
        listed = [
            {"AccessKeyId": key.access_key_id, "Status": key.status, "CreateDate": key.created_at.isoformat()}
            for key in keys
        ]
        print(json.dumps({"AccessKeys": listed}))
        return 0
    for key in keys:
        print(f"{key.access_key_id}\t{key.status}\tcreated {key.created_at.isoformat()}")
    return 0
