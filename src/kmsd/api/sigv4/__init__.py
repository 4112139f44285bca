"""AWS Signature Version 4, as the server checks it: parse the claims, then verify them.

``parse`` reads a request's claims from the Authorization header or a presigned
query (no secret needed), ``canonical`` holds AWS's URI, query, header and date
canonicalisation, ``verifier`` derives the signing key and checks skew, scope and
signature, and ``errors`` maps each failure to the AWS error of the JSON or
query protocol.  The names below are the package's public face; the API layer
imports them from here.
"""

from kmsd.api.sigv4.errors import (
    AWS_ERRORS,
    ErrorShape,
    Kind,
    Protocol,
    SigV4Error,
    expired_session_token,
    to_aws_error,
    unknown_access_key,
)
from kmsd.api.sigv4.parse import ALGORITHM, SignedRequest, parse_request
from kmsd.api.sigv4.verifier import (
    MAX_SKEW,
    UNSIGNED_PAYLOAD,
    SigningKeyCache,
    canonical_request,
    payload_hash,
    signing_key,
    string_to_sign,
    verify,
)

# The app verifies at a clock reading it already took (one per request); it is
# public but kept out of ``__all__``, which lists the verifier's contract.
from kmsd.api.sigv4.verifier import verify_at as verify_at

__all__ = [
    "ALGORITHM",
    "AWS_ERRORS",
    "MAX_SKEW",
    "UNSIGNED_PAYLOAD",
    "ErrorShape",
    "Kind",
    "Protocol",
    "SigV4Error",
    "SignedRequest",
    "SigningKeyCache",
    "canonical_request",
    "expired_session_token",
    "parse_request",
    "payload_hash",
    "signing_key",
    "string_to_sign",
    "to_aws_error",
    "unknown_access_key",
    "verify",
]
