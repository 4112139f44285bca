"""Opaque-marker paging shared by the KMS and IAM list operations; each service supplies its dialect.

Markers are opaque to clients: a client may only pass back the marker it
received.  kmsd's marker names the sort key of the last item of the previous
page, base64-encoded behind a version prefix and the list's scope, so paging
stays stable while items are added or removed between calls, and a marker a
client made up, or one from another list, is refused with the service's own
error.  What differs between services is only vocabulary, so that is all a
:class:`PagingDialect` holds: KMS pages with ``Limit`` and answers
``Truncated`` / ``NextMarker``; IAM pages with ``MaxItems`` and answers
``IsTruncated`` / ``Marker``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kmsd.errors import AwsError

T = TypeVar("T")


@dataclass(frozen=True)
class PagingDialect:
    """One service's paging vocabulary."""

    marker_prefix: str  # versions markers and keeps one service's markers out of the other's lists
    size_member: str  # the request member that sets the page size
    truncated_member: str  # the response member saying whether more pages follow
    next_marker_member: str  # the response member carrying the next page's marker
    invalid_marker: Callable[[], AwsError]
    default_size: int

    def encode_marker(self, scope: str, sort_key: str) -> str:
        return base64.urlsafe_b64encode(f"{self.marker_prefix}{scope}:{sort_key}".encode()).decode("ascii")

    def decode_marker(self, scope: str, marker: str) -> str:
        """The sort key a marker of ``scope`` names; the dialect's error for anything else."""
        try:
            text = base64.urlsafe_b64decode(marker.encode("ascii")).decode("utf-8")
        except (UnicodeError, binascii.Error, ValueError):
            raise self.invalid_marker() from None
        expected = f"{self.marker_prefix}{scope}:"
        if not text.startswith(expected):
            raise self.invalid_marker()
        return text[len(expected) :]

    def page_size(self, params: Mapping[str, Any], default: int | None = None, maximum: int | None = None) -> int:
        """The requested page size (capped at ``maximum`` when given), else the default."""
        value = params.get(self.size_member)
        size = (self.default_size if default is None else default) if value is None else int(value)
        return size if maximum is None else min(size, maximum)

    def paginate(
        self,
        items: Sequence[T],
        sort_key: Callable[[T], str],
        scope: str,
        params: Mapping[str, Any],
        default: int | None = None,
        maximum: int | None = None,
    ) -> Page[T]:
        """One page of ``items`` (already ordered by ``sort_key``) after the request's ``Marker``."""
        size = self.page_size(params, default, maximum)
        marker = params.get("Marker")
        start = 0
        if marker is not None:
            after = self.decode_marker(scope, str(marker))
            start = next((i for i, item in enumerate(items) if sort_key(item) > after), len(items))
        chunk = list(items[start : start + size])
        more = start + size < len(items)
        next_marker = self.encode_marker(scope, sort_key(chunk[-1])) if more and chunk else None
        return Page(chunk, next_marker, self)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_marker: str | None
    dialect: PagingDialect

    def response_members(self) -> dict[str, Any]:
        """The truncation flag always; the next marker only when another page follows (AWS's response shapes)."""
        if self.next_marker is None:
            return {self.dialect.truncated_member: False}
        return {self.dialect.truncated_member: True, self.dialect.next_marker_member: self.next_marker}
