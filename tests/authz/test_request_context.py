"""The request context of one permission check: which condition keys it carries, with which values.

"AWS KMS condition keys" lists, per key, the operations that set it; a key an operation does not support
is absent from its context, and keys from the request use the documented defaults when the member is
absent ("This type of condition works even when the parameter doesn't appear in the request").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kmsd.authz.permissions import Target, permissions_for
from kmsd.authz.request_context import IAM_ONLY_KEYS, CheckFacts, build_request_context
from kmsd.clock import ManualClock
from kmsd.iam.principal import Caller, Principal
from kmsd.store.models import KeyRecord

from .conftest import REGION, A

CLOCK = ManualClock(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
KEY = KeyRecord(
    key_id="1234abcd-12ab-34cd-56ef-1234567890ab",
    account_id=A,
    region=REGION,
    description="",
    key_usage="ENCRYPT_DECRYPT",
    key_spec="SYMMETRIC_DEFAULT",
    origin="AWS_KMS",
    key_state="Enabled",
    creation_date=CLOCK.now(),
    policy="{}",
    current_material_version=1,
    tags={"team": "blue"},
)
CALLER = Caller(principal=Principal.root(A), region=REGION, request_id="r", source_ip="192.0.2.1")


def keys_of(operation: str, params: dict[str, Any], index: int = 0, **facts: Any) -> dict[str, str | tuple[str, ...]]:
    row = permissions_for(operation)
    permission = row.permissions[index]
    resource = KEY.arn if permission.target is not Target.ANY else "*"
    check = CheckFacts(CALLER, params, resource, **facts)
    context = build_request_context(row, permission, check, CLOCK)
    return {name.lower(): value for name in context.keys if (value := context.value(name.lower())) is not None}


def test_encrypt_carries_the_key_the_call_and_the_request() -> None:
    keys = keys_of(
        "Encrypt",
        {"EncryptionContext": {"App": "pay", "n": "1"}},
        key=KEY,
        aliases=("alias/a", "alias/b"),
        request_alias="alias/a",
        via_service="ec2.us-west-2.amazonaws.com",
    )
    assert keys["kms:keyspec"] == "SYMMETRIC_DEFAULT"
    assert keys["kms:keyusage"] == "ENCRYPT_DECRYPT"
    assert keys["kms:keyorigin"] == "AWS_KMS"
    assert keys["kms:multiregion"] == "false"
    assert keys["kms:resourcealiases"] == ("alias/a", "alias/b")
    assert keys["aws:resourcetag/team"] == "blue"
    assert keys["kms:calleraccount"] == A
    assert keys["kms:viaservice"] == "ec2.us-west-2.amazonaws.com"
    assert keys["aws:viaawsservice"] == "true"
    assert keys["kms:requestalias"] == "alias/a"
    assert keys["kms:encryptioncontext:app"] == "pay"
    assert keys["kms:encryptioncontextkeys"] == ("App", "n")
    assert keys["kms:encryptionalgorithm"] == "SYMMETRIC_DEFAULT"
    assert keys["aws:sourceip"] == "192.0.2.1"
    assert keys["aws:currenttime"] == "2026-03-04T05:06:07Z"
    assert keys["aws:principalarn"] == f"arn:aws:iam::{A}:root"


def test_keys_an_operation_does_not_support_are_absent() -> None:
    keys = keys_of("Encrypt", {}, key=KEY)
    for absent in ("kms:viaservice", "kms:requestalias", "kms:encryptioncontextkeys", "kms:resourcealiases"):
        assert absent not in keys
    assert "kms:encryptionalgorithm" not in keys_of("DescribeKey", {}, key=KEY)
    assert "kms:grantoperations" not in keys_of("Encrypt", {"Operations": ["Encrypt"]}, key=KEY)


def test_create_key_describes_the_key_it_would_create() -> None:
    defaults = keys_of("CreateKey", {})
    assert (defaults["kms:keyspec"], defaults["kms:keyusage"], defaults["kms:keyorigin"]) == (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        "AWS_KMS",
    )
    assert defaults["kms:multiregion"] == "false"
    assert "kms:bypasspolicylockoutsafetycheck" not in defaults
    requested = keys_of(
        "CreateKey",
        {
            "KeySpec": "RSA_2048",
            "KeyUsage": "SIGN_VERIFY",
            "BypassPolicyLockoutSafetyCheck": True,
            "Tags": [{"TagKey": "team", "TagValue": "red"}],
        },
    )
    assert (requested["kms:keyspec"], requested["kms:keyusage"]) == ("RSA_2048", "SIGN_VERIFY")
    assert requested["kms:bypasspolicylockoutsafetycheck"] == "true"
    assert requested["aws:requesttag/team"] == "red"
    assert requested["aws:tagkeys"] == ("team",)


def test_re_encrypt_reads_each_side_of_the_request() -> None:
    params = {
        "SourceEncryptionContext": {"side": "source"},
        "DestinationEncryptionContext": {"side": "destination"},
        "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    source = keys_of("ReEncrypt", params, 0, key=KEY, same_key=True)
    destination = keys_of("ReEncrypt", params, 1, key=KEY, same_key=True)
    assert source["kms:encryptioncontext:side"] == "source"
    assert destination["kms:encryptioncontext:side"] == "destination"
    assert source["kms:reencryptonsamekey"] == destination["kms:reencryptonsamekey"] == "true"


def test_create_grant_carries_the_grant() -> None:
    params = {
        "GranteePrincipal": f"arn:aws:iam::{A}:user/alice",
        "RetiringPrincipal": f"arn:aws:iam::{A}:role/ops",
        "Operations": ["Encrypt", "Decrypt"],
        "Constraints": {"EncryptionContextSubset": {"app": "pay"}},
    }
    keys = keys_of("CreateGrant", params, key=KEY)
    assert keys["kms:grantoperations"] == ("Encrypt", "Decrypt")
    assert keys["kms:granteeprincipal"] == f"arn:aws:iam::{A}:user/alice"
    assert keys["kms:retiringprincipal"] == f"arn:aws:iam::{A}:role/ops"
    assert keys["kms:grantconstrainttype"] == "EncryptionContextSubset"
    assert keys["kms:encryptioncontext:app"] == "pay"
    assert keys["kms:grantisforawsresource"] == "false"


def test_members_with_documented_defaults() -> None:
    assert keys_of("ScheduleKeyDeletion", {}, key=KEY)["kms:schedulekeydeletionpendingwindowindays"] == "30"
    assert (
        keys_of("ScheduleKeyDeletion", {"PendingWindowInDays": 7}, key=KEY)[
            "kms:schedulekeydeletionpendingwindowindays"
        ]
        == "7"
    )
    assert keys_of("EnableKeyRotation", {}, key=KEY)["kms:rotationperiodindays"] == "365"
    assert keys_of("GetKeyPolicy", {}, key=KEY)["kms:policyname"] == "default"


def test_overrides_replace_keys_whatever_their_case() -> None:
    row = permissions_for("Encrypt")
    check = CheckFacts(CALLER, {}, KEY.arn, key=KEY)
    context = build_request_context(row, row.permissions[0], check, CLOCK, {"AWS:SourceIp": "10.0.0.1"})
    assert context.value("aws:sourceip") == "10.0.0.1"
    assert list(context.keys).count("aws:SourceIp") == 0


def test_resource_tags_and_aliases_reach_iam_policies_only() -> None:
    # "the aws:ResourceTag/tag-key condition key is supported only in IAM policies. It isn't supported in key
    # policies"; kms:ResourceAliases: "You can use this condition key only in IAM policies."  kms:RequestAlias
    # works in key policies too.
    row = permissions_for("Encrypt")
    check = CheckFacts(CALLER, {}, KEY.arn, key=KEY, aliases=("alias/a",), request_alias="alias/a")
    context = build_request_context(row, row.permissions[0], check, CLOCK)
    assert context.iam_only_keys == IAM_ONLY_KEYS
    assert context.value("aws:resourcetag/team") == "blue"
    assert context.value("kms:resourcealiases") == ("alias/a",)
    key_policy_view = context.for_resource_policies()
    assert key_policy_view.value("aws:resourcetag/team") is None
    assert key_policy_view.value("kms:resourcealiases") is None
    assert key_policy_view.value("kms:requestalias") == "alias/a"
    assert key_policy_view.value("kms:keyspec") == "SYMMETRIC_DEFAULT"
