"""``Limit`` / ``Marker`` paging for the KMS list operations (ListKeys, ListAliases, ListResourceTags, ...).

KMS markers are opaque to clients: a client may only pass back a
``NextMarker`` it received.  kmsd's marker names the last item of the previous
page (its sort key), so paging stays stable while items are added or removed
between pages; it is base64-encoded with a version prefix so that a marker
made up by a client, or one from another list operation, is recognised and
answered with ``InvalidMarkerException``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kmsd.errors import AwsError

T = TypeVar("T")

DEFAULT_LIMIT = 100  # AWS: "If you do not include a value, it defaults to 100." (ListKeys, ListAliases, ...)
MAX_LIMIT = 1000
_PREFIX = "kmsd1:"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_marker: str | None

    def response_members(self) -> dict[str, Any]:
        """``Truncated`` always; ``NextMarker`` only when there is a next page (AWS's response shape)."""
        if self.next_marker is None:
            return {"Truncated": False}
        return {"Truncated": True, "NextMarker": self.next_marker}


def invalid_marker() -> AwsError:
    return AwsError(
        "InvalidMarkerException",
        "The request was rejected because the marker that specifies where pagination should next begin is not valid.",
    )


def encode_marker(scope: str, sort_key: str) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{scope}:{sort_key}".encode()).decode("ascii")


def decode_marker(scope: str, marker: str) -> str:
    """The sort key a marker of ``scope`` names; InvalidMarkerException for anything else."""
    try:
        text = base64.urlsafe_b64decode(marker.encode("ascii")).decode("utf-8")
    except (UnicodeError, binascii.Error, ValueError):
        raise invalid_marker() from None
    expected = f"{_PREFIX}{scope}:"
    if not text.startswith(expected):
        raise invalid_marker()
    return text[len(expected) :]


def limit_of(params: Mapping[str, Any], default: int, maximum: int) -> int:
    """The page size: ``Limit`` when given (capped at the operation's maximum), else ``default``."""
    value = params.get("Limit")
    return default if value is None else min(int(value), maximum)


def paginate(
    items: Sequence[T],
    sort_key: Callable[[T], str],
    scope: str,
    params: Mapping[str, Any],
    default: int = DEFAULT_LIMIT,
    maximum: int = MAX_LIMIT,
) -> Page[T]:
    """One page of ``items`` (already ordered by ``sort_key``) after the request's ``Marker``."""
    limit = limit_of(params, default, maximum)
    marker = params.get("Marker")
    start = 0
    if marker is not None:
        after = decode_marker(scope, str(marker))
        start = next((i for i, item in enumerate(items) if sort_key(item) > after), len(items))
    chunk = list(items[start : start + limit])
    more = start + limit < len(items)
    return Page(chunk, encode_marker(scope, sort_key(chunk[-1])) if more and chunk else None)
