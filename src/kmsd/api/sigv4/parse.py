"""Read the SigV4 authentication a request carries, before any key is looked up.

:func:`parse_request` accepts both forms AWS accepts, the ``Authorization``
header and the presigned-URL query parameters (``X-Amz-Algorithm``,
``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``,
``X-Amz-SignedHeaders``, ``X-Amz-Signature``, ``X-Amz-Security-Token``), and
returns a :class:`SignedRequest`: who claims to be calling (access key id and
credential scope) plus the canonical parts of the request, so the server can
fetch the secret for that key and pick the service from the scope before it
verifies anything.  Structural problems raise :class:`SigV4Error` in the order
AWS reports them: broken query escapes, no authentication, unsupported
algorithm, malformed parameters, missing parameters, required headers not
signed, bad date, signed headers absent, malformed credential.

Besides ``host`` and the date, a header that changes the request's meaning
must be signed whenever it is present (``x-amz-target``,
``x-amz-security-token``, ``x-amz-content-sha256`` and, on a header-signed
request, ``content-type``), and a presigned URL's payload hash is read only
from its signed query, never from a header.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from kmsd.api.sigv4.canonical import (
    canonical_header_value,
    canonical_uri,
    decode_text,
    encode_query,
    format_amz_date,
    join_query,
    parse_amz_date,
    parse_http_date,
    split_query,
)
from kmsd.api.sigv4.errors import MISSING_TOKEN, SigV4Error

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
# A presigned URL is valid for at most seven days (the signing key's lifetime), per
# "Authenticating Requests: Using Query Parameters" in the Amazon S3 API Reference.
MAX_EXPIRES_SECONDS = 604800

_PRESIGN_MARKERS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature")
_HOST_NOT_SIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
_CREDENTIAL_PARTS = "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term,"
_NO_DATE = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
# Headers that change what a request means, so that whenever one is present the signature must cover it
# (issue 9, items 1 and 5): the operation (X-Amz-Target), the session (X-Amz-Security-Token), the claimed
# payload hash and, for a header-signed request, the body's content type (it picks the protocol).  Names
# are spelled in the message as AWS spells Host and X-Amz-Date in theirs.
_MUST_SIGN_WHEN_PRESENT = (
    ("x-amz-target", "X-Amz-Target"),
    ("x-amz-security-token", "X-Amz-Security-Token"),
    ("x-amz-content-sha256", "X-Amz-Content-SHA256"),
)
_MUST_SIGN_WHEN_PRESENT_IN_HEADER_FORM = (*_MUST_SIGN_WHEN_PRESENT, ("content-type", "Content-Type"))
_QUERY_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-SignedHeaders",
    "X-Amz-Date",
)


# A NamedTuple rather than a frozen dataclass: one is built per request, and a frozen dataclass's
# __init__ (object.__setattr__ per field) costs three times as much for these 17 fields.
class SignedRequest(NamedTuple):
    """A request's SigV4 claims and its canonical parts, as read from the wire (nothing verified yet)."""

    access_key_id: str
    date: str  # credential-scope date, YYYYMMDD
    region: str
    service: str
    terminator: str  # credential-scope terminator; anything but "aws4_request" fails verification
    signed_headers: tuple[str, ...]
    signature: str
    security_token: str | None
    timestamp: datetime  # X-Amz-Date (or Date) of the request, aware UTC
    amz_date: str  # the timestamp as it enters the string to sign: 20150830T123600Z
    presigned: bool
    expires: int | None  # X-Amz-Expires seconds, presigned requests only
    content_sha256: str | None  # the payload hash the client claims (x-amz-content-sha256)
    method: str
    canonical_uri: str
    canonical_query: str
    canonical_headers: str  # "name:value" lines for the signed headers, newline-joined

    @property
    def credential_scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def parse_request(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Sequence[tuple[str, str]],
) -> SignedRequest:
    """Read the SigV4 authentication of one request.

    ``raw_path`` and ``raw_query`` are exactly as they appeared in the request
    target (still percent-encoded; bytes outside UTF-8 passed through
    ``surrogateescape``); ``headers`` are (name, value) pairs in arrival order,
    names in any case.  Raises :class:`SigV4Error` when the request carries no
    authentication or carries it malformed.
    """
    return parse_grouped_request(method, raw_path, raw_query, group_headers(headers))


def group_headers(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Header values by lower-case name, each name's values in arrival order."""
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        key = name.lower()
        values = grouped.get(key)
        if values is None:
            grouped[key] = [value]
        else:
            values.append(value)
    return grouped


def parse_grouped_request(
    method: str,
    raw_path: str,
    raw_query: str,
    header_map: Mapping[str, Sequence[str]],
) -> SignedRequest:
    """:func:`parse_request` for headers already grouped by :func:`group_headers` (the server groups them once)."""
    if raw_query:
        query = split_query(raw_query)
        # Broken escapes are reported before anything else, as AWS does.
        encoded_query = encode_query(query)
    else:
        query, encoded_query = [], []

    if "authorization" in header_map:
        return _from_header(method, raw_path, encoded_query, header_map)
    auth_params = _presign_params(query)
    if any(marker in auth_params for marker in _PRESIGN_MARKERS):
        return _from_query(method, raw_path, encoded_query, header_map, auth_params)
    raise SigV4Error("missing", MISSING_TOKEN)


def _joined(values: Sequence[str]) -> str:
    """A repeated header's values as one, comma-joined in arrival order."""
    return values[0] if len(values) == 1 else ",".join(values)


def _from_header(
    method: str,
    raw_path: str,
    encoded_query: list[tuple[str, str]],
    header_map: Mapping[str, Sequence[str]],
) -> SignedRequest:
    authorization = _joined(header_map["authorization"])
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm.startswith("AWS4-") and algorithm != ALGORITHM:
        raise SigV4Error("incomplete", f"Unsupported AWS 'algorithm': '{algorithm}'.")

    # AWS splits the parameters on commas and whitespace alike, so "Credential=a, SignedHeaders=b"
    # and "Credential=a,SignedHeaders=b" both parse and "Credential= a" does not.
    params: dict[str, str] = {}
    for token in rest.replace(",", " ").split():
        key, equals, value = token.partition("=")
        if not equals:
            raise SigV4Error(
                "incomplete",
                f"'{token}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                f"'{authorization}'.",
            )
        if key not in params:
            params[key] = value

    date_header = "x-amz-date" if "x-amz-date" in header_map else "date" if "date" in header_map else None
    credential = params.get("Credential")
    signature = params.get("Signature")
    signed_header_names = params.get("SignedHeaders")
    if not (credential and signature and signed_header_names) or date_header is None:
        problems = [
            f"Authorization header requires '{name}' parameter."
            for name in ("Credential", "Signature", "SignedHeaders")
            if not params.get(name)
        ]
        if date_header is None:
            problems.append(_NO_DATE)
        raise SigV4Error("incomplete", " ".join(problems) + f" Authorization={authorization}")
    if algorithm != ALGORITHM:
        raise SigV4Error("incomplete", f"Unsupported AWS 'algorithm': '{algorithm}'.")

    signed_headers = tuple(signed_header_names.split(";"))
    _require_signed(signed_headers, "host", _HOST_NOT_SIGNED)
    # "If you include a date or x-amz-date header, you must also include that header in the
    # list of signed headers" (IAM User Guide, "Create a signed AWS API request").
    if date_header not in signed_headers:
        shown = "X-Amz-Date" if date_header == "x-amz-date" else "Date"
        raise SigV4Error("signature", f"'{shown}' must be a 'SignedHeader' in the AWS Authorization.")
    _require_signed_when_present(signed_headers, header_map, _MUST_SIGN_WHEN_PRESENT_IN_HEADER_FORM)
    raw_date = _joined(header_map[date_header])
    if date_header == "x-amz-date":
        timestamp = parse_amz_date(raw_date)
        amz_date = raw_date
    else:
        timestamp = parse_http_date(raw_date)
        amz_date = format_amz_date(timestamp) if timestamp is not None else ""
    if timestamp is None:
        raise _bad_date(raw_date)

    session_token = header_map.get("x-amz-security-token")
    claimed_hash = header_map.get("x-amz-content-sha256")
    return _signed_request(
        method=method,
        raw_path=raw_path,
        canonical_query=join_query(encoded_query) if encoded_query else "",
        header_map=header_map,
        credential=credential,
        signed_headers=signed_headers,
        signature=signature,
        timestamp=timestamp,
        amz_date=amz_date,
        security_token=_joined(session_token) if session_token else None,
        content_sha256=_joined(claimed_hash) if claimed_hash else None,
        presigned=False,
        expires=None,
    )


def _from_query(
    method: str,
    raw_path: str,
    encoded_query: list[tuple[str, str]],
    header_map: Mapping[str, Sequence[str]],
    auth_params: dict[str, str],
) -> SignedRequest:
    algorithm = auth_params.get("X-Amz-Algorithm")
    if algorithm is not None and algorithm != ALGORITHM:
        raise SigV4Error("incomplete", f"Unsupported AWS 'algorithm': '{algorithm}'.")
    problems = [
        f"AWS query-string parameters must include '{name}'." for name in _QUERY_PARAMS if not auth_params.get(name)
    ]
    if problems:
        raise SigV4Error("incomplete", " ".join(problems) + " Re-examine the query-string parameters.")

    expires = _parse_expires(auth_params.get("X-Amz-Expires"))
    signed_headers = tuple(auth_params["X-Amz-SignedHeaders"].split(";"))
    _require_signed(signed_headers, "host", _HOST_NOT_SIGNED)
    # On a presigned URL only what the signature covers may say what is called: an unsigned operation
    # header would turn a URL handed out for one call into any call (the body is refused by verify).
    _require_signed_when_present(signed_headers, header_map, _MUST_SIGN_WHEN_PRESENT)
    raw_date = auth_params["X-Amz-Date"]
    timestamp = parse_amz_date(raw_date)
    if timestamp is None:
        raise _bad_date(raw_date)

    # The payload hash comes from the signed query or from the body itself, never from an unsigned header.
    content_sha256 = auth_params.get("X-Amz-Content-Sha256")
    return _signed_request(
        method=method,
        raw_path=raw_path,
        # The signature is the one query parameter the signature cannot cover.
        canonical_query=join_query(encoded_query, without="X-Amz-Signature"),
        header_map=header_map,
        credential=auth_params["X-Amz-Credential"],
        signed_headers=signed_headers,
        signature=auth_params["X-Amz-Signature"],
        timestamp=timestamp,
        amz_date=raw_date,
        security_token=auth_params.get("X-Amz-Security-Token"),
        content_sha256=content_sha256,
        presigned=True,
        expires=expires,
    )


def _presign_params(query: list[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in query:
        if name.startswith("X-Amz-") or "%" in name:
            params.setdefault(decode_text(name), decode_text(value))
    return params


def _parse_expires(raw: str | None) -> int | None:
    # Wording and limits of S3's AuthorizationQueryParametersError, the only service that documents them.
    if raw is None:
        return None
    if raw.startswith("-") and raw[1:].isascii() and raw[1:].isdigit():
        raise SigV4Error("incomplete", "X-Amz-Expires must be non-negative")
    if not (raw.isascii() and raw.isdigit()):
        raise SigV4Error("incomplete", "X-Amz-Expires should be a number")
    # int() of more than sys.get_int_max_str_digits() digits raises ValueError: compare the text first.
    stripped = raw.lstrip("0")
    expires = int(stripped or "0") if len(stripped) <= len(str(MAX_EXPIRES_SECONDS)) else MAX_EXPIRES_SECONDS + 1
    if expires > MAX_EXPIRES_SECONDS:
        raise SigV4Error(
            "incomplete",
            "X-Amz-Expires must be less than a week (in seconds) that is, "
            f"the given X-Amz-Expires must be less than {MAX_EXPIRES_SECONDS} seconds",
        )
    return expires


def _require_signed(signed_headers: tuple[str, ...], name: str, message: str) -> None:
    if name not in signed_headers:
        raise SigV4Error("signature", message)


def _require_signed_when_present(
    signed_headers: tuple[str, ...],
    header_map: Mapping[str, Sequence[str]],
    names: Sequence[tuple[str, str]],
) -> None:
    for name, shown in names:
        if name in header_map and name not in signed_headers:
            raise SigV4Error("signature", f"'{shown}' must be a 'SignedHeader' in the AWS Authorization.")


def _bad_date(raw: str) -> SigV4Error:
    return SigV4Error(
        "incomplete",
        f"Date must be in ISO-8601 'basic format'. Got '{raw}'. See http://en.wikipedia.org/wiki/ISO_8601",
    )


def _signed_request(
    *,
    method: str,
    raw_path: str,
    canonical_query: str,
    header_map: Mapping[str, Sequence[str]],
    credential: str,
    signed_headers: tuple[str, ...],
    signature: str,
    timestamp: datetime,
    amz_date: str,
    security_token: str | None,
    content_sha256: str | None,
    presigned: bool,
    expires: int | None,
) -> SignedRequest:
    lines: list[str] = []
    for name in signed_headers:
        values = header_map.get(name)
        if values is None:
            raise SigV4Error(
                "incomplete",
                f"'{name}' is named as a SignedHeader, but it does not exist in the HTTP request.",
            )
        lines.append(f"{name}:{canonical_header_value(values)}")

    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise SigV4Error("incomplete", f"{_CREDENTIAL_PARTS} got '{credential}'")
    access_key_id, date, region, service, terminator = parts
    # Positional, in field order (each variable is named after its field): NamedTuple's generated
    # __new__ binds 17 keywords at three times the cost of 17 positions, on every request.
    return SignedRequest(
        access_key_id,
        date,
        region,
        service,
        terminator,
        signed_headers,
        signature,
        security_token,
        timestamp,
        amz_date,
        presigned,
        expires,
        content_sha256,
        method,
        canonical_uri(raw_path),  # canonical_uri
        canonical_query,
        "\n".join(lines),  # canonical_headers
    )
