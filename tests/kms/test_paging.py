"""Markers and pages for the list operations."""

from __future__ import annotations

import pytest

from kmsd.kms.paging import KMS_PAGING, decode_marker, encode_marker, paginate
from kmsd.paging import Page

from .aws_errors import aws_error

ITEMS = [f"item{i}" for i in range(5)]


def collect(limit: int) -> list[list[str]]:
    pages: list[list[str]] = []
    params: dict[str, object] = {"Limit": limit}
    while True:
        page = paginate(ITEMS, lambda item: item, "test", params)
        pages.append(page.items)
        if page.next_marker is None:
            return pages
        params = {"Limit": limit, "Marker": page.next_marker}


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        (1, [[item] for item in ITEMS]),
        (2, [ITEMS[:2], ITEMS[2:4], ITEMS[4:]]),
        (5, [ITEMS]),
        (1000, [ITEMS]),
    ],
)
def test_pages_cover_every_item_once(limit: int, expected: list[list[str]]) -> None:
    assert collect(limit) == expected


def test_marker_round_trip_and_scope() -> None:
    marker = encode_marker("aliases", "alias/a")
    assert decode_marker("aliases", marker) == "alias/a"
    with aws_error("InvalidMarkerException"):
        decode_marker("keys", marker)


def test_items_added_between_pages_do_not_repeat_earlier_ones() -> None:
    first = paginate(ITEMS, lambda item: item, "test", {"Limit": 2})
    grown = sorted([*ITEMS, "item0a"])
    assert first.next_marker is not None
    second = paginate(grown, lambda item: item, "test", {"Limit": 2, "Marker": first.next_marker})
    assert second.items == ["item2", "item3"]


def test_response_members() -> None:
    assert Page(["a"], None, KMS_PAGING).response_members() == {"Truncated": False}
    assert Page(["a"], "m", KMS_PAGING).response_members() == {"Truncated": True, "NextMarker": "m"}


def test_limit_is_capped_at_the_operation_maximum() -> None:
    page = paginate(ITEMS, lambda item: item, "test", {"Limit": 4}, default=2, maximum=3)
    assert page.items == ITEMS[:3]
    assert paginate(ITEMS, lambda item: item, "test", {}, default=2, maximum=3).items == ITEMS[:2]
