"""Decisions per second of the policy engine for a typical KMS request, and how cost grows with policy size.

Run: ``.venv/bin/python bench/bench_policy.py``.  Scenario "typical" is a
``kms:Encrypt`` call against a 4-statement key policy plus two 3-statement
identity policies with conditions; scenario "large" pads each policy to 200
statements.  The headline is what the KMS authorizer pays per call: a new
:class:`RequestContext` per request, built from the ~24 condition keys it
sends (``aws:*`` globals and the ``kms:*`` keys of Encrypt) for a caller
whose :class:`PrincipalInfo` it keeps, with the per-request values changing
on every call (``aws:CurrentTime``, ``aws:EpochTime``, ``aws:SourceIp`` from
4,096 clients, ``kms:EncryptionContext:project``), so no cache keyed by those
values helps; of the decision it reads the outcome and ``resource_via`` (the
key policy is the gate).  It prints PASS or MISS against the issue's target
of 100,000 decisions per second on one core.  Rates are per second of this
process's CPU time (one thread, so one core), which other work on the machine
does not dilute.

The other columns: the same requests reading every matching statement (a
full evaluation), and naming a new key each time (no plan kept for it: here
cost grows with statement count); the same context reused; a new context
with repeated values; building a context alone; and a peer measured in the
same run, the same decision with the documents parsed and compiled on every
call (what the parse-once cache saves), so the printed ratio holds on any
machine.

A last row (issue 9, item 2) matches a 20-star pattern against a 4 KB value,
the shape that made the old backtracking matcher take exponential time.
``--worst-case`` also measures the most expensive single evaluation we could
build within the limits kmsd enforces: a 32 KB key policy of adversarial
``StringLike`` conditions against the largest encryption context a 1 MiB
request body holds (docs/architecture.md, "One tenant cannot stall the
others", quotes its numbers).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from kmsd.policy import PolicyKind, PrincipalInfo, RequestContext, SizeLimit, evaluate, parse_policy
from kmsd.policy.parser import clear_cache
from kmsd.policy.wildcard import compile_tokens, tokens_from_text

# The target for one decision of a typical request, on one core.
TARGET = 100_000

# The large scenario goes past AWS's size limits on purpose, to show how cost grows with statement count.
UNLIMITED = SizeLimit("benchmark policy", 10**9, True, "bytes", "")

ACCOUNT = "111122223333"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/app"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/app/worker-1"

# Per-request values (aws:CurrentTime, aws:EpochTime, aws:SourceIp, the encryption context), made before timing
# so the loop measures the engine and not string formatting: a new time and project every call, and more
# source addresses (4,096, cycled through in order) than any cache of parsed addresses holds.
VALUES = [
    (
        f"2026-03-01T{index // 3600:02}:{index // 60 % 60:02}:{index % 60:02}Z",
        str(1772323200 + index),
        f"10.{index // 256 % 16}.{index % 256}.7",
        f"alpha-{index}",
    )
    for index in range(86400)
]
# Keys of the same account, more than the engine keeps plans for: a request naming one of these in turn
# finds no plan made for it, so its cost grows with the statements its policies hold.
KEYS = [f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{index:08x}-12ab-34cd-56ef-1234567890ab" for index in range(4096)]


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


# The caller: built once, as the KMS authorizer keeps one PrincipalInfo per principal.
PRINCIPAL = PrincipalInfo(SESSION_ARN, ACCOUNT, "assumed-role", role_arn=ROLE_ARN)


def context(sequence: int = 0, key_arn: str = KEY_ARN) -> RequestContext:
    """The context the KMS authorizer builds for one Encrypt call by a role session: ``sequence`` picks the values."""
    now, epoch, client, project = VALUES[sequence % 86400]
    return RequestContext(
        "kms:Encrypt",
        key_arn,
        PRINCIPAL,
        {
            "aws:PrincipalArn": ROLE_ARN,
            "aws:PrincipalAccount": ACCOUNT,
            "aws:PrincipalType": "AssumedRole",
            "aws:userid": "AROAEXAMPLEROLEID:worker-1",
            "aws:PrincipalIsAWSService": "false",
            "aws:ViaAWSService": "false",
            "aws:CurrentTime": now,
            "aws:EpochTime": epoch,
            "aws:SecureTransport": "true",
            "aws:RequestedRegion": "us-east-1",
            "aws:PrincipalTag/project": "alpha",
            "aws:SourceIp": client,
            "aws:MultiFactorAuthPresent": "false",
            "aws:TokenIssueTime": "2026-03-01T00:00:00Z",
            "kms:CallerAccount": ACCOUNT,
            "kms:ViaService": "s3.us-east-1.amazonaws.com",
            "kms:EncryptionContext:project": project,
            "kms:EncryptionContextKeys": ["project"],
            "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
            "kms:KeySpec": "SYMMETRIC_DEFAULT",
            "kms:KeyUsage": "ENCRYPT_DECRYPT",
            "kms:KeyOrigin": "AWS_KMS",
            "kms:MultiRegion": "false",
            "kms:ResourceAliases": ["alias/app"],
        },
    )


def rate(run: Callable[[], object], seconds: float, batch: int = 200) -> float:
    """Calls per second of CPU time spent in this process (a single thread: one core)."""
    count = 0
    start = time.process_time()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            run()
        count += batch
        now = time.process_time()
        if now >= deadline:
            return count / (now - start)


def scenario(name: str, statements_per_policy: int, seconds: float) -> dict[str, float]:
    """Measure and print one scenario's rates."""
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
    counter = iter(range(1, 10**12))

    def per_request() -> object:
        # What the KMS authorizer pays per call: a new context with new values, and of the decision the
        # outcome and how the key policy names the caller (the key policy is the gate).
        decision = evaluate(context(next(counter)), policies)
        return decision.allowed, decision.resource_via

    def every_match() -> object:
        # The same, reading every statement that applied instead (a full evaluation).
        return evaluate(context(next(counter)), policies).matches

    def new_key() -> object:
        sequence = next(counter)
        decision = evaluate(context(sequence, KEYS[sequence % 4096]), policies)
        return decision.allowed, decision.resource_via

    def warm() -> object:
        return evaluate(request, policies)

    def repeated() -> object:
        return evaluate(context(), policies)

    def cold() -> object:
        clear_cache()
        fresh = [parse_policy(text, kind, name, max_size=UNLIMITED) for text, kind, name in documents]
        return evaluate(context(), fresh)

    rates = {
        "new context per request, new values": rate(per_request, seconds),
        "  ... reading every matching statement": rate(every_match, seconds),
        "  ... naming a new key each time": rate(new_key, seconds),
        "same context reused": rate(warm, seconds),
        "new context per request, same values": rate(repeated, seconds),
        "building a context alone": rate(context, seconds),
        "peer: parsing the policies per request": rate(cold, seconds / 4, batch=1),
    }
    total = sum(len(policy.statements) for policy in policies)
    print(f"{name}: {total} statements, decision {decision.outcome.value} by {', '.join(decision.statements)}")
    for label, value in rates.items():
        unit = "contexts/s" if label.startswith("building") else "decisions/s"
        print(f"  {label:40} {value:10,.0f} {unit}")
    headline = rates["new context per request, new values"]
    print(f"  -> compiled is {headline / rates['peer: parsing the policies per request']:,.0f}x the peer")
    return rates


# Twenty stars, each chunk found at once until the last, which scans the whole value: the pattern shape of issue
# 9's report ("*a*a*...*b") that a backtracking matcher needs exponential time for.
TWENTY_STARS = "*" + "*".join(["a"] * 19) + "*b*"
FOUR_KB = "a" * 4096


def wildcard_row(seconds: float) -> float:
    """Matches per second of the 20-star pattern against a 4 KB value (no match: the whole value is scanned)."""
    matcher = compile_tokens(tokens_from_text(TWENTY_STARS))
    assert not matcher(FOUR_KB)
    return rate(lambda: matcher(FOUR_KB), seconds)


# The largest request body kmsd reads (kmsd.api.app.MAX_BODY_BYTES), less room for the rest of an Encrypt request.
LARGEST_CONTEXT_VALUE = 1024 * 1024 - 512


def adversarial_key_policy(patterns: list[str], operator: str, key: str) -> str:
    """A key policy of as many one-pattern-list statements as fit in 32 KB (the KMS limit)."""
    statements: list[dict[str, Any]] = []
    text = ""
    while True:
        statement = {
            "Sid": f"S{len(statements)}",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:Encrypt",
            "Resource": "*",
            "Condition": {operator: {key: list(patterns)}},
        }
        candidate = json.dumps({"Version": "2012-10-17", "Statement": [*statements, statement]})
        if len(candidate.encode()) > 32_768:
            return text
        statements.append(statement)
        text = candidate


def worst_case() -> None:
    """Seconds for one evaluation of the most expensive request we could build within kmsd's limits."""
    value = "a" * LARGEST_CONTEXT_VALUE
    shapes = {
        "substring patterns (*ab*)": [f"*a{'a' * (index % 7)}b*" for index in range(40)],
        "?-patterns (*a?b*)": [f"*a{'?a' * (index % 7)}?b*" for index in range(40)],
        "many stars (*a*a*...*b*)": ["*" + "*".join(["a"] * 12) + "*b*"] * 12,
        "one long ?-chunk": ["*" + "a?" * 2000 + "b*"],
    }
    principal = PrincipalInfo(f"arn:aws:iam::{ACCOUNT}:user/tenant", ACCOUNT, "user")
    for label, patterns in shapes.items():
        text = adversarial_key_policy(patterns, "StringLike", "kms:EncryptionContext:t")
        policy = parse_policy(text, PolicyKind.RESOURCE, "key")
        for size in (256, 4096, 65536, LARGEST_CONTEXT_VALUE):
            context = RequestContext("kms:Encrypt", KEY_ARN, principal, {"kms:EncryptionContext:t": value[:size]})
            start = time.process_time()
            decision = evaluate(context, [policy])
            spent = time.process_time() - start
            assert not decision.allowed  # nothing allows; every Deny is tried and none matches
            print(
                f"  worst case, {label:28} {len(policy.statements):4} statements, {len(text):6} bytes, "
                f"value {size:>9,} chars: {spent * 1000:9.1f} ms"
            )
    # Multivalued: every encryption context key (as many as fit in the body) against every pattern.
    keys = [f"k{index:06}" for index in range(LARGEST_CONTEXT_VALUE // 18)]
    patterns = [f"*a{'?a' * (index % 5)}?b*" for index in range(40)]
    text = adversarial_key_policy(patterns, "ForAnyValue:StringLike", "kms:EncryptionContextKeys")
    policy = parse_policy(text, PolicyKind.RESOURCE, "key")
    context = RequestContext("kms:Encrypt", KEY_ARN, principal, {"kms:EncryptionContextKeys": keys})
    start = time.process_time()
    evaluate(context, [policy])
    spent = time.process_time() - start
    print(
        f"  worst case, ForAnyValue over {len(keys):,} context keys: {len(policy.statements)} statements, "
        f"{len(text)} bytes: {spent * 1000:.1f} ms"
    )


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--seconds", type=float, default=2.0, help="CPU time per measurement")
    arguments.add_argument("--worst-case", action="store_true", help="also time the most expensive evaluation")
    options = arguments.parse_args()
    typical = scenario("typical", 4, options.seconds)
    large = scenario("large", 200, options.seconds)
    headline = "new context per request, new values"
    new_key = "  ... naming a new key each time"
    verdict = "PASS" if typical[headline] >= TARGET else "MISS"
    print(
        f"{verdict}: typical request, new context per request: {typical[headline]:,.0f} decisions/s on one core "
        f"(target {TARGET:,})\n"
        f"200 statements per policy cost {typical[headline] / large[headline]:.1f}x as much per request, "
        f"{typical[new_key] / large[new_key]:.1f}x when each request names a new key"
    )
    print(f"wildcard: a 20-star pattern against a 4 KB value: {wildcard_row(options.seconds):,.0f} matches/s")
    if options.worst_case:
        worst_case()


if __name__ == "__main__":
    main()
