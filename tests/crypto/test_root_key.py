"""The root key: wrapping bound to a purpose, the 0600 key file, and KMSD_ROOT_KEY."""

from __future__ import annotations

import base64
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kmsd.crypto import CryptoError, FileRootKey, RootKeyError, SeededRandomSource

ROOT = FileRootKey(bytes(range(32)), SeededRandomSource(11))
purposes = st.binary(max_size=40)


@given(st.binary(max_size=256), purposes)
def test_wrap_unwrap_round_trip(secret: bytes, purpose: bytes) -> None:
    assert ROOT.unwrap(ROOT.wrap(secret, purpose), purpose) == secret


@given(st.binary(max_size=64), purposes, purposes)
def test_unwrap_with_another_purpose_fails(secret: bytes, purpose: bytes, other: bytes) -> None:
    wrapped = ROOT.wrap(secret, purpose)
    if other == purpose:
        assert ROOT.unwrap(wrapped, other) == secret
    else:
        with pytest.raises(CryptoError):
            ROOT.unwrap(wrapped, other)


@given(st.binary(max_size=64), st.data())
def test_any_single_bit_flip_in_a_wrapped_value_fails(secret: bytes, data: st.DataObject) -> None:
    wrapped = bytearray(ROOT.wrap(secret, b"purpose"))
    bit = data.draw(st.integers(min_value=0, max_value=len(wrapped) * 8 - 1))
    wrapped[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(CryptoError):
        ROOT.unwrap(bytes(wrapped), b"purpose")


def test_wrapped_layout_starts_with_the_version_byte() -> None:
    wrapped = ROOT.wrap(b"k" * 32, b"p")
    assert wrapped[0] == 1
    assert len(wrapped) == 1 + 12 + 32 + 16


@pytest.mark.parametrize("wrapped", [b"", b"\x01", b"\x01" + bytes(27), b"\x02" + bytes(60)])
def test_malformed_wrapped_values_fail(wrapped: bytes) -> None:
    with pytest.raises(CryptoError):
        ROOT.unwrap(wrapped, b"p")


def test_another_root_key_cannot_unwrap() -> None:
    other = FileRootKey(bytes(32))
    with pytest.raises(CryptoError):
        other.unwrap(ROOT.wrap(b"secret", b"p"), b"p")


def test_load_or_create_writes_a_0600_file_and_reloads_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "data" / "root.key"
    first = FileRootKey.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_bytes().strip(), validate=True)) == 32
    again = FileRootKey.load_or_create(path)
    assert again.unwrap(first.wrap(b"secret", b"p"), b"p") == b"secret"
    # The temporary file used for the atomic creation is gone.
    assert [entry.name for entry in path.parent.iterdir()] == ["root.key"]


def test_load_or_create_is_safe_when_two_starts_race(tmp_path: Path) -> None:
    path = tmp_path / "root.key"
    keys: list[FileRootKey] = []
    start = threading.Barrier(4)

    def load() -> None:
        start.wait()
        keys.append(FileRootKey.load_or_create(path))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wrapped = keys[0].wrap(b"secret", b"p")
    assert all(key.unwrap(wrapped, b"p") == b"secret" for key in keys)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_a_key_file_open_to_group_or_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "root.key"
    FileRootKey.load_or_create(path)
    path.chmod(mode)
    with pytest.raises(RootKeyError, match="chmod 600"):
        FileRootKey.load_or_create(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"not base64!!", base64.b64encode(bytes(16)), base64.b64encode(bytes(33))],
    ids=["empty", "not-base64", "16-bytes", "33-bytes"],
)
def test_a_bad_key_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "root.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(RootKeyError):
        FileRootKey.load_or_create(path)


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    (tmp_path / "root.key").mkdir()
    with pytest.raises(RootKeyError, match="not a regular file"):
        FileRootKey.load_or_create(tmp_path / "root.key")


def test_from_env_accepts_base64_of_32_bytes_with_surrounding_whitespace() -> None:
    key = FileRootKey.from_env(" " + base64.b64encode(bytes(range(32))).decode() + "\n")
    assert key.unwrap(ROOT.wrap(b"secret", b"p"), b"p") == b"secret"


@pytest.mark.parametrize("value", ["", "***", base64.b64encode(bytes(31)).decode()])
def test_from_env_refuses_anything_else_without_echoing_it(value: str) -> None:
    with pytest.raises(RootKeyError) as excinfo:
        FileRootKey.from_env(value)
    assert "KMSD_ROOT_KEY" in str(excinfo.value)
    assert value == "" or value not in str(excinfo.value)


def test_an_unreadable_location_is_a_root_key_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    with pytest.raises(RootKeyError, match="cannot use root key"):
        FileRootKey.load_or_create(blocker / "root.key")
