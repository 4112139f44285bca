"""Randomness sources: the system source, and the seeded one tests use to replay runs."""

from __future__ import annotations

import pytest

from kmsd.crypto import SeededRandomSource, SystemRandomSource


def test_seeded_source_replays_the_same_bytes() -> None:
    first, second = SeededRandomSource(42), SeededRandomSource(42)
    assert [first.bytes(n) for n in (0, 1, 12, 32)] == [second.bytes(n) for n in (0, 1, 12, 32)]
    assert SeededRandomSource(43).bytes(32) != SeededRandomSource(42).bytes(32)


def test_seeded_source_refuses_negative_lengths() -> None:
    with pytest.raises(ValueError):
        SeededRandomSource(1).bytes(-1)


def test_system_source_gives_the_requested_length_and_fresh_bytes() -> None:
    source = SystemRandomSource()
    assert len(source.bytes(0)) == 0
    assert len(source.bytes(1024)) == 1024
    assert source.bytes(32) != source.bytes(32)
