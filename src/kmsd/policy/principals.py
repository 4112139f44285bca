"""``Principal``/``NotPrincipal`` values: validation and matching against the caller.

IAM User Guide, "AWS JSON policy elements: Principal": an account is named by
its 12-digit id or ``arn:aws:iam::ACCOUNT:root`` (both delegate to the whole
account, not only to its root user); users, roles, assumed-role sessions and
federated-user sessions are named by ARN (case-sensitive, no wildcards); an
assumed-role session is also reached through its role's ARN; ``"*"`` and
``{"AWS": "*"}`` mean everyone.  "AWS JSON policy elements: NotPrincipal": a
caller is exempted only when every identity it is evaluated as is listed (for
a role session: the session, its role and its account).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kmsd.policy.context import PrincipalInfo
from kmsd.policy.model import AllowVia, Principals

PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")

_ACCOUNT_ID = re.compile(r"\d{12}")
_ROOT_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):root")
_IDENTITY_ARN = re.compile(
    r"arn:aws[a-z-]*:(?:iam::\d{12}:(?:user|role)/[^*?]+|sts::\d{12}:(?:assumed-role/[^*?/]+/[^*?/]+|federated-user/[^*?/]+))"
)

# "IAM identifiers", unique ids of users and roles: IAM puts them in place of the ARN of a deleted principal.
_UNIQUE_ID = re.compile(r"A(?:IDA|ROA)[A-Z0-9]{16,}")


def principal_value_error(principal_type: str, value: str) -> str | None:
    """Why ``value`` is not a valid principal of ``principal_type``, or ``None`` when it is."""
    if value == "*" and principal_type == "AWS":
        return None
    if not value or "*" in value or "?" in value:
        return "wildcards can only stand alone, as `*`"
    if principal_type == "AWS":
        if _ACCOUNT_ID.fullmatch(value) or _ROOT_ARN.fullmatch(value) or _IDENTITY_ARN.fullmatch(value):
            return None
        if _UNIQUE_ID.fullmatch(value):
            # What a stored policy shows for a user or role deleted since it was saved; it matches no caller.
            return None
        return "expected an account id, an account root ARN, or a user, role or session ARN"
    return None


@dataclass(frozen=True)
class CompiledPrincipals:
    """A Principal element reduced to sets, so matching is a few lookups."""

    everyone: bool
    accounts: frozenset[str]
    arns: frozenset[str]
    services: frozenset[str]
    federated: frozenset[str]
    canonical: frozenset[str]

    def match(self, principal: PrincipalInfo) -> AllowVia | None:
        """How this element names the caller, or ``None`` when it does not."""
        if self.everyone:
            return AllowVia.PRINCIPAL
        kind = principal.kind
        if kind == "service":
            return AllowVia.PRINCIPAL if principal.arn in self.services else None
        if kind == "federated":
            return AllowVia.PRINCIPAL if principal.arn in self.federated else None
        if kind == "anonymous":
            return None
        if principal.arn in self.arns:
            return AllowVia.ROLE if kind == "role" else AllowVia.PRINCIPAL
        if principal.role_arn is not None and principal.role_arn in self.arns:
            return AllowVia.ROLE
        if principal.account_id in self.accounts:
            # The root user is the account itself, so naming the account names it directly.
            return AllowVia.PRINCIPAL if kind == "root" else AllowVia.ACCOUNT
        return None

    def excludes(self, principal: PrincipalInfo) -> bool:
        """For NotPrincipal: whether every identity the caller is evaluated as is listed."""
        if self.everyone:
            return True
        kind = principal.kind
        if kind == "service":
            return principal.arn in self.services
        if kind == "federated":
            return principal.arn in self.federated
        if kind == "anonymous":
            return False
        if principal.account_id not in self.accounts:
            return False
        if kind == "root":
            return True
        if principal.arn not in self.arns:
            return False
        return principal.role_arn is None or principal.role_arn in self.arns


def compile_principals(principals: Principals) -> CompiledPrincipals:
    everyone = principals.everyone
    accounts: set[str] = set()
    arns: set[str] = set()
    services: set[str] = set()
    federated: set[str] = set()
    canonical: set[str] = set()
    for principal_type, values in principals.entries:
        for value in values:
            if principal_type == "AWS":
                if value == "*":
                    everyone = True
                elif _ACCOUNT_ID.fullmatch(value):
                    accounts.add(value)
                elif (root := _ROOT_ARN.fullmatch(value)) is not None:
                    accounts.add(root.group(1))
                else:
                    arns.add(value)
            elif principal_type == "Service":
                services.add(value)
            elif principal_type == "Federated":
                federated.add(value)
            else:
                canonical.add(value)
    return CompiledPrincipals(
        everyone,
        frozenset(accounts),
        frozenset(arns),
        frozenset(services),
        frozenset(federated),
        frozenset(canonical),
    )
