"""Binding a root key to its store (kmsd.root_binding), on SQLite and PostgreSQL: new stores, stores of an older
kmsd, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.store.store_kinds import AnyStore

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey, RootKeyError, SystemRandomSource
from kmsd.iam.accounts import AccountDirectory
from kmsd.root_binding import ROOT_KEY_CHECK_SETTING, open_root_key

SERVER_KEY = FileRootKey(bytes(range(32)))
OTHER_KEY = FileRootKey(bytes(32))
ENV_VALUE = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="  # base64 of bytes(range(32))


def _with_an_account_wrapped_under(store: AnyStore, root_key: FileRootKey) -> None:
    AccountDirectory(store, root_key, ManualClock(), SystemRandomSource()).create("111122223333")


def test_a_new_store_records_the_key_it_is_first_opened_with(store: AnyStore, tmp_path: Path) -> None:
    opened = open_root_key(store, tmp_path, {"KMSD_ROOT_KEY": ENV_VALUE})
    assert store.get_setting(ROOT_KEY_CHECK_SETTING) == SERVER_KEY.check_value() == opened.check_value()
    assert not (tmp_path / "root.key").exists()
    assert open_root_key(store, tmp_path, {"KMSD_ROOT_KEY": ENV_VALUE}).matches(SERVER_KEY.check_value())


def test_a_new_store_without_kmsd_root_key_creates_the_file_once(store: AnyStore, tmp_path: Path) -> None:
    created = open_root_key(store, tmp_path, {})
    assert (tmp_path / "root.key").exists()
    assert open_root_key(store, tmp_path, {}).check_value() == created.check_value()
    (tmp_path / "root.key").unlink()
    with pytest.raises(RootKeyError, match="missing"):
        open_root_key(store, tmp_path, {})
    assert not (tmp_path / "root.key").exists()


def test_an_older_store_is_bound_after_its_secrets_open(store: AnyStore, tmp_path: Path) -> None:
    _with_an_account_wrapped_under(store, SERVER_KEY)
    assert store.get_setting(ROOT_KEY_CHECK_SETTING) is None
    with pytest.raises(RootKeyError, match="not the one"):
        open_root_key(store, tmp_path, {"KMSD_ROOT_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="})
    assert store.get_setting(ROOT_KEY_CHECK_SETTING) is None
    open_root_key(store, tmp_path, {"KMSD_ROOT_KEY": ENV_VALUE})
    assert store.get_setting(ROOT_KEY_CHECK_SETTING) == SERVER_KEY.check_value()


def test_an_older_store_with_secrets_never_gets_a_generated_key(store: AnyStore, tmp_path: Path) -> None:
    _with_an_account_wrapped_under(store, OTHER_KEY)
    with pytest.raises(RootKeyError, match="missing"):
        open_root_key(store, tmp_path, {})
    assert not (tmp_path / "root.key").exists()
    assert store.get_setting(ROOT_KEY_CHECK_SETTING) is None
