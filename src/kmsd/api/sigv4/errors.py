"""Why a SigV4 check failed, and the AWS error each failure becomes on the wire.

The verifier raises one exception type, :class:`SigV4Error`, whose ``kind`` says
what went wrong and whose ``message`` is AWS's wording for that case.  The
mapping from kind to error code and HTTP status differs between the JSON 1.1
protocol (KMS: ``__type``) and the query protocol (IAM, STS: ``<Code>``); it is
kept here as data, :data:`AWS_ERRORS`, so the API layer only has to call
:func:`to_aws_error`.

Kinds::

    missing          no Authorization header and no X-Amz-* query authentication
    incomplete       malformed Authorization / credential / date, unsupported algorithm
    malformed-query  a percent escape in the query string is broken
    signature        signature mismatch, required header not signed, bad credential scope
    skew             request time more than 15 minutes from the server's clock
    expired          presigned URL used after X-Amz-Expires seconds
    unrecognized     unknown access key id (raised by the caller after the key lookup)
    token-expired    expired session token (raised by the caller for session credentials)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from kmsd.errors import EXPIRED_SECURITY_TOKEN, INVALID_SECURITY_TOKEN, AwsError

Kind = Literal[
    "missing",
    "incomplete",
    "malformed-query",
    "signature",
    "skew",
    "expired",
    "unrecognized",
    "token-expired",
]
Protocol = Literal["json", "query"]

# AWS's fixed messages.  Sources: scratchstack-aws-signature (an AWS-compatible
# verifier that records AWS's responses), AWS's "Common Errors" pages, and error
# bodies quoted from real KMS, DynamoDB, STS and EC2 responses in SDK issues.
MISSING_TOKEN = "Request is missing Authentication Token"
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = INVALID_SECURITY_TOKEN
EXPIRED_TOKEN = EXPIRED_SECURITY_TOKEN
REQUEST_EXPIRED = "Request has expired."


@dataclass(frozen=True, slots=True)
class ErrorShape:
    code: str
    status: int


# JSON 1.1 services (Coral) answer 400 for every authentication failure; the query
# services answer 403 except for malformed signatures, as AWS's "Common Errors"
# pages list (https://docs.aws.amazon.com/STS/latest/APIReference/CommonErrors.html).
AWS_ERRORS: Mapping[Protocol, Mapping[Kind, ErrorShape]] = {
    "json": {
        "missing": ErrorShape("MissingAuthenticationTokenException", 400),
        "incomplete": ErrorShape("IncompleteSignatureException", 400),
        "malformed-query": ErrorShape("MalformedQueryString", 404),
        "signature": ErrorShape("InvalidSignatureException", 400),
        "skew": ErrorShape("InvalidSignatureException", 400),
        "expired": ErrorShape("RequestExpired", 400),
        "unrecognized": ErrorShape("UnrecognizedClientException", 400),
        "token-expired": ErrorShape("ExpiredTokenException", 400),
    },
    "query": {
        "missing": ErrorShape("MissingAuthenticationToken", 403),
        "incomplete": ErrorShape("IncompleteSignature", 400),
        "malformed-query": ErrorShape("MalformedQueryString", 404),
        "signature": ErrorShape("SignatureDoesNotMatch", 403),
        "skew": ErrorShape("SignatureDoesNotMatch", 403),
        "expired": ErrorShape("RequestExpired", 400),
        "unrecognized": ErrorShape("InvalidClientTokenId", 403),
        "token-expired": ErrorShape("ExpiredToken", 403),
    },
}


class SigV4Error(Exception):
    """A request failed SigV4 authentication; ``kind`` picks the AWS error, ``message`` is AWS's text.

    A signature mismatch also carries the canonical request and string to sign
    the server computed, because the query services print them back to the
    caller (they hold nothing secret: the client sent every byte of them).
    """

    def __init__(
        self,
        kind: Kind,
        message: str,
        *,
        canonical_request: str | None = None,
        string_to_sign: str | None = None,
    ) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: Kind = kind
        self.message = message
        self.canonical_request = canonical_request
        self.string_to_sign = string_to_sign


def unknown_access_key() -> SigV4Error:
    """The error for an access key id the store does not know."""
    return SigV4Error("unrecognized", INVALID_TOKEN)


def expired_session_token() -> SigV4Error:
    """The error for a session token past its expiry."""
    return SigV4Error("token-expired", EXPIRED_TOKEN)


def to_aws_error(error: SigV4Error, protocol: Protocol) -> AwsError:
    """The AWS error ``error`` becomes in ``protocol``: code, HTTP status and message."""
    shape = AWS_ERRORS[protocol][error.kind]
    message = error.message
    if protocol == "query" and error.canonical_request is not None and error.string_to_sign is not None:
        # STS and IAM append what they computed to SignatureDoesNotMatch, e.g. boto/boto3#756.
        message = (
            f"{message}\n\nThe Canonical String for this request should have been\n"
            f"'{error.canonical_request}'\n\nThe String-to-Sign should have been\n'{error.string_to_sign}'\n"
        )
    return AwsError(shape.code, message, shape.status)
