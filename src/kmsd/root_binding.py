"""Tie the root key to the store it protects, so that a wrong or lost root key is refused instead of used.

Every value the store wraps (key material, secret access keys) opens only under
the root key that wrapped it.  A server started with another root key -- a
mistyped ``KMSD_ROOT_KEY``, a root-key file that was deleted and silently
regenerated, a ``kmsd accounts create`` run without the server's environment --
would answer every credential as invalid and every Decrypt as tampered, and
would wrap new material under the new key, splitting the store between two
roots.  So the store keeps the root key's check value
(:meth:`~kmsd.crypto.FileRootKey.check_value`, an HMAC under an HKDF-derived
key, never the key or a hash of it) in its ``settings`` table, and
:func:`open_root_key` refuses, with :class:`~kmsd.crypto.RootKeyError`, a root
key whose check value differs, and a missing root-key file for a store that
already has a root key.

Decisions:
- A new store (no check value, no wrapped secret) records the check value of
  the root key it is first opened with: ``KMSD_ROOT_KEY``, or the root-key file,
  which is created only in this case.
- A store written by an older kmsd (wrapped secrets but no check value) records
  it on the first start after the root key has unwrapped one of its stored
  access-key secrets; a key that does not is refused.  Every account has a root
  access key, so a store with data has one to try.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from kmsd.crypto import ROOT_KEY_ENV, CryptoError, FileRootKey, RootKeyError
from kmsd.iam.accounts import secret_purpose
from kmsd.store.base import Store
from kmsd.store.models import AccessKeyRecord

ROOT_KEY_CHECK_SETTING = "root_key_check_value"
ROOT_KEY_FILE_NAME = "root.key"


def open_root_key(store: Store, data_dir: Path, environ: Mapping[str, str]) -> FileRootKey:
    """The store's root key, from ``KMSD_ROOT_KEY`` or ``data_dir/root.key``; RootKeyError if it is not the store's."""
    root_key, source = find_root_key(data_dir, environ)
    if root_key is None:
        if store.get_setting(ROOT_KEY_CHECK_SETTING) is not None or _first_wrapped_secret(store) is not None:
            # A generated key could never open what the store holds: refuse rather than split the store.
            raise missing_root_key(source)
        data_dir.mkdir(parents=True, exist_ok=True)
        root_key = FileRootKey.load_or_create(data_dir / ROOT_KEY_FILE_NAME)
    bind(store, root_key, source)
    return root_key


def find_root_key(data_dir: Path, environ: Mapping[str, str]) -> tuple[FileRootKey | None, str]:
    """The root key ``kmsd serve`` would use (``KMSD_ROOT_KEY``, else ``data_dir/root.key``) and where it is from;
    None when there is neither.  Reads only: ``kmsd store check`` asks this too, and must create nothing."""
    value = environ.get(ROOT_KEY_ENV)
    if value:
        return FileRootKey.from_env(value), ROOT_KEY_ENV
    path = data_dir / ROOT_KEY_FILE_NAME
    source = f"root key {path}"
    if path.exists() or path.is_symlink():
        return FileRootKey.load(path), source
    return None, source


def missing_root_key(source: str) -> RootKeyError:
    return RootKeyError(
        f"{source} is missing, but this store was initialised with a root key: "
        f"restore the file or set {ROOT_KEY_ENV} (kmsd never replaces a store's root key)"
    )


def bind(store: Store, root_key: FileRootKey, source: str) -> None:
    """Record ``root_key`` as the store's if it has none yet; RootKeyError if the store belongs to another."""
    mismatch = RootKeyError(
        f"the root key from {source} is not the one this store was initialised with; "
        "refusing to start with it (use the store's own root key)"
    )
    recorded = store.get_setting(ROOT_KEY_CHECK_SETTING)
    if recorded is not None:
        if not root_key.matches(recorded):
            raise mismatch
        return
    # BEGIN IMMEDIATE serialises two processes opening a new store at once: the second sees the first's value.
    with store.transaction():
        recorded = store.get_setting(ROOT_KEY_CHECK_SETTING)
        if recorded is None:
            if not _opens_stored_secrets(store, root_key):
                raise mismatch
            store.set_setting(ROOT_KEY_CHECK_SETTING, root_key.check_value())
            return
    if not root_key.matches(recorded):
        raise mismatch


def _opens_stored_secrets(store: Store, root_key: FileRootKey) -> bool:
    """Whether ``root_key`` unwraps a secret the store already holds (True when it holds none)."""
    sample = _first_wrapped_secret(store)
    if sample is None:
        return True
    try:
        root_key.unwrap(sample.wrapped_secret, secret_purpose(sample.access_key_id))
    except CryptoError:
        return False
    return True


def _first_wrapped_secret(store: Store) -> AccessKeyRecord | None:
    for account in store.list_accounts():
        for access_key in store.list_access_keys(account.account_id):
            return access_key
    return None
