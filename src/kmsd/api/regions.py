"""Which regions a request may be signed for: AWS's region-name patterns, or the operator's allow-list.

The region of a SigV4 credential scope becomes part of every ARN kmsd builds
(``arn:aws:kms:REGION:ACCOUNT:key/...``), so it must be a region name and
nothing else: a region such as ``us-east-1:999999999999`` would shift the
account field of the ARN and escape policies that name the real account
(issue 9, item 6).  By default a region is valid when it matches the
``regionRegex`` of one of AWS's partitions, copied from botocore's
``data/partitions.json``; ``kmsd serve --regions us-east-1,eu-west-1`` narrows
that to an explicit list.  Anything else is refused as AWS refuses a region
its endpoint does not serve: ``InvalidSignatureException`` (JSON) or
``SignatureDoesNotMatch`` (query) with "Credential should be scoped to a valid
region, not '<region>'. ".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from kmsd.api.sigv4.errors import SigV4Error

# The regionRegex of each partition in botocore/data/partitions.json (aws, aws-cn, aws-eusc, aws-iso,
# aws-iso-b, aws-iso-e, aws-iso-f, aws-us-gov), as one ASCII-only pattern: Python's \w would also
# match non-ASCII letters, so it is spelled [A-Za-z0-9_] as in the JavaScript/Java engines AWS uses.
_WORD = r"[A-Za-z0-9_]+"
AWS_REGION_PATTERN = re.compile(
    rf"(?:(?:us|eu|ap|sa|ca|me|af|il|mx)-{_WORD}-\d+"
    rf"|cn-{_WORD}-\d+"
    rf"|eusc-de-{_WORD}-\d+"
    rf"|us-iso-{_WORD}-\d+"
    rf"|us-isob-{_WORD}-\d+"
    rf"|eu-isoe-{_WORD}-\d+"
    rf"|us-isof-{_WORD}-\d+"
    rf"|us-gov-{_WORD}-\d+)",
    re.ASCII,
)
# No AWS region name comes near this; it bounds the work on a hostile scope before any pattern runs.
_MAX_REGION_LENGTH = 64


class RegionPolicy:
    """Decides whether a credential scope's region is one this server answers for."""

    def __init__(self, allowed: Iterable[str] | None = None) -> None:
        self.allowed: frozenset[str] | None = frozenset(allowed) if allowed is not None else None
        # Each region seen valid is remembered, so the pattern runs once per region, not per request.
        self._valid: set[str] = set(self.allowed) if self.allowed is not None else set()

    def is_valid(self, region: str) -> bool:
        if region in self._valid:
            return True
        if self.allowed is not None or len(region) > _MAX_REGION_LENGTH:
            return False
        if AWS_REGION_PATTERN.fullmatch(region) is None:
            return False
        if len(self._valid) < 1024:
            self._valid.add(region)
        return True

    def check(self, region: str) -> None:
        """Raise AWS's signature error for a region this server does not answer for."""
        if not self.is_valid(region):
            raise SigV4Error("signature", f"Credential should be scoped to a valid region, not '{region}'. ")


def parse_region_list(text: str) -> list[str]:
    """``us-east-1,eu-west-1`` → the regions, each a valid AWS region name; ValueError names a bad one."""
    regions = [part.strip() for part in text.split(",") if part.strip()]
    if not regions:
        raise ValueError("expected a comma-separated list of regions, e.g. us-east-1,eu-west-1")
    for region in regions:
        if len(region) > _MAX_REGION_LENGTH or AWS_REGION_PATTERN.fullmatch(region) is None:
            raise ValueError(f"not an AWS region name: {region!r}")
    return regions
