"""Typed condition values: numbers, dates, IP ranges, base64 binaries and Null's true/false.

Each ``parse_*`` function reads one value as written in a policy or sent in a
request and returns ``None`` when the text is not a value of that type, so the
parser can reject a policy and the evaluator can treat a malformed request
value as a non-match.  Dates follow IAM's legacy parser: text containing
``-`` or ``T`` is a W3C ISO-8601 date or date-time (UTC when no zone is
given), anything else is epoch seconds.
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

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_EPOCH = re.compile(r"[+-]?\d+(?:\.\d+)?")
_ISO = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
    r"(?:[Tt](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?"
)


def parse_number(text: str) -> int | float | None:
    text = text.strip()
    if _INTEGER.fullmatch(text):
        return int(text)
    if _NUMBER.fullmatch(text):
        return float(text)
    return None


def parse_date(text: str) -> float | None:
    """Seconds since the epoch, from ISO-8601 (W3C profile) or epoch-seconds text."""
    text = text.strip()
    if "-" not in text[1:] and "t" not in text.lower():
        return float(text) if _EPOCH.fullmatch(text) else None
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
