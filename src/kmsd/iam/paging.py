"""``Marker`` / ``MaxItems`` paging for the IAM list operations, with ``IsTruncated`` as AWS answers it.

IAM markers are opaque to clients: a client passes back the ``Marker`` of the
previous page, nothing else.  kmsd's marker names the sort key of the last item
returned (base64 with a version and the list's scope), so a page stays stable
while items are added or removed between calls, and a made-up marker, or one
from another list, is refused.  ``MaxItems`` defaults to 100 (IAM API
reference: "If you do not include this parameter, the number of items
defaults to 100"); the API layer has already checked its 1..1000 range.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kmsd.errors import AwsError

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100
_PREFIX = "kmsd-iam1:"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    marker: str | None

    def response_members(self) -> dict[str, Any]:
        """``IsTruncated`` always; ``Marker`` only when another page follows (AWS's response shape)."""
        if self.marker is None:
            return {"IsTruncated": False}
        return {"IsTruncated": True, "Marker": self.marker}


def invalid_marker() -> AwsError:
    return AwsError("ValidationError", "Invalid Marker.", 400)


def encode_marker(scope: str, sort_key: str) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{scope}:{sort_key}".encode()).decode("ascii")


def decode_marker(scope: str, marker: str) -> str:
    """The sort key a marker of ``scope`` names; ``ValidationError`` for anything else."""
    try:
        text = base64.urlsafe_b64decode(marker.encode("ascii")).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        raise invalid_marker() from None
    expected = f"{_PREFIX}{scope}:"
    if not text.startswith(expected):
        raise invalid_marker()
    return text[len(expected) :]


def paginate(items: Sequence[T], sort_key: Callable[[T], str], scope: str, params: Mapping[str, Any]) -> Page[T]:
    """One page of ``items``, ordered by ``sort_key``, after the request's ``Marker``."""
    # Sorting here rather than trusting the store's order keeps markers and order consistent.
    items = sorted(items, key=sort_key)
    limit = int(params.get("MaxItems") or DEFAULT_MAX_ITEMS)
    start = 0
    marker = params.get("Marker")
    if marker is not None:
        after = decode_marker(scope, str(marker))
        start = next((i for i, item in enumerate(items) if sort_key(item) > after), len(items))
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return Page(chunk, encode_marker(scope, sort_key(chunk[-1])) if more and chunk else None)
