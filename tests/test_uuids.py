"""kmsd.uuids: the text is exactly what Python's uuid module gives for the same bytes, with the right version."""

from __future__ import annotations

import uuid

from kmsd.uuids import random_uuid, time_ordered_uuid


def test_random_uuids_are_version_4() -> None:
    ids = [random_uuid() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_time_ordered_uuids_are_version_7_with_the_time_first() -> None:
    text = time_ordered_uuid(0x0123_4567_89AB)
    parsed = uuid.UUID(text)
    assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert text.startswith("01234567-89ab-7")
    # Later milliseconds sort later, whatever the random bits.
    assert sorted([time_ordered_uuid(2), time_ordered_uuid(1), time_ordered_uuid(3)])[0].startswith("00000000-0001-")
