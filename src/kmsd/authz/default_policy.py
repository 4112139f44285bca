"""AWS's default key policy, the one CreateKey stores when the request has no ``Policy``.

"Default key policy" (AWS KMS Developer Guide): a key created through the API
without a policy gets exactly one statement, ``Enable IAM User Permissions``,
which gives the key's account (``arn:aws:iam::ACCOUNT:root``) ``kms:*`` on the
key and so lets IAM policies of that account reach it.  The document is
rendered as GetKeyPolicy returns it: AWS pretty-prints key policies it
generates in the layout of Jackson's default pretty printer (two-space
indents, ``"name" : value``, arrays on one line as ``[ {``...``} ]``), and
clients that compare policies byte for byte see the same text from kmsd.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_POLICY_ID = "key-default-1"


def default_key_policy_document(account_id: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Id": DEFAULT_POLICY_ID,
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }


def default_key_policy(account_id: str) -> str:
    """The default key policy text for a key in ``account_id``, exactly as AWS returns it."""
    return aws_pretty_json(default_key_policy_document(account_id))


def aws_pretty_json(value: Any) -> str:
    """``value`` as JSON in the layout AWS uses for the key policies it writes (Jackson's pretty printer)."""
    return _render(value, 0)


def _render(value: Any, depth: int) -> str:
    if isinstance(value, dict):
        if not value:
            return "{ }"
        inner = "  " * (depth + 1)
        members = ",\n".join(
            f"{inner}{json.dumps(k, ensure_ascii=False)} : {_render(v, depth + 1)}" for k, v in value.items()
        )
        return "{\n" + members + "\n" + "  " * depth + "}"
    if isinstance(value, list):
        if not value:
            return "[ ]"
        # Jackson indents arrays inline: elements share the enclosing object's depth.
        return "[ " + ", ".join(_render(item, depth) for item in value) + " ]"
    return json.dumps(value, ensure_ascii=False)
