"""What a trusted front end tells kmsd about a request: the client's address and the AWS service it acts for.

Both come from headers that kmsd reads only when the operator names them
(``kmsd serve --trusted-proxy-header``, ``--trusted-service-header``), because
a client that can set them chooses ``aws:SourceIp`` and ``kms:ViaService``.

The proxy header (``X-Forwarded-For``) is a list that each proxy extends on the
right with the peer it saw.  A client may send its own forged lines first, and
a proxy may append a new header line instead of extending the last one
(HAProxy's ``option forwardfor`` does), so all lines are joined in order into
one list, as RFC 9110 §5.3 says a recipient may combine them, and the address
is read from the right: with ``--trusted-proxy-hops N`` (default 1) the N-th
address from the right is the one the farthest trusted proxy appended, the
client as that proxy saw it.  Everything left of it is the client's word.  A
list shorter than N, or an entry that is not an IP address, means the request
did not come through the proxies as configured, and the TCP peer is used.

The service header names one AWS service.  A request carrying it more than
once, or with a comma-separated list, is ambiguous (which one is vouched
for?) and is refused with ``ValidationException`` (400) before the KMS call,
rather than any one of the values being picked.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence

from kmsd.errors import AwsError

# An AWS service's KMS ViaService name ("conditions-kms", kms:ViaService): ec2.us-west-2.amazonaws.com.
_VIA_SERVICE = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?")


def forwarded_source_ip(header_map: Mapping[str, Sequence[str]], header: str | None, hops: int = 1) -> str | None:
    """The client address the trusted proxies vouch for in ``header`` (lower case), or None to use the peer."""
    if header is None:
        return None
    lines = header_map.get(header)
    if not lines:
        return None
    entries = ",".join(lines).split(",")
    if len(entries) < hops:
        return None
    candidate = entries[-hops].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def via_service(header_map: Mapping[str, Sequence[str]], header: str | None) -> str | None:
    """``kms:ViaService`` from the trusted service header (lower case), if configured and well formed.

    Raises AWS's ``ValidationException`` when the header is repeated or lists several values.
    """
    if header is None:
        return None
    lines = header_map.get(header)
    if not lines:
        return None
    if len(lines) > 1 or "," in lines[0]:
        raise AwsError("ValidationException", f"The {header} header must be sent once, with one value.")
    value = lines[0].strip()
    return value if _VIA_SERVICE.fullmatch(value) else None
