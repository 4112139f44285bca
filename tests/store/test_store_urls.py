"""open_store: the --store URL forms, directory creation, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmsd.store.base import StoreError
from kmsd.store.sqlite import SqliteStore
from kmsd.store.urls import open_store, redacted, sqlite_path


def test_three_slashes_name_a_path_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///data/nested/kmsd.db")
    try:
        assert isinstance(store, SqliteStore)
        assert store.ping()
    finally:
        store.close()
    assert (tmp_path / "data" / "nested" / "kmsd.db").is_file()


def test_the_default_url_creates_the_dot_kmsd_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:///./.kmsd/kmsd.db")
    store.set_setting("probe", "1")
    store.close()
    assert (tmp_path / ".kmsd" / "kmsd.db").is_file()
    reopened = open_store("sqlite:///./.kmsd/kmsd.db")
    try:
        assert reopened.get_setting("probe") == "1"
    finally:
        reopened.close()


def test_four_slashes_name_an_absolute_path(tmp_path: Path) -> None:
    target = tmp_path / "abs dir" / "kmsd.db"
    assert sqlite_path(f"sqlite:///{target}") == target
    store = open_store(f"sqlite:///{target}")
    store.close()
    assert target.is_file()


def test_percent_escapes_are_decoded() -> None:
    assert sqlite_path("sqlite:////tmp/my%20keys/kmsd.db") == Path("/tmp/my keys/kmsd.db")
    assert sqlite_path("sqlite:///rel/kmsd.db") == Path("rel/kmsd.db")


def test_an_unreachable_postgresql_store_is_refused_with_the_reason_and_no_password() -> None:
    with pytest.raises(StoreError) as refused:
        open_store("postgresql://kmsd:s3cret-pw@127.0.0.1:1/kmsd")
    message = str(refused.value)
    assert message.startswith("cannot connect to the PostgreSQL store at postgresql://kmsd:***@127.0.0.1:1/kmsd: ")
    assert "s3cret-pw" not in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://kmsd:s3cret@db:5432/kmsd", "postgresql://kmsd:***@db:5432/kmsd"),
        ("postgresql://:s3cret@db/kmsd", "postgresql://:***@db/kmsd"),
        ("postgresql://kmsd:s3c%40ret@db/kmsd", "postgresql://kmsd:***@db/kmsd"),
        ("postgresql://kmsd:s3c/ret@db/kmsd", "postgresql://kmsd:***@db/kmsd"),
        ("postgresql://kmsd@db/kmsd?password=s3cret", "postgresql://kmsd@db/kmsd?password=***"),
        (
            "postgresql://kmsd@db/kmsd?sslmode=require&password=s3cret&x=1",
            "postgresql://kmsd@db/kmsd?sslmode=require&password=***&x=1",
        ),
        ("postgresql://kmsd@db:5432/kmsd", "postgresql://kmsd@db:5432/kmsd"),
        ("postgresql://db:5432/kmsd?sslmode=require", "postgresql://db:5432/kmsd?sslmode=require"),
        ("postgresql://kmsd:s3cret@[::1/kmsd", "postgresql://kmsd:***@[::1/kmsd"),
    ],
)
def test_a_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert redacted(url) == shown


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("sqlite://", "sqlite:///relative"),
        ("sqlite://host/kmsd.db", "sqlite:///relative"),
        ("sqlite:///", "name a database file"),
        ("sqlite:///:memory:", "name a database file"),
        ("sqlite:///kmsd.db?mode=ro", "no query"),
        ("mysql://root@localhost/kmsd", "unsupported store URL scheme `mysql`"),
        ("./kmsd.db", "unsupported store URL scheme"),
    ],
)
def test_unusable_urls_are_refused_clearly(url: str, complaint: str) -> None:
    with pytest.raises(StoreError, match=complaint.replace("?", r"\?")):
        open_store(url)
