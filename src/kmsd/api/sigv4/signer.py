"""Signing a request with SigV4, for the console's calls made on a signed-in user's behalf.

The console (:mod:`kmsd.console`) keeps a user's credentials on the server and
runs each of the user's actions as a real request through the app's own
pipeline, so the request must carry a real signature.  The signature is
computed with the verifier's own canonicalisation
(:func:`~kmsd.api.sigv4.verifier.canonical_request` over the request as
:func:`~kmsd.api.sigv4.parse.parse_request` reads it), so what is signed here
is by construction what the verifier checks.  Clients outside the server sign
with their SDK; the tests check the verifier against botocore's signer and
AWS's published suite, not against this module.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import datetime

from kmsd.api.sigv4.canonical import format_amz_date
from kmsd.api.sigv4.parse import ALGORITHM, TERMINATOR, parse_request
from kmsd.api.sigv4.verifier import canonical_request, signing_key, string_to_sign

# A placeholder the parser accepts where the signature goes; the real one replaces it.
_PLACEHOLDER = "0" * 64


def signed_headers(
    method: str,
    path: str,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    access_key_id: str,
    secret_access_key: str,
    session_token: str | None,
    region: str,
    service: str,
    now: datetime,
) -> list[tuple[str, str]]:
    """``headers`` plus ``x-amz-date``, ``x-amz-security-token`` (if any) and an ``Authorization`` signing them all.

    ``headers`` must include ``host``; every header given is signed.
    """
    amz_date = format_amz_date(now)
    date = amz_date[:8]
    all_headers = [*headers, ("x-amz-date", amz_date)]
    if session_token:
        all_headers.append(("x-amz-security-token", session_token))
    names = ";".join(sorted({name.lower() for name, _ in all_headers}))
    scope = f"{date}/{region}/{service}/{TERMINATOR}"

    def authorization(signature: str) -> str:
        return f"{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={names}, Signature={signature}"

    claims = parse_request(method, path, "", [*all_headers, ("authorization", authorization(_PLACEHOLDER))])
    to_sign = string_to_sign(claims, canonical_request(claims, hashlib.sha256(body).hexdigest()))
    key = signing_key(secret_access_key, date, region, service)
    signature = hmac.digest(key, to_sign.encode("utf-8", "surrogateescape"), "sha256").hex()
    return [*all_headers, ("authorization", authorization(signature))]
