"""Policy documents as IAM returns them: URL-encoded JSON text.

IAM answers every policy document (a role's ``AssumeRolePolicyDocument``,
``GetPolicyVersion``'s ``Document``, ``GetUserPolicy``'s ``PolicyDocument``)
URL-encoded per RFC 3986 (IAM API reference, e.g. GetRole: "The policy is
returned as a URL-encoded JSON string"); the SDKs decode it (botocore's
``decode_quoted_jsondoc``).  The document is stored exactly as given and
encoded only on the way out.
"""

from __future__ import annotations

from urllib.parse import quote

# RFC 3986 unreserved characters stay as they are; everything else is percent-encoded.
_UNRESERVED = "-_.~"


def url_encoded(document: str) -> str:
    return quote(document, safe=_UNRESERVED)
