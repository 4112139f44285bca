"""The server's own AWS Signature Version 4 verifier: who signed this request, and did they.

A request is authenticated in two steps so the caller can look up credentials
in between::

    signed = parse_request(method, raw_path, raw_query, headers)  # claims only
    secret = store.secret_for(signed.access_key_id)                  # caller's job
    verify(signed, secret, body, clock)                              # raises SigV4Error

:func:`verify` checks, in AWS's order, presigned expiry, the 15-minute clock
skew, the credential scope (terminator, date) and finally the HMAC-SHA256
signature over the canonical request, compared in constant time.  The payload
is always covered: its hash is the body's own, a claimed
``x-amz-content-sha256`` must equal it (``UNSIGNED-PAYLOAD``, an S3
convention, never does), and a presigned URL carries no body at all.

Derived signing keys are cached per (date, region, service) in a mapping the
caller keeps *with the credential* (:class:`SigningKeyCache`, held by the
credential resolver's entry for the access key), so a busy server derives each
key once a day instead of four HMACs per request, and the keys of a deleted or
deactivated secret go when the resolver forgets it: nothing here is a global
cache keyed by a secret.  Failures are :class:`SigV4Error`;
:func:`to_aws_error` turns one into the AWS error of the JSON or query
protocol.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import MutableMapping
from datetime import datetime, timedelta
from typing import Any

from kmsd.api.sigv4.canonical import format_amz_date
from kmsd.api.sigv4.errors import (
    REQUEST_EXPIRED,
    SIGNATURE_MISMATCH,
    SigV4Error,
)
from kmsd.api.sigv4.parse import ALGORITHM, TERMINATOR, SignedRequest
from kmsd.clock import Clock

# "The request reached the service more than 15 minutes after the date stamp on the
# request ... or the date stamp on the request is more than 15 minutes in the future"
# (RequestExpired, "Common Errors" in the KMS, IAM and STS API references).
MAX_SKEW = timedelta(minutes=15)
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_CONTENT_HASH_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."

# The derived keys of one secret, by (date, region, service), as the keyed HMAC states of
# :func:`_keyed_hashes`.  The values are opaque to the holder (typed Any so that the IAM package, which
# keeps the mapping with the credential, need not import this one).
SigningKeyCache = MutableMapping[tuple[str, str, str], Any]
# One credential signs for a few regions and services a day; a client cycling through many scopes
# only costs derivations, never memory.
_KEYS_PER_CREDENTIAL = 64


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")."""
    key = hmac.digest(f"AWS4{secret_access_key}".encode(), date.encode(), "sha256")
    key = hmac.digest(key, region.encode(), "sha256")
    key = hmac.digest(key, service.encode(), "sha256")
    return hmac.digest(key, TERMINATOR.encode(), "sha256")


# HMAC-SHA256 (RFC 2104): H((K ^ opad) || H((K ^ ipad) || message)), with K zero-padded to the 64-byte block.
_BLOCK_SIZE = 64
_IPAD = bytes(byte ^ 0x36 for byte in range(256))
_OPAD = bytes(byte ^ 0x5C for byte in range(256))


def _keyed_hashes(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    """The inner and outer SHA-256 states of HMAC under ``key``, each already fed its padded key block."""
    if len(key) > _BLOCK_SIZE:
        key = hashlib.sha256(key).digest()
    block = key.ljust(_BLOCK_SIZE, b"\0")
    return hashlib.sha256(block.translate(_IPAD)), hashlib.sha256(block.translate(_OPAD))


def _signing_states(
    secret_access_key: str, request: SignedRequest, cache: SigningKeyCache | None
) -> tuple[hashlib._Hash, hashlib._Hash]:
    """The keyed HMAC states of the request's signing key, from ``cache`` when it holds them."""
    scope = (request.date, request.region, request.service)
    if cache is not None:
        states: tuple[hashlib._Hash, hashlib._Hash] | None = cache.get(scope)
        if states is not None:
            return states
    states = _keyed_hashes(signing_key(secret_access_key, *scope))
    if cache is not None:
        if len(cache) >= _KEYS_PER_CREDENTIAL:
            cache.clear()
        cache[scope] = states
    return states


def _hmac_sha256(states: tuple[hashlib._Hash, hashlib._Hash], message: bytes) -> bytes:
    """``hmac.digest(key, message, "sha256")`` from the key's keyed states, at half its cost.

    OpenSSL 3 looks the digest up again on every ``hmac.digest`` call, which
    costs more than hashing a request's string to sign; continuing from the
    cached keyed states (copies of two SHA-256 contexts) gives the same MAC.
    """
    inner_state, outer_state = states
    inner = inner_state.copy()
    inner.update(message)
    outer = outer_state.copy()
    outer.update(inner.digest())
    return outer.digest()


def payload_hash(request: SignedRequest, body: bytes) -> str:
    """The payload hash that enters the canonical request.

    Hex SHA-256 of the body, or the ``x-amz-content-sha256`` value the client
    sent (a signed header, or the presigned URL's signed query), which must
    then be that same hash: the body is always covered.  ``UNSIGNED-PAYLOAD``
    is S3's convention; KMS, IAM and STS compute the hash themselves, so it is
    refused like any other hash that is not the body's.  A presigned URL names
    its call in the signed query alone: a body is refused outright, as the
    signature mismatch AWS answers for it.
    """
    if request.presigned and body:
        raise SigV4Error("signature", SIGNATURE_MISMATCH)
    actual = hashlib.sha256(body).hexdigest()
    claimed = request.content_sha256
    if claimed is None:
        return actual
    if claimed.lower() != actual:
        raise SigV4Error("signature", _CONTENT_HASH_MISMATCH)
    return claimed


def canonical_request(request: SignedRequest, payload: str) -> str:
    """Method, URI, query, headers, signed header names and payload hash, one per line."""
    return (
        f"{request.method}\n{request.canonical_uri}\n{request.canonical_query}\n"
        f"{request.canonical_headers}\n\n{';'.join(request.signed_headers)}\n{payload}"
    )


def string_to_sign(request: SignedRequest, canonical: str) -> str:
    """Algorithm, request time, credential scope and the hex SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{request.amz_date}\n{request.credential_scope}\n{digest}"


def verify(
    request: SignedRequest, secret_access_key: str, body: bytes, clock: Clock, keys: SigningKeyCache | None = None
) -> None:
    """Accept the request or raise :class:`SigV4Error` saying why AWS would reject it.

    ``keys`` is where the derived signing keys of ``secret_access_key`` are kept between requests
    (see :data:`SigningKeyCache`); without it each request derives its key afresh.
    """
    verify_at(request, secret_access_key, body, clock.now(), keys)


def verify_at(
    request: SignedRequest,
    secret_access_key: str,
    body: bytes,
    now: datetime,
    keys: SigningKeyCache | None = None,
) -> None:
    """:func:`verify` at the time ``now`` (a clock reading the caller also uses for the request)."""
    if request.expires is not None and now > request.timestamp + timedelta(seconds=request.expires):
        raise SigV4Error("expired", REQUEST_EXPIRED)
    _check_skew(request, now)
    _check_scope(request)

    canonical = canonical_request(request, payload_hash(request, body))
    to_sign = string_to_sign(request, canonical)
    states = _signing_states(secret_access_key, request, keys)
    expected = _hmac_sha256(states, to_sign.encode("utf-8", "surrogateescape")).hex()
    given = request.signature.encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(expected.encode(), given):
        raise SigV4Error("signature", SIGNATURE_MISMATCH, canonical_request=canonical, string_to_sign=to_sign)


def _check_skew(request: SignedRequest, now: datetime) -> None:
    # AWS quotes the times to the second: "... than 20150830T122100Z (20150830T123600Z - 15 min.)".
    if request.timestamp < now - MAX_SKEW:
        raise SigV4Error(
            "skew",
            f"Signature expired: {request.amz_date} is now earlier than {format_amz_date(now - MAX_SKEW)} "
            f"({format_amz_date(now)} - 15 min.)",
        )
    if request.timestamp > now + MAX_SKEW:
        raise SigV4Error(
            "skew",
            f"Signature not yet current: {request.amz_date} is still later than "
            f"{format_amz_date(now + MAX_SKEW)} ({format_amz_date(now)} + 15 min.)",
        )


def _check_scope(request: SignedRequest) -> None:
    problems = []
    if request.terminator != TERMINATOR:
        problems.append(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{request.terminator}'."
        )
    if request.date != request.amz_date[:8]:
        problems.append(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{request.date}' != '{request.amz_date[:8]}', from '{request.amz_date}'."
        )
    if problems:
        raise SigV4Error("signature", " ".join(problems))
