"""The background lease of a SQLite store (--workers, or two servers on one file): one holder, freed when it goes."""

from __future__ import annotations

import os
from pathlib import Path

from kmsd.store.sqlite.background_lease import FileLease


def test_one_lease_holds_and_a_closed_holder_frees_it(tmp_path: Path) -> None:
    path = tmp_path / "kmsd.db.sweep-lock"
    first, second = FileLease(path), FileLease(path)
    assert first.try_hold() is True
    assert first.try_hold() is True
    assert second.try_hold() is False
    # A process's descriptors close when it dies, however it dies; closing this one stands for that.
    assert first._descriptor is not None
    os.close(first._descriptor)
    assert second.try_hold() is True
    os.close(second._descriptor or -1)
