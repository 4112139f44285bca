"""The sweep lease of ``kmsd serve --workers``: one holder at a time, and a holder that goes frees it."""

from __future__ import annotations

import os
from pathlib import Path

from kmsd.workers import SweepLease


def test_one_lease_holds_and_a_closed_holder_frees_it(tmp_path: Path) -> None:
    path = tmp_path / "kmsd.db.sweep-lock"
    first, second = SweepLease(path), SweepLease(path)
    assert first.try_hold() is True
    assert first.try_hold() is True
    assert second.try_hold() is False
    # A process's descriptors close when it dies, however it dies; closing this one stands for that.
    assert first._descriptor is not None
    os.close(first._descriptor)
    assert second.try_hold() is True
    os.close(second._descriptor or -1)
