"""Which managed policies AssumeRole accepts as session policies (``PolicyArns``), and AWS's answer for the others.

STS API Reference, AssumeRole ``PolicyArns``: "The Amazon Resource Names
(ARNs) of the IAM managed policies that you want to use as managed session
policies.  The policies must exist in the same account as the role."  AWS
managed policies (account ``aws``) are everyone's.  An ARN naming a policy
that does not exist, or one of another account, is refused with
``MalformedPolicyDocument`` (the error STS models for a session policy it
cannot use) worded as IAM words a policy it cannot attach: "Policy ARN does
not exist or is not attachable."  Without this check another account's
private policy would be evaluated for the session, and what it allows could
be probed from outside.
"""

from __future__ import annotations

from collections.abc import Iterable

from kmsd.errors import AwsError
from kmsd.iam.aws_managed import AWS_ACCOUNT
from kmsd.store.base import Store


def policy_not_attachable(arn: str) -> AwsError:
    return AwsError("MalformedPolicyDocument", f"Policy {arn} does not exist or is not attachable.", 400)


def check_session_policy_arns(store: Store, role_account_id: str, arns: Iterable[str]) -> None:
    """Refuse the first ARN that is not a managed policy of the role's account or an AWS managed one."""
    for arn in arns:
        policy = store.get_policy(arn)
        if policy is None or policy.account_id not in (role_account_id, AWS_ACCOUNT):
            raise policy_not_attachable(arn)
