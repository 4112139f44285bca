"""The root key's check value: stable for one key, different for another, and no disclosure of the key."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from kmsd.crypto import FileRootKey, RootKeyError
from kmsd.crypto.root_key import CHECK_VALUE_PREFIX

KEY = bytes(range(32))


def test_the_check_value_is_stable_and_names_its_format() -> None:
    first, second = FileRootKey(KEY), FileRootKey(KEY)
    assert first.check_value() == second.check_value()
    assert first.check_value().startswith(CHECK_VALUE_PREFIX)
    assert first.matches(second.check_value())


def test_another_key_has_another_check_value() -> None:
    assert not FileRootKey(KEY).matches(FileRootKey(bytes(32)).check_value())


def test_the_check_value_is_neither_the_key_nor_a_plain_hash_of_it() -> None:
    check = FileRootKey(KEY).check_value()
    digest = base64.b64decode(check.removeprefix(CHECK_VALUE_PREFIX))
    assert len(digest) == 32
    assert digest not in (KEY, hashlib.sha256(KEY).digest(), hashlib.sha512(KEY).digest()[:32])
    assert base64.b64encode(KEY).decode() not in check


def test_a_check_value_of_an_unknown_format_is_refused() -> None:
    with pytest.raises(RootKeyError, match="format"):
        FileRootKey(KEY).matches("kcv9:AAAA")


def test_load_never_creates_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(RootKeyError, match="does not exist"):
        FileRootKey.load(tmp_path / "root.key")
    assert not (tmp_path / "root.key").exists()
    created = FileRootKey.load_or_create(tmp_path / "root.key")
    assert FileRootKey.load(tmp_path / "root.key").matches(created.check_value())
