"""The IAM policy language as a pure library: parse, validate, match, evaluate and explain.

``parse_policy`` turns a JSON document into a validated, compiled
:class:`Policy` of one :class:`PolicyKind` (compiled once per distinct
document); ``evaluate`` applies AWS's policy evaluation logic to a
:class:`RequestContext` and a set of policies and returns a :class:`Decision`
that names the deciding statements and, for a denial, which kind of policy
denied or failed to allow.  The package imports the standard library only and
knows nothing of HTTP, storage or KMS.
"""

from kmsd.policy.context import PrincipalInfo, RequestContext
from kmsd.policy.decision import (
    ConditionTrace,
    Decision,
    KindMatch,
    KindVerdict,
    Mismatch,
    Outcome,
    StatementMatch,
    StatementTrace,
)
from kmsd.policy.errors import PolicySizeError, PolicyValidationError
from kmsd.policy.evaluate import evaluate
from kmsd.policy.limits import SizeLimit, size_limit_for
from kmsd.policy.model import AllowVia, Condition, Effect, Policy, PolicyDocument, PolicyKind, Principals, Statement
from kmsd.policy.parser import parse_policy

__all__ = [
    "AllowVia",
    "Condition",
    "ConditionTrace",
    "Decision",
    "Effect",
    "KindMatch",
    "KindVerdict",
    "Mismatch",
    "Outcome",
    "Policy",
    "PolicyDocument",
    "PolicyKind",
    "PolicySizeError",
    "PolicyValidationError",
    "PrincipalInfo",
    "Principals",
    "RequestContext",
    "SizeLimit",
    "Statement",
    "StatementMatch",
    "StatementTrace",
    "evaluate",
    "parse_policy",
    "size_limit_for",
]
