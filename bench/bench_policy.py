"""Decisions per second of the policy engine for a typical KMS request, and how cost grows with policy size.

Run: ``.venv/bin/python bench/bench_policy.py``.  Scenario "typical" is a
``kms:Encrypt`` call against a 4-statement key policy plus two 3-statement
identity policies with conditions; scenario "large" pads each policy to 200
statements.  Each is measured with the same context reused (the engine
alone), with a new context per call (what an authorizer pays), and with new
condition values per call (so the per-action memo of verdicts never hits);
and against a peer in the same run: the same decision with the documents
parsed and compiled on every call (what the parse-once cache saves), so the
printed ratio holds on any machine.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from kmsd.policy import PolicyKind, PrincipalInfo, RequestContext, SizeLimit, evaluate, parse_policy
from kmsd.policy.parser import clear_cache

# The large scenario goes past AWS's size limits on purpose, to show how cost grows with statement count.
UNLIMITED = SizeLimit("benchmark policy", 10**9, True, "bytes", "")

ACCOUNT = "111122223333"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/worker-1"


def key_policy(padding: int) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Allow use of the key",
            "Effect": "Allow",
            "Principal": {"AWS": ROLE_ARN},
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}},
        },
        {
            "Sid": "Allow administration",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"},
            "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:Put*", "kms:Disable*"],
            "Resource": "*",
        },
        {
            "Sid": "Deny outside the network",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "kms:*",
            "Resource": "*",
            "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}},
        },
    ]
    statements += [
        {
            "Sid": f"Pad{index}",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/team-{index}"},
            "Action": ["kms:Encrypt", "kms:Decrypt"],
            "Resource": "*",
            "Condition": {"StringEquals": {f"kms:EncryptionContext:team{index}": "yes"}},
        }
        for index in range(padding)
    ]
    return {"Version": "2012-10-17", "Id": "key-policy", "Statement": statements}


def identity_policy(name: str, padding: int) -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "UseKeys",
            "Effect": "Allow",
            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": f"arn:aws:kms:*:{ACCOUNT}:key/*",
            "Condition": {
                "StringLike": {"kms:EncryptionContext:project": "${aws:PrincipalTag/project}*"},
                "Bool": {"aws:SecureTransport": "true"},
            },
        },
        {
            "Sid": "ReadOnly",
            "Effect": "Allow",
            "Action": ["kms:Describe*", "kms:List*", "kms:Get*"],
            "Resource": "*",
        },
        {
            "Sid": "NoDeletes",
            "Effect": "Deny",
            "Action": ["kms:ScheduleKeyDeletion", "kms:DeleteAlias"],
            "Resource": "*",
        },
    ]
    statements += [
        {
            "Sid": f"{name}Pad{index}",
            "Effect": "Allow",
            "Action": "kms:Encrypt",
            "Resource": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/pad-{index}-*",
            "Condition": {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["project", f"k{index}"]}},
        }
        for index in range(padding)
    ]
    return {"Version": "2012-10-17", "Statement": statements}


def context(project: str = "alpha-1") -> RequestContext:
    principal = PrincipalInfo(SESSION_ARN, ACCOUNT, "assumed-role", role_arn=ROLE_ARN)
    return RequestContext(
        action="kms:Encrypt",
        resource=KEY_ARN,
        principal=principal,
        keys={
            "aws:SourceIp": "10.1.2.3",
            "aws:SecureTransport": "true",
            "aws:PrincipalTag/project": "alpha",
            "aws:PrincipalArn": ROLE_ARN,
            "kms:ViaService": "s3.us-east-1.amazonaws.com",
            "kms:EncryptionContext:project": project,
            "kms:EncryptionContextKeys": ["project"],
            "kms:CallerAccount": ACCOUNT,
        },
    )


def rate(run: Callable[[], object], seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            run()
        count += 200
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start)


def scenario(name: str, statements_per_policy: int, seconds: float) -> None:
    padding_key = max(0, statements_per_policy - 4)
    padding_identity = max(0, statements_per_policy - 3)
    documents = [
        (json.dumps(key_policy(padding_key)), PolicyKind.RESOURCE, "key"),
        (json.dumps(identity_policy("A", padding_identity)), PolicyKind.IDENTITY, "policy-a"),
        (json.dumps(identity_policy("B", padding_identity)), PolicyKind.IDENTITY, "policy-b"),
    ]
    policies = [parse_policy(text, kind, name, max_size=UNLIMITED) for text, kind, name in documents]
    request = context()
    decision = evaluate(request, policies)

    def warm() -> object:
        return evaluate(request, policies)

    def fresh_context() -> object:
        return evaluate(context(), policies)

    counter = iter(range(10**12))

    def varying() -> object:
        # A new encryption context value every call: the per-action memo never hits, every statement runs.
        return evaluate(context(f"alpha-{next(counter)}"), policies)

    def cold() -> object:
        clear_cache()
        fresh = [parse_policy(text, kind, name, max_size=UNLIMITED) for text, kind, name in documents]
        return evaluate(context(), fresh)

    warm_rate = rate(warm, seconds)
    fresh_rate = rate(fresh_context, seconds)
    varying_rate = rate(varying, seconds)
    context_rate = rate(context, seconds)
    cold_rate = rate(cold, seconds / 4)
    total = sum(len(policy.statements) for policy in policies)
    print(f"{name}: {total} statements, decision {decision.outcome.value} by {', '.join(decision.statements)}")
    print(f"  same context reused : {warm_rate:12,.0f} decisions/s")
    print(f"  new context per call: {fresh_rate:12,.0f} decisions/s")
    print(f"  new values per call : {varying_rate:12,.0f} decisions/s  (memo misses)")
    print(f"  (building a context alone: {context_rate:,.0f}/s)")
    print(f"  peer (parse per call): {cold_rate:11,.0f} decisions/s  -> compiled is {fresh_rate / cold_rate:,.0f}x")


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    options = arguments.parse_args()
    scenario("typical", 4, options.seconds)
    scenario("large", 200, options.seconds)


if __name__ == "__main__":
    main()
