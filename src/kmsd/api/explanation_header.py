"""The ``x-kmsd-explanation`` response header: a one-line summary of why a KMS call was denied.

``kmsd serve --explain-denials`` puts the full trace of a denial in the JSON
body (``kmsdExplanation``), but boto3 and the AWS CLI drop body members their
model does not know.  Response headers survive: boto3 keeps them in
``ResponseMetadata.HTTPHeaders`` (also on a ``ClientError``), and
``aws --debug`` logs them.  So the same explanation is summarised here: for
each permission that was refused, the action, the resource, AWS's reason and
the statements that decided (``key-policy:DenyAll``, ``Payroll:#0``).  A header
must be one line of visible ASCII (RFC 9110, "Field Values"), so anything
else is escaped, and it is cut at :data:`MAX_LENGTH` characters so a policy
with many statements cannot make it larger than a proxy accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

HEADER = b"x-kmsd-explanation"
MAX_LENGTH = 1024
_ELLIPSIS = "..."


def summary(explanation: Mapping[str, Any]) -> str:
    """``kms:Encrypt on ARN: denied, because ... [deny: key-policy:Deny1; allow: ...]``, per refused check."""
    checks = [check for check in explanation.get("checks", ()) if not check.get("allowed", False)]
    parts = [_check_summary(check) for check in checks] or [str(explanation.get("decision", "Deny"))]
    return _header_safe(" | ".join(parts))


def _check_summary(check: Mapping[str, Any]) -> str:
    text = f"{check.get('action', '?')} on {check.get('resource', '?')}: denied"
    reason = check.get("reason")
    if reason:
        text += f", {reason}"
    deciding = _deciding_statements(check.get("policies") or {})
    if deciding:
        text += f" [{deciding}]"
    return text


def _deciding_statements(policies: Mapping[str, Any]) -> str:
    """``deny: POLICY:SID, ...; allow: POLICY:SID, ...``: the statements that applied, Denies first."""
    deny: list[str] = []
    allow: list[str] = []
    for verdict in (policies.get("kinds") or {}).values():
        # Statement ids are already qualified by their policy's name (key-policy:Sid, a user policy's name:#0).
        deny.extend(_strings(verdict.get("deny_statements")))
        allow.extend(_strings(verdict.get("allow_statements")))
    parts = []
    if deny:
        parts.append("deny: " + ", ".join(deny))
    if allow:
        parts.append("allow: " + ", ".join(allow))
    return "; ".join(parts) if parts else "no statement applied"


def _strings(values: Any) -> Sequence[str]:
    return [str(value) for value in values] if isinstance(values, list | tuple) else []


def _header_safe(text: str) -> str:
    # Key-policy Sids may hold Latin-1 and tabs: keep the header visible ASCII, escaped rather than dropped.
    visible = "".join(char if " " <= char <= "~" else char.encode("unicode_escape").decode("ascii") for char in text)
    if len(visible) > MAX_LENGTH:
        visible = visible[: MAX_LENGTH - len(_ELLIPSIS)] + _ELLIPSIS
    return visible
