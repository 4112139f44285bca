"""``Limit`` / ``Marker`` paging for the KMS list operations (ListKeys, ListAliases, ListResourceTags, ...).

The mechanism is :mod:`kmsd.paging`; this module is KMS's dialect of it: page
size ``Limit`` (default 100, AWS: "If you do not include a value, it defaults
to 100."), answers ``Truncated`` / ``NextMarker``, and refuses a bad marker
with ``InvalidMarkerException``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from kmsd.errors import AwsError
from kmsd.paging import Page, PagingDialect

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def invalid_marker() -> AwsError:
    return AwsError(
        "InvalidMarkerException",
        "The request was rejected because the marker that specifies where pagination should next begin is not valid.",
    )


KMS_PAGING = PagingDialect(
    marker_prefix="kmsd1:",
    size_member="Limit",
    truncated_member="Truncated",
    next_marker_member="NextMarker",
    invalid_marker=invalid_marker,
    default_size=DEFAULT_LIMIT,
)

encode_marker = KMS_PAGING.encode_marker
decode_marker = KMS_PAGING.decode_marker


def limit_of(params: Mapping[str, Any], default: int, maximum: int) -> int:
    """The page size: ``Limit`` when given (capped at the operation's maximum), else ``default``."""
    return KMS_PAGING.page_size(params, default, maximum)


def paginate(
    items: Sequence[T],
    sort_key: Callable[[T], str],
    scope: str,
    params: Mapping[str, Any],
    default: int = DEFAULT_LIMIT,
    maximum: int = MAX_LIMIT,
) -> Page[T]:
    """One page of ``items`` (already ordered by ``sort_key``) after the request's ``Marker``."""
    return KMS_PAGING.paginate(items, sort_key, scope, params, default, maximum)
