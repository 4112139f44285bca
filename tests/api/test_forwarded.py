"""Trusted front-end headers (issue 9, item 8): every X-Forwarded-For line counts, read from the right."""

from __future__ import annotations

import pytest

from kmsd.api.forwarded import forwarded_source_ip, via_service
from kmsd.errors import AwsError

HEADER = "x-forwarded-for"
SERVICE = "x-via"


def source_ip(lines: list[str], hops: int = 1) -> str | None:
    return forwarded_source_ip({HEADER: lines}, HEADER, hops)


def test_untrusted_or_absent_header_is_never_read() -> None:
    assert forwarded_source_ip({HEADER: ["203.0.113.7"]}, None) is None
    assert forwarded_source_ip({}, HEADER) is None


def test_all_lines_are_joined_and_the_last_address_wins() -> None:
    assert source_ip(["203.0.113.7"]) == "203.0.113.7"
    # A forged first line, then the line a proxy appended (HAProxy's option forwardfor).
    assert source_ip(["203.0.113.7", "198.51.100.9"]) == "198.51.100.9"
    assert source_ip(["203.0.113.7, 10.0.0.1", "198.51.100.9 "]) == "198.51.100.9"


def test_hops_count_trusted_proxies_from_the_right() -> None:
    lines = ["6.6.6.6, 203.0.113.7", "10.0.0.2"]
    assert source_ip(lines, hops=2) == "203.0.113.7"
    assert source_ip(lines, hops=3) == "6.6.6.6"
    # Fewer entries than trusted proxies: the request did not come through them all; use the peer.
    assert source_ip(lines, hops=4) is None


def test_an_entry_that_is_not_an_address_falls_back_to_the_peer() -> None:
    assert source_ip(["203.0.113.7", "unknown"]) is None
    assert source_ip(["2001:db8::1"]) == "2001:db8::1"


def test_service_header_must_be_single_and_single_valued() -> None:
    assert via_service({SERVICE: ["ec2.us-east-1.amazonaws.com"]}, SERVICE) == "ec2.us-east-1.amazonaws.com"
    assert via_service({SERVICE: ["not a service"]}, SERVICE) is None
    assert via_service({SERVICE: ["ec2.us-east-1.amazonaws.com"]}, None) is None
    for lines in (["ec2.us-east-1.amazonaws.com"] * 2, ["ec2.us-east-1.amazonaws.com,s3.us-east-1.amazonaws.com"]):
        with pytest.raises(AwsError) as excinfo:
            via_service({SERVICE: lines}, SERVICE)
        assert (excinfo.value.code, excinfo.value.status) == ("ValidationException", 400)
