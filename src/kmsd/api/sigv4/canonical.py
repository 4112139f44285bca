"""The pieces of a SigV4 canonical request, built from what arrived on the wire.

Each function turns one raw part of an HTTP request into its canonical form as
AWS defines it in "Create a canonical request"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html):
the URI path (normalised, each segment URI-encoded), the query string
(RFC 3986 encoded, sorted), header values (trimmed, inner spaces collapsed) and
the ISO 8601 basic timestamp.  They work on strings only and know nothing of
credentials or keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import quote, quote_from_bytes, unquote_to_bytes

from kmsd.api.sigv4.errors import SigV4Error

_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_DROP_UNRESERVED = str.maketrans("", "", _UNRESERVED)
_HEX = frozenset("0123456789abcdefABCDEF")

# Raw request strings may carry arbitrary bytes smuggled through surrogateescape.
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"


def canonical_uri(raw_path: str) -> str:
    """The canonical URI of the path as sent, before any percent-decoding.

    Non-S3 services normalise the path (RFC 3986 dot-segment removal, repeated
    slashes collapsed) and then URI-encode it, so an already-encoded path is
    encoded a second time (``%20`` becomes ``%2520``), exactly as the SDKs sign it.
    """
    if raw_path == "/":
        return "/"
    return quote(_normalize_path(raw_path), safe="/", encoding=_ENCODING, errors=_ERRORS)


def _normalize_path(path: str) -> str:
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
        else:
            segments.append(segment)
    leading = "/" if path.startswith("/") else ""
    trailing = "/" if path.endswith("/") and segments else ""
    return leading + "/".join(segments) + trailing


def split_query(raw_query: str) -> list[tuple[str, str]]:
    """The ``name=value`` pairs of a raw query string, still percent-encoded, in order."""
    if not raw_query:
        return []
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if part:
            name, _, value = part.partition("=")
            pairs.append((name, value))
    return pairs


def encode_query(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each name and value re-encoded with RFC 3986, sorted by encoded name, then value.

    '+' is not a space in SigV4's encoding, so a literal '+' canonicalises to ``%2B``.
    """
    return sorted((canonical_component(name), canonical_component(value)) for name, value in pairs)


def join_query(encoded: Iterable[tuple[str, str]], without: str | None = None) -> str:
    """The canonical query string from :func:`encode_query`'s pairs, leaving out the parameter ``without``."""
    return "&".join(f"{name}={value}" for name, value in encoded if name != without)


def canonical_component(raw: str) -> str:
    """One query name or value, decoded once and encoded with only unreserved characters left bare."""
    if raw.isascii() and not raw.translate(_DROP_UNRESERVED):
        return raw
    return quote_from_bytes(decode_component(raw), safe="")


def decode_component(raw: str) -> bytes:
    """Percent-decode one query component, refusing broken escapes as AWS does."""
    data = raw.encode(_ENCODING, _ERRORS)
    if "%" in raw:
        _check_escapes(raw)
        return unquote_to_bytes(data)
    return data


def decode_text(raw: str) -> str:
    """Percent-decode one query component to text (for X-Amz-* authentication parameters)."""
    return decode_component(raw).decode(_ENCODING, _ERRORS)


def _check_escapes(raw: str) -> None:
    index = raw.find("%")
    while index != -1:
        escape = raw[index + 1 : index + 3]
        if len(escape) < 2:
            raise SigV4Error("malformed-query", "Incomplete trailing escape % sequence")
        if escape[0] not in _HEX or escape[1] not in _HEX:
            raise SigV4Error("malformed-query", f"Illegal hex character in escape % pattern: %{escape}")
        index = raw.find("%", index + 3)


def canonical_header_value(values: Sequence[str]) -> str:
    """Trim each value, collapse runs of spaces inside it, and join repeated headers with commas in order."""
    if len(values) == 1:
        value = values[0]
        if "\t" not in value and "  " not in value:
            return value.strip(" ")
        return _trim_all(value)
    return ",".join([_trim_all(value) for value in values])


def _trim_all(value: str) -> str:
    if "\t" in value:
        value = value.replace("\t", " ")
    if "  " not in value:
        return value.strip(" ")
    return " ".join(part for part in value.split(" ") if part)


def parse_amz_date(value: str) -> datetime | None:
    """``20150830T123600Z`` as an aware UTC datetime, or None if it is not ISO 8601 basic format."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z" or not value.isascii():
        return None
    if not (value[:8].isdigit() and value[9:15].isdigit()):
        return None
    try:
        # With the shape checked above, Python 3.11's parser reads exactly this basic format (as UTC).
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def parse_http_date(value: str) -> datetime | None:
    """An RFC 7231 ``Date`` header as an aware UTC datetime, or None if it does not parse."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_amz_date(moment: datetime) -> str:
    """An aware datetime in ISO 8601 basic format, to the second: ``20150830T123600Z``."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
