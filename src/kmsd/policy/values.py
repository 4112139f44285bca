"""Typed condition values: numbers, dates, IP ranges, base64 binaries and Null's true/false.

Each ``parse_*`` function reads one value as written in a policy or sent in a
request and returns ``None`` when the text is not a value of that type, so the
parser can reject a policy and the evaluator can treat a malformed request
value as a non-match.  Dates follow IAM's legacy parser: text containing
``-`` or ``T`` is a W3C ISO-8601 date or date-time (UTC when no zone is
given), anything else is epoch seconds.

Request values reach these parsers at evaluation time, so none of them
backtracks: numbers are read by a scanner that looks at each character
once, and the ISO-8601 expression (fixed-width fields, optional groups, no
nested repetition) only ever sees text no longer than the longest date it
can match.  A number too long for :func:`int` (Python refuses more than
4,300 digits) is read as a float, so it still compares, as ``inf`` at worst.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import socket
import struct
from datetime import UTC, datetime, timedelta, timezone

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_ISO = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
    r"(?:[Tt](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?"
)


# The longest text _ISO can match: 2026-03-01T12:00:00.123456789+05:30.
_ISO_LONGEST = 35


def _is_digits(text: str) -> bool:
    """One or more ASCII digits (``str.isdigit`` alone also accepts other scripts' digits and superscripts)."""
    return text.isascii() and text.isdigit()


def _unsigned(text: str) -> str:
    return text[1:] if text[:1] in ("+", "-") else text


def _is_integer(text: str) -> bool:
    """``[+-]?digits``."""
    return _is_digits(_unsigned(text))


def _is_decimal(text: str, *, exponent: bool) -> bool:
    """``[+-]?(digits[.digits?] | .digits)``, then ``[eE][+-]?digits`` when ``exponent`` allows one."""
    body = _unsigned(text)
    if exponent:
        mantissa, marker, power = body.replace("E", "e").partition("e")
        if marker and not _is_integer(power):
            return False
        body = mantissa
    whole, point, fraction = body.partition(".")
    if not point:
        return _is_digits(whole)
    return (not whole or _is_digits(whole)) and (not fraction or _is_digits(fraction)) and bool(whole or fraction)


def _to_int(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:  # past Python's limit on digits for int(): still a number, compared as a float
        return float(text)


def parse_number(text: str) -> int | float | None:
    text = text.strip()
    if _is_integer(text):
        return _to_int(text)
    if _is_decimal(text, exponent=True):
        return float(text)
    return None


def parse_date(text: str) -> float | None:
    """Seconds since the epoch, from ISO-8601 (W3C profile) or epoch-seconds text."""
    text = text.strip()
    if "-" not in text[1:] and "t" not in text.lower():
        whole, point, fraction = _unsigned(text).partition(".")
        valid = _is_digits(whole) and (not point or _is_digits(fraction))
        return float(text) if valid else None
    if len(text) > _ISO_LONGEST:
        return None
    found = _ISO.fullmatch(text)
    if found is None:
        return None
    try:
        zone = _zone(found.group("zone"))
        fraction = found.group("fraction") or "0"
        moment = datetime(
            int(found.group("year")),
            int(found.group("month") or 1),
            int(found.group("day") or 1),
            int(found.group("hour") or 0),
            int(found.group("minute") or 0),
            int(found.group("second") or 0),
            tzinfo=zone,
        )
    except ValueError:
        return None
    return moment.timestamp() + float("0." + fraction)


def _zone(text: str | None) -> timezone:
    if text is None or text in ("Z", "z"):
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if offset >= timedelta(hours=24):
        raise ValueError("zone offset out of range")
    return timezone(sign * offset)


def parse_network(text: str) -> IpNetwork | None:
    """A CIDR range; a bare address means ``/32`` (``/128`` for IPv6)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


_IPV4_INTEGER = struct.Struct("!I").unpack


def parse_ipv4_address(text: str) -> int | None:
    """A bare dotted-quad IPv4 address as an integer; ``None`` for anything else (ranges, IPv6, malformed text).

    The C library's ``inet_pton`` accepts exactly the text :func:`parse_network`
    reads as a single IPv4 address (four decimal octets of at most 255, no
    leading zeros, nothing around them) and is several times faster than
    :mod:`ipaddress`, which matters for ``aws:SourceIp``, new on many requests.
    """
    if ":" in text:
        return None  # IPv6: the only address form with colons, and never IPv4
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):  # not IPv4 (OSError), or a NUL character (ValueError)
        return None
    address: int = _IPV4_INTEGER(packed)[0]
    return address


def parse_binary(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def parse_null_flag(text: str) -> bool | None:
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return None
