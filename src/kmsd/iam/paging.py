"""``Marker`` / ``MaxItems`` paging for the IAM list operations, with ``IsTruncated`` as AWS answers it.

The mechanism is :mod:`kmsd.paging`; this module is IAM's dialect of it.
``MaxItems`` defaults to 100 (IAM API reference: "If you do not include this
parameter, the number of items defaults to 100"); the API layer has already
checked its 1..1000 range.  A bad marker is a ``ValidationError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from kmsd.errors import AwsError
from kmsd.paging import Page, PagingDialect

T = TypeVar("T")

DEFAULT_MAX_ITEMS = 100


def invalid_marker() -> AwsError:
    return AwsError("ValidationError", "Invalid Marker.", 400)


IAM_PAGING = PagingDialect(
    marker_prefix="kmsd-iam1:",
    size_member="MaxItems",
    truncated_member="IsTruncated",
    next_marker_member="Marker",
    invalid_marker=invalid_marker,
    default_size=DEFAULT_MAX_ITEMS,
)

encode_marker = IAM_PAGING.encode_marker
decode_marker = IAM_PAGING.decode_marker


def paginate(items: Sequence[T], sort_key: Callable[[T], str], scope: str, params: Mapping[str, Any]) -> Page[T]:
    """One page of ``items``, ordered by ``sort_key``, after the request's ``Marker``."""
    # Sorting here rather than trusting the store's order keeps markers and order consistent.
    return IAM_PAGING.paginate(sorted(items, key=sort_key), sort_key, scope, params)
