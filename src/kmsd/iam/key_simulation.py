"""The seam between IAM's policy simulator and the KMS authorizer: what a KMS-aware simulation asks and answers.

iam/ may not import authz/ (the package table of docs/architecture.md), yet
the simulator (:mod:`kmsd.iam.simulation`) must decide KMS key permissions
exactly as the live authorizer does.  So it asks a :class:`KeySimulator`,
which the composition root (``kmsd.server``) builds from
:mod:`kmsd.authz.simulation` and hands to the IAM service.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

from kmsd.iam.identity_policies import IdentityPolicySet
from kmsd.iam.principal import Principal
from kmsd.policy import Decision, Outcome, Policy


class KeySimulation(NamedTuple):
    """The live decision on one KMS key permission, made from the key's real policy and grants."""

    outcome: Outcome
    decision: Decision | None  # the evaluation of (key policy, *identity policies), if one was made
    key_policy: Policy | None
    key_policy_text: str
    grants: tuple[str, ...]  # the ids of the grants that allowed the call


class KeySimulator(Protocol):
    """KMS-aware simulation, injected by the composition root (iam/ cannot import authz/)."""

    def simulate_key(
        self,
        principal: Principal,
        identity: IdentityPolicySet,
        action: str,
        resource: str,
        keys: Mapping[str, str | Sequence[str]],
    ) -> KeySimulation | None:
        """The live decision of ``action`` on the key ``resource`` names, or None when no such key permission exists."""
        ...
