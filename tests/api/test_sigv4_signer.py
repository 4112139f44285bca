"""The console's SigV4 signer (kmsd.api.sigv4.signer) signs as botocore does, and the verifier accepts it."""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from kmsd.api.sigv4 import parse_request, verify_at
from kmsd.api.sigv4.signer import signed_headers

BODY = b'{"KeyId":"alias/orders"}'
HEADERS = [
    ("content-type", "application/x-amz-json-1.1"),
    ("x-amz-target", "TrentService.DescribeKey"),
    ("host", "127.0.0.1:4599"),
]


def test_the_signature_is_botocores_and_the_verifier_accepts_it() -> None:
    for token in (None, "FwoGZXIvYXdzEXAMPLETOKEN"):
        request = AWSRequest(method="POST", url="http://127.0.0.1:4599/", data=BODY, headers=dict(HEADERS))
        SigV4Auth(Credentials("AKIDEXAMPLE", "secret", token), "kms", "eu-west-1").add_auth(request)
        # Signed at botocore's own moment, so that the two can be compared.
        now = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        signed = signed_headers(
            "POST",
            "/",
            HEADERS,
            BODY,
            access_key_id="AKIDEXAMPLE",
            secret_access_key="secret",
            session_token=token,
            region="eu-west-1",
            service="kms",
            now=now,
        )
        assert dict(signed)["authorization"] == request.headers["Authorization"]
        claims = parse_request("POST", "/", "", signed)
        verify_at(claims, "secret", BODY, now)
        assert claims.security_token == token
