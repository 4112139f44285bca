"""Size limits per kind of policy, measured the way AWS measures them.

KMS quotas ("Key policy document size"): a key policy may be up to 32 KB
(32,768 bytes), whitespace included, and KMS answers a larger one with
LimitExceededException.  IAM quotas ("IAM and AWS STS quotas", character
limits): managed policies 6,144 characters, inline policies 2,048 (user),
5,120 (group) and 10,240 (role) characters, session policies 2,048
characters; "IAM doesn't count white space when calculating the size of a
policy against these limits".
"""

from __future__ import annotations

from dataclasses import dataclass

from kmsd.policy.errors import PolicySizeError
from kmsd.policy.model import PolicyKind

_WHITESPACE = str.maketrans("", "", " \t\n\r\f\v")


@dataclass(frozen=True)
class SizeLimit:
    """A maximum size and how to measure a document against it."""

    name: str
    limit: int
    counts_whitespace: bool
    unit: str  # "bytes" | "characters"
    message: str  # AWS's LimitExceeded wording; ``{limit}`` is filled in

    def measure(self, text: str) -> int:
        if self.counts_whitespace:
            return len(text.encode("utf-8")) if self.unit == "bytes" else len(text)
        return len(text.translate(_WHITESPACE))

    def check(self, text: str) -> None:
        size = self.measure(text)
        if size > self.limit:
            raise PolicySizeError(
                self.message.format(limit=self.limit),
                size=size,
                limit=self.limit,
                detail=f"the {self.name} is {size} {self.unit}; the limit is {self.limit} {self.unit}",
                # Access Analyzer's "Policy size exceeds ... quota" checks (a key policy is a resource policy).
                code="POLICY_SIZE_EXCEEDS_RESOURCE_POLICY_QUOTA"
                if self.counts_whitespace
                else "POLICY_SIZE_EXCEEDS_IDENTITY_POLICY_QUOTA",
            )


_INLINE = "Maximum policy size of {limit} bytes exceeded"
KEY_POLICY = SizeLimit("key policy", 32_768, True, "bytes", "The key policy exceeds the maximum size of {limit} bytes.")
MANAGED_POLICY = SizeLimit("managed policy", 6_144, False, "characters", "Cannot exceed quota for PolicySize: {limit}")
USER_INLINE_POLICY = SizeLimit("user inline policy", 2_048, False, "characters", _INLINE)
GROUP_INLINE_POLICY = SizeLimit("group inline policy", 5_120, False, "characters", _INLINE)
ROLE_INLINE_POLICY = SizeLimit("role inline policy", 10_240, False, "characters", _INLINE)
SESSION_POLICY = SizeLimit("session policy", 2_048, False, "characters", "Maximum policy size of {limit} exceeded")

_DEFAULTS = {
    PolicyKind.RESOURCE: KEY_POLICY,
    PolicyKind.IDENTITY: MANAGED_POLICY,
    PolicyKind.PERMISSIONS_BOUNDARY: MANAGED_POLICY,
    PolicyKind.SESSION: SESSION_POLICY,
}


def size_limit_for(kind: PolicyKind) -> SizeLimit:
    """The limit ``parse_policy`` applies when given none: key policy, managed policy or session policy."""
    return _DEFAULTS[kind]
