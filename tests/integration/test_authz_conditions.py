"""Condition keys in key policies and IAM policies, each with a request it allows and one it refuses.

"AWS KMS condition keys" (AWS KMS Developer Guide) for ``kms:EncryptionContext:``,
``kms:EncryptionContextKeys``, ``kms:ViaService``, ``kms:CallerAccount``,
``kms:RequestAlias`` and ``kms:ResourceAliases``; "AWS global condition context
keys" (IAM User Guide) for ``aws:SourceIp``, ``aws:PrincipalTag``,
``aws:ResourceTag``, ``aws:RequestTag`` and ``aws:SecureTransport``; "ABAC for
AWS KMS" for tag- and alias-based access.  Most policies are the examples of
those pages with their names made unique.  ``kms:ViaService`` needs a request
that an AWS service made on a principal's behalf; kmsd learns that from a
header it trusts only when ``kmsd serve`` is told to, so this module's server
runs with that option and one test starts a server without it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.authz_world import (
    ACCOUNT_A,
    ACCOUNT_B,
    DENY_IN_IDENTITY_POLICY,
    DENY_IN_RESOURCE_POLICY,
    NO_IDENTITY_POLICY,
    NO_RESOURCE_POLICY,
    WEST,
    Identity,
    Key,
    World,
    allow,
    assume,
    denied,
    deny,
    enable_iam_policies,
    refused,
    running_world,
    unique,
)
from tests.integration.stores import Stores

# How kmsd serve is told to trust a header naming the AWS service that made a request (kms:ViaService).
VIA_SERVICE_HEADER = "X-Kmsd-Via-Service"
TRUST_VIA_SERVICE = ("--trusted-service-header", VIA_SERVICE_HEADER)
# How kmsd serve is told that a proxy in front of it names the client's address (aws:SourceIp).
FORWARDED_FOR = "X-Forwarded-For"
TRUST_PROXY = ("--trusted-proxy-header", FORWARDED_FOR)
KMS_ROOT = enable_iam_policies(ACCOUNT_A)
EC2_WEST = "ec2.us-west-2.amazonaws.com"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-conditions"), *TRUST_VIA_SERVICE, *TRUST_PROXY) as built:
        yield built


def closed_key(world: World, *statements: dict[str, object]) -> Key:
    """A key whose policy is ``statements`` plus an administrator: no delegation to the account."""
    admin = world.a.user()
    return world.a.key(allow("kms:*", principal=admin.arn, sid="Administrator"), *statements, bypass=True)


def encrypt(identity: Identity, key: Key, context: dict[str, str] | None = None) -> object:
    kms = identity.kms(key.region)
    if context is None:
        return kms.encrypt(KeyId=key.key_id, Plaintext=b"x")
    return kms.encrypt(KeyId=key.key_id, Plaintext=b"x", EncryptionContext=context)


# --- kms:EncryptionContext:context-key and kms:EncryptionContextKeys ------------------------------------------
def test_encryption_context_pair_required_by_an_iam_policy(world: World) -> None:
    key = world.a.key()
    user = world.a.user(
        allow(
            ["kms:Encrypt", "kms:Decrypt"],
            key.arn,
            condition={"StringEquals": {"kms:EncryptionContext:purpose": "backup"}},
        )
    )
    kms = user.kms()
    blob = kms.encrypt(KeyId=key.key_id, Plaintext=b"x", EncryptionContext={"purpose": "backup"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"purpose": "backup"})["Plaintext"] == b"x"
    # Other pairs are permitted; the context key's name is not case sensitive ("Case sensitivity of the
    # encryption context condition"), its value is under StringEquals.
    encrypt(user, key, {"purpose": "backup", "team": "blue"})
    encrypt(user, key, {"Purpose": "backup"})
    refusal = denied(user.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY)
    assert refused(encrypt, user, key, {"purpose": "Backup"}) == refusal
    assert refused(encrypt, user, key, {"purpose": "archive"}) == refusal
    assert refused(encrypt, user, key) == refusal


def test_encryption_context_keys_limit_the_pairs_in_a_key_policy(world: World) -> None:
    user = world.a.user()
    # "To require an encryption context pair and forbid all other encryption context pairs" (condition keys page).
    key = closed_key(
        world,
        allow(
            "kms:GenerateDataKey",
            principal=user.arn,
            condition={
                "StringEquals": {"kms:EncryptionContext:AppName": "ExampleApp"},
                "ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["AppName"]},
            },
        ),
    )
    kms = user.kms()
    assert kms.generate_data_key(KeyId=key.key_id, KeySpec="AES_256", EncryptionContext={"AppName": "ExampleApp"})
    refusal = denied(user.arn, "kms:GenerateDataKey", key.arn, NO_RESOURCE_POLICY)
    for context in ({"AppName": "ExampleApp", "Stage": "Test"}, {"AppName": "Other"}, {}):
        assert (
            refused(kms.generate_data_key, KeyId=key.key_id, KeySpec="AES_256", EncryptionContext=context) == refusal
        ), context


def test_encryption_context_keys_are_case_sensitive_values(world: World) -> None:
    key = world.a.key()
    user = world.a.user(
        allow("kms:Encrypt", key.arn, condition={"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "AppName"}})
    )
    encrypt(user, key, {"AppName": "anything", "other": "pair"})
    assert refused(encrypt, user, key, {"appname": "anything"}) == denied(
        user.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY
    )
    assert refused(encrypt, user, key) == denied(user.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY)


def test_encryption_context_pair_forbidden_by_a_key_policy_deny(world: World) -> None:
    user = world.a.user(allow("kms:*"))
    key = world.a.key(
        KMS_ROOT,
        deny(
            "kms:GenerateDataKey",
            principal=user.arn,
            condition={"StringEquals": {"kms:EncryptionContext:Stage": ["Restricted", "Production"]}},
        ),
    )
    kms = user.kms()
    assert kms.generate_data_key(KeyId=key.key_id, NumberOfBytes=32, EncryptionContext={"Stage": "Test"})
    assert kms.generate_data_key(KeyId=key.key_id, NumberOfBytes=32)
    for stage in ("Restricted", "Production"):
        assert refused(
            kms.generate_data_key, KeyId=key.key_id, NumberOfBytes=32, EncryptionContext={"Stage": stage}
        ) == denied(user.arn, "kms:GenerateDataKey", key.arn, DENY_IN_RESOURCE_POLICY)


# --- kms:ViaService ------------------------------------------------------------------------------------------
def test_via_service_allows_only_requests_from_the_named_services(world: World) -> None:
    user = world.a.user()
    key = closed_key(
        world,
        allow(
            ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
            principal=user.arn,
            condition={
                "StringEquals": {"kms:ViaService": ["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"]}
            },
        ),
    )
    via_rds = user.kms_with_headers({VIA_SERVICE_HEADER: "rds.us-west-2.amazonaws.com"})
    blob = via_rds.encrypt(KeyId=key.key_id, Plaintext=b"x")["CiphertextBlob"]
    assert via_rds.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    refusal = denied(user.arn, "kms:Encrypt", key.arn, NO_RESOURCE_POLICY)
    # Called directly, or by a service the key policy does not name: refused.
    assert refused(user.kms().encrypt, KeyId=key.key_id, Plaintext=b"x") == refusal
    via_lambda = user.kms_with_headers({VIA_SERVICE_HEADER: "lambda.us-west-2.amazonaws.com"})
    assert refused(via_lambda.encrypt, KeyId=key.key_id, Plaintext=b"x") == refusal


def test_via_service_deny_blocks_only_that_service(world: World) -> None:
    user = world.a.user()
    key = world.a.key(
        KMS_ROOT,
        allow("kms:Encrypt", principal=user.arn),
        deny(
            "kms:Encrypt",
            principal=user.arn,
            condition={"StringEquals": {"kms:ViaService": ["lambda.us-west-2.amazonaws.com"]}},
        ),
    )
    assert user.kms().encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    via_s3 = user.kms_with_headers({VIA_SERVICE_HEADER: "s3.us-west-2.amazonaws.com"})
    assert via_s3.encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    via_lambda = user.kms_with_headers({VIA_SERVICE_HEADER: "lambda.us-west-2.amazonaws.com"})
    assert refused(via_lambda.encrypt, KeyId=key.key_id, Plaintext=b"x") == denied(
        user.arn, "kms:Encrypt", key.arn, DENY_IN_RESOURCE_POLICY
    )


def test_trusted_headers_are_ignored_unless_the_server_trusts_them(tmp_path: Path, stores: Stores) -> None:
    # Without --trusted-proxy-header, aws:SourceIp is the TCP peer, whatever X-Forwarded-For a client sends.
    with running_world(stores, tmp_path / "untrusting") as untrusting:
        from_corporate = untrusting.a.user(
            allow("kms:Encrypt", condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
        )
        plain = untrusting.a.key()
        forwarded = from_corporate.kms_with_headers({FORWARDED_FOR: "10.1.2.3"})
        assert refused(forwarded.encrypt, KeyId=plain.key_id, Plaintext=b"x") == denied(
            from_corporate.arn, "kms:Encrypt", plain.arn, NO_IDENTITY_POLICY
        )
        user = untrusting.a.user()
        key = untrusting.a.key(
            allow("kms:*", principal=untrusting.a.user().arn),
            allow(
                "kms:Encrypt",
                principal=user.arn,
                condition={"StringEquals": {"kms:ViaService": "s3.us-west-2.amazonaws.com"}},
            ),
            bypass=True,
        )
        forged = user.kms_with_headers({VIA_SERVICE_HEADER: "s3.us-west-2.amazonaws.com"})
        assert refused(forged.encrypt, KeyId=key.key_id, Plaintext=b"x") == denied(
            user.arn, "kms:Encrypt", key.arn, NO_RESOURCE_POLICY
        )


# --- aws:SourceIp ----------------------------------------------------------------------------------------------
def test_source_ip_in_an_iam_policy(world: World) -> None:
    key = world.a.key()
    local = world.a.user(allow("kms:Encrypt", key.arn, condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}))
    assert encrypt(local, key)
    corporate = world.a.user(allow("kms:Encrypt", key.arn, condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    assert refused(encrypt, corporate, key) == denied(corporate.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY)


def test_source_ip_in_a_key_policy_deny(world: World) -> None:
    user = world.a.user(allow("kms:*"))
    outside_corporate = world.a.key(
        KMS_ROOT, deny("kms:Encrypt", principal="*", condition={"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}})
    )
    assert refused(encrypt, user, outside_corporate) == denied(
        user.arn, "kms:Encrypt", outside_corporate.arn, DENY_IN_RESOURCE_POLICY
    )
    outside_local = world.a.key(
        KMS_ROOT, deny("kms:Encrypt", principal="*", condition={"NotIpAddress": {"aws:SourceIp": ["127.0.0.1/32"]}})
    )
    assert encrypt(user, outside_local)


def test_source_ip_from_a_trusted_proxy_header(world: World) -> None:
    key = world.a.key()
    user = world.a.user(allow("kms:Encrypt", key.arn, condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    # The address the trusted proxy appended, last in the list, is the one it saw.
    via_proxy = user.kms_with_headers({FORWARDED_FOR: "192.0.2.7, 10.1.2.3"})
    assert via_proxy.encrypt(KeyId=key.key_id, Plaintext=b"x")["KeyId"] == key.arn
    spoofed = user.kms_with_headers({FORWARDED_FOR: "10.1.2.3, 192.0.2.7"})
    refusal = denied(user.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY)
    assert refused(spoofed.encrypt, KeyId=key.key_id, Plaintext=b"x") == refusal
    # Without the header the TCP peer (127.0.0.1) is the source.
    assert refused(encrypt, user, key) == refusal


# --- kms:CallerAccount -----------------------------------------------------------------------------------------
def test_caller_account_admits_every_identity_of_one_other_account(world: World) -> None:
    a, b, c = world.a, world.b, world.c
    key = a.key(
        KMS_ROOT,
        allow(
            ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"],
            principal="*",
            condition={"StringEquals": {"kms:CallerAccount": ACCOUNT_B}},
        ),
    )
    use = allow(["kms:Encrypt", "kms:DescribeKey"], key.arn)
    from_b = b.user(use)
    assert from_b.kms().encrypt(KeyId=key.arn, Plaintext=b"x")["KeyId"] == key.arn
    # Across accounts the caller's own account must allow it too.
    bare_b = b.user()
    assert refused(bare_b.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == denied(
        bare_b.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY
    )
    from_c = c.user(use)
    assert refused(from_c.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == denied(
        from_c.arn, "kms:Encrypt", key.arn, NO_RESOURCE_POLICY
    )


def test_caller_account_with_principal_star_admits_the_keys_own_account(world: World) -> None:
    # The shape of an AWS managed key's policy: every principal of the account, no IAM policy needed.
    key = world.a.key(
        KMS_ROOT,
        allow(
            ["kms:Encrypt", "kms:DescribeKey"],
            principal="*",
            condition={"StringEquals": {"kms:CallerAccount": ACCOUNT_A}},
        ),
    )
    assert encrypt(world.a.user(), key)
    outsider = world.b.user(allow("kms:*"))
    assert refused(outsider.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == denied(
        outsider.arn, "kms:Encrypt", key.arn, NO_RESOURCE_POLICY
    )


# --- aws:PrincipalTag and aws:ResourceTag (ABAC) ----------------------------------------------------------------
def test_principal_tag_decides_in_an_iam_policy(world: World) -> None:
    key = world.a.key()
    team_policy = world.a.managed_policy(
        allow("kms:Encrypt", key.arn, condition={"StringEquals": {"aws:PrincipalTag/team": "payments"}})
    )
    payments = world.a.user(managed=[team_policy], tags={"team": "payments"})
    assert encrypt(payments, key)
    for tags in ({"team": "sales"}, None):
        other = world.a.user(managed=[team_policy], tags=tags)
        assert refused(encrypt, other, key) == denied(other.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY)
    # A role's tags are its sessions' principal tags.
    caller = world.a.user()
    role = world.a.role(trusted=caller.arn, tags={"team": "payments"})
    world.a.iam.attach_role_policy(RoleName=role.split("/")[-1], PolicyArn=team_policy)
    assert encrypt(assume(caller, role), key)


def test_principal_tag_deny(world: World) -> None:
    key = world.a.key()
    rule = [allow("kms:*"), deny("kms:Encrypt", condition={"StringEquals": {"aws:PrincipalTag/clearance": "none"}})]
    cleared = world.a.user(*rule, tags={"clearance": "secret"})
    assert encrypt(cleared, key)
    uncleared = world.a.user(*rule, tags={"clearance": "none"})
    assert refused(encrypt, uncleared, key) == denied(uncleared.arn, "kms:Encrypt", key.arn, DENY_IN_IDENTITY_POLICY)


def test_resource_tag_matches_the_principal_tag(world: World) -> None:
    payments_key = world.a.key(tags={"team": "payments"})
    sales_key = world.a.key(tags={"team": "sales"})
    untagged_key = world.a.key()
    user = world.a.user(
        allow(
            ["kms:Encrypt", "kms:DescribeKey"],
            f"arn:aws:kms:*:{ACCOUNT_A}:key/*",
            condition={"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}},
        ),
        tags={"team": "payments"},
    )
    assert encrypt(user, payments_key)
    for key in (sales_key, untagged_key):
        assert refused(encrypt, user, key) == denied(user.arn, "kms:Encrypt", key.arn, NO_IDENTITY_POLICY)


def test_resource_tag_deny_in_an_iam_policy(world: World) -> None:
    # The second example of "Using tags to control access to KMS keys"; aws:ResourceTag works in IAM policies only.
    keys = f"arn:aws:kms:*:{ACCOUNT_A}:key/*"
    user = world.a.user(
        allow(["kms:Encrypt", "kms:GenerateDataKey*", "kms:Decrypt", "kms:ReEncrypt*"], keys),
        deny("kms:*", keys, condition={"StringEquals": {"aws:ResourceTag/Type": "Reserved"}}),
        deny("kms:*", keys, condition={"Null": {"aws:ResourceTag/Type": "true"}}),
    )
    open_key = world.a.key(tags={"Type": "Open"})
    assert encrypt(user, open_key)
    for key in (world.a.key(tags={"Type": "Reserved"}), world.a.key()):
        assert refused(encrypt, user, key) == denied(user.arn, "kms:Encrypt", key.arn, DENY_IN_IDENTITY_POLICY)


def test_resource_tag_decides_in_an_iam_policy_but_not_in_a_key_policy(world: World) -> None:
    # "Use tags to control access to KMS keys": "In AWS KMS, the aws:ResourceTag/tag-key condition key is
    # supported only in IAM policies. It isn't supported in key policies": the key policy sees no tag.
    alpha = {"StringEquals": {"aws:ResourceTag/Project": "Alpha"}}
    user = world.a.user()
    admin = world.a.user()
    key = world.a.key(
        allow("kms:*", principal=admin.arn, sid="Administrator"),
        allow("kms:Encrypt", principal=user.arn, condition=alpha, sid="TaggedUse"),
        tags={"Project": "Alpha"},
        bypass=True,
    )
    assert refused(encrypt, user, key) == denied(user.arn, "kms:Encrypt", key.arn, NO_RESOURCE_POLICY)
    # The same condition in an IAM policy, with the default key policy, sees the key's tag.
    default_key = world.a.key(tags={"Project": "Alpha"})
    iam_user = world.a.user(allow("kms:Encrypt", f"arn:aws:kms:*:{ACCOUNT_A}:key/*", condition=alpha))
    assert encrypt(iam_user, default_key)
    beta_key = world.a.key(tags={"Project": "Beta"})
    assert refused(encrypt, iam_user, beta_key) == denied(iam_user.arn, "kms:Encrypt", beta_key.arn, NO_IDENTITY_POLICY)


def test_resource_tag_deny_in_a_key_policy_sees_no_tag(world: World) -> None:
    # The key policy's Deny on aws:ResourceTag never applies; the same Deny in an IAM policy does.
    reserved = {"StringEquals": {"aws:ResourceTag/Type": "Reserved"}}
    key = world.a.key(KMS_ROOT, deny("kms:Encrypt", principal="*", condition=reserved), tags={"Type": "Reserved"})
    assert encrypt(world.a.user(allow("kms:*")), key)
    denied_by_iam = world.a.user(allow("kms:*"), deny("kms:Encrypt", condition=reserved))
    assert refused(encrypt, denied_by_iam, key) == denied(
        denied_by_iam.arn, "kms:Encrypt", key.arn, DENY_IN_IDENTITY_POLICY
    )


def test_tag_keys_limit_tags_on_create_key_and_tag_resource(world: World) -> None:
    # The last example of "Controlling access to tags".
    user = world.a.user(
        allow("kms:CreateKey"),
        allow("kms:ListResourceTags", f"arn:aws:kms:*:{ACCOUNT_A}:key/*"),
        allow(
            ["kms:TagResource", "kms:UntagResource"],
            f"arn:aws:kms:*:{ACCOUNT_A}:key/*",
            condition={"ForAllValues:StringEquals": {"aws:TagKeys": "Project"}},
        ),
    )
    kms = user.kms()
    created = kms.create_key(Tags=[{"TagKey": "Project", "TagValue": "Alpha"}])["KeyMetadata"]
    assert kms.list_resource_tags(KeyId=created["KeyId"])["Tags"] == [{"TagKey": "Project", "TagValue": "Alpha"}]
    both = [{"TagKey": "Project", "TagValue": "Alpha"}, {"TagKey": "Cost", "TagValue": "1"}]
    assert refused(kms.create_key, Tags=both)[0] == "AccessDeniedException"
    key = world.a.key()
    kms.tag_resource(KeyId=key.key_id, Tags=[{"TagKey": "Project", "TagValue": "Beta"}])
    assert refused(kms.tag_resource, KeyId=key.key_id, Tags=[{"TagKey": "Cost", "TagValue": "2"}]) == denied(
        user.arn, "kms:TagResource", key.arn, NO_IDENTITY_POLICY
    )


def test_request_tag_limits_tag_values(world: World) -> None:
    user = world.a.user(allow("kms:TagResource", condition={"StringEquals": {"aws:RequestTag/Project": "Alpha"}}))
    key = world.a.key()
    user.kms().tag_resource(KeyId=key.key_id, Tags=[{"TagKey": "Project", "TagValue": "Alpha"}])
    beta = [{"TagKey": "Project", "TagValue": "Beta"}]
    assert refused(user.kms().tag_resource, KeyId=key.key_id, Tags=beta) == denied(
        user.arn, "kms:TagResource", key.arn, NO_IDENTITY_POLICY
    )
    assert world.a.kms().list_resource_tags(KeyId=key.key_id)["Tags"] == [{"TagKey": "Project", "TagValue": "Alpha"}]


# --- kms:RequestAlias and kms:ResourceAliases ------------------------------------------------------------------
def test_request_alias_requires_naming_the_key_by_that_alias(world: World) -> None:
    key = world.a.key()
    finance, other = unique("alias/finance"), unique("alias/other")
    owner = world.a.kms()
    owner.create_alias(AliasName=finance, TargetKeyId=key.key_id)
    owner.create_alias(AliasName=other, TargetKeyId=key.key_id)
    user = world.a.user(
        allow("kms:GenerateDataKey", key.arn, condition={"StringEquals": {"kms:RequestAlias": finance}})
    )
    kms = user.kms()
    assert kms.generate_data_key(KeyId=finance, KeySpec="AES_256")["KeyId"] == key.arn
    finance_arn = f"arn:aws:kms:{WEST}:{ACCOUNT_A}:{finance}"
    assert kms.generate_data_key(KeyId=finance_arn, KeySpec="AES_256")["KeyId"] == key.arn
    refusal = denied(user.arn, "kms:GenerateDataKey", key.arn, NO_IDENTITY_POLICY)
    for key_id in (key.key_id, key.arn, other):
        assert refused(kms.generate_data_key, KeyId=key_id, KeySpec="AES_256") == refusal, key_id


def test_request_alias_deny_in_a_key_policy(world: World) -> None:
    user = world.a.user(allow("kms:*"))
    secret = unique("alias/secret")
    key = world.a.key(
        KMS_ROOT, deny("kms:DescribeKey", principal="*", condition={"StringEquals": {"kms:RequestAlias": secret}})
    )
    world.a.kms().create_alias(AliasName=secret, TargetKeyId=key.key_id)
    assert user.kms().describe_key(KeyId=key.key_id)["KeyMetadata"]["Arn"] == key.arn
    assert refused(user.kms().describe_key, KeyId=secret) == denied(
        user.arn, "kms:DescribeKey", key.arn, DENY_IN_RESOURCE_POLICY
    )


def test_resource_aliases_follow_the_key_however_it_is_named(world: World) -> None:
    aliased, plain = world.a.key(), world.a.key()
    finance = unique("alias/finance")
    world.a.kms().create_alias(AliasName=finance, TargetKeyId=aliased.key_id)
    user = world.a.user(
        allow(
            "kms:GenerateDataKey",
            f"arn:aws:kms:*:{ACCOUNT_A}:key/*",
            condition={"ForAnyValue:StringEquals": {"kms:ResourceAliases": finance}},
        )
    )
    assert user.kms().generate_data_key(KeyId=aliased.key_id, KeySpec="AES_256")["KeyId"] == aliased.arn
    assert refused(user.kms().generate_data_key, KeyId=plain.key_id, KeySpec="AES_256") == denied(
        user.arn, "kms:GenerateDataKey", plain.arn, NO_IDENTITY_POLICY
    )


def test_resource_aliases_in_a_key_policy_see_no_aliases(world: World) -> None:
    # kms:ResourceAliases: "You can use this condition key only in IAM policies" ("AWS KMS condition keys").
    finance = unique("alias/finance")
    user = world.a.user()
    key = world.a.key(
        KMS_ROOT,
        allow(
            "kms:GenerateDataKey",
            principal=user.arn,
            condition={"ForAnyValue:StringEquals": {"kms:ResourceAliases": finance}},
        ),
    )
    world.a.kms().create_alias(AliasName=finance, TargetKeyId=key.key_id)
    # Only the delegation to the account applies, and the user has no IAM policy.
    assert refused(user.kms().generate_data_key, KeyId=key.key_id, KeySpec="AES_256") == denied(
        user.arn, "kms:GenerateDataKey", key.arn, NO_IDENTITY_POLICY
    )
    # The same condition in the user's IAM policy sees the alias.
    iam_user = world.a.user(
        allow(
            "kms:GenerateDataKey",
            f"arn:aws:kms:*:{ACCOUNT_A}:key/*",
            condition={"ForAnyValue:StringEquals": {"kms:ResourceAliases": finance}},
        )
    )
    assert iam_user.kms().generate_data_key(KeyId=key.key_id, KeySpec="AES_256")["KeyId"] == key.arn


# --- aws:SecureTransport -----------------------------------------------------------------------------------------
def test_secure_transport_is_false_over_plain_http(world: World) -> None:
    key = world.a.key()
    tls_only = world.a.user(allow("kms:*"), deny("kms:*", condition={"Bool": {"aws:SecureTransport": "false"}}))
    assert refused(encrypt, tls_only, key) == denied(tls_only.arn, "kms:Encrypt", key.arn, DENY_IN_IDENTITY_POLICY)
    plain_ok = world.a.user(allow("kms:Encrypt", key.arn, condition={"Bool": {"aws:SecureTransport": "false"}}))
    assert encrypt(plain_ok, key)


# --- conditions on CreateGrant and ScheduleKeyDeletion -------------------------------------------------------
def test_grant_operations_limit_the_grants_a_user_may_create(world: World) -> None:
    key = world.a.key()
    grantee = world.a.user()
    user = world.a.user(
        allow(
            "kms:CreateGrant",
            key.arn,
            condition={"ForAllValues:StringEquals": {"kms:GrantOperations": ["Encrypt", "Decrypt"]}},
        )
    )
    kms = user.kms()
    assert kms.create_grant(KeyId=key.arn, GranteePrincipal=grantee.arn, Operations=["Encrypt", "Decrypt"])["GrantId"]
    assert refused(
        kms.create_grant, KeyId=key.arn, GranteePrincipal=grantee.arn, Operations=["Encrypt", "ReEncryptFrom"]
    ) == denied(user.arn, "kms:CreateGrant", key.arn, NO_IDENTITY_POLICY)


def test_grant_is_for_aws_resource_only_through_a_service(world: World) -> None:
    # The console's "Allow attachment of persistent resources" statement.
    user = world.a.user()
    key = closed_key(
        world,
        allow(
            ["kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"],
            principal=user.arn,
            condition={"Bool": {"kms:GrantIsForAWSResource": "true"}},
        ),
    )
    grantee = world.a.user()
    assert refused(user.kms().create_grant, KeyId=key.arn, GranteePrincipal=grantee.arn, Operations=["Decrypt"]) == (
        denied(user.arn, "kms:CreateGrant", key.arn, NO_RESOURCE_POLICY)
    )
    via_ebs = user.kms_with_headers({VIA_SERVICE_HEADER: EC2_WEST})
    assert via_ebs.create_grant(KeyId=key.arn, GranteePrincipal=grantee.arn, Operations=["Decrypt"])["GrantId"]


def test_pending_window_condition_on_schedule_key_deletion(world: World) -> None:
    user = world.a.user(
        allow(
            "kms:ScheduleKeyDeletion",
            condition={"NumericGreaterThanEquals": {"kms:ScheduleKeyDeletionPendingWindowInDays": "30"}},
        ),
        allow("kms:CancelKeyDeletion"),
    )
    key = world.a.key()
    kms = user.kms()
    assert refused(kms.schedule_key_deletion, KeyId=key.key_id, PendingWindowInDays=7) == denied(
        user.arn, "kms:ScheduleKeyDeletion", key.arn, NO_IDENTITY_POLICY
    )
    assert kms.schedule_key_deletion(KeyId=key.key_id, PendingWindowInDays=30)["PendingWindowInDays"] == 30
    kms.cancel_key_deletion(KeyId=key.key_id)


# --- conditions on the key and on CreateKey --------------------------------------------------------------------
def test_key_spec_condition_sees_create_keys_default(world: World) -> None:
    # "This type of condition works even when the parameter doesn't appear in the request" (condition keys page).
    symmetric_only = world.a.user(
        allow("kms:CreateKey", condition={"StringEquals": {"kms:KeySpec": "SYMMETRIC_DEFAULT"}})
    )
    assert symmetric_only.kms().create_key()["KeyMetadata"]["KeySpec"] == "SYMMETRIC_DEFAULT"
    rsa_only = world.a.user(allow("kms:CreateKey", condition={"StringEquals": {"kms:KeySpec": "RSA_4096"}}))
    assert refused(rsa_only.kms().create_key) == denied(rsa_only.arn, "kms:CreateKey", "*", NO_IDENTITY_POLICY)
    single_region = world.a.user(allow("kms:CreateKey", condition={"Bool": {"kms:MultiRegion": "false"}}))
    assert single_region.kms().create_key()["KeyMetadata"]["MultiRegion"] is False


def test_key_properties_in_conditions_on_key_operations(world: World) -> None:
    key = world.a.key()
    aws_kms_origin = world.a.user(
        allow("kms:GenerateDataKey", key.arn, condition={"StringEquals": {"kms:KeyOrigin": "AWS_KMS"}})
    )
    assert aws_kms_origin.kms().generate_data_key(KeyId=key.key_id, KeySpec="AES_256")["KeyId"] == key.arn
    imported_only = world.a.user(
        allow("kms:GenerateDataKey", key.arn, condition={"StringEquals": {"kms:KeyOrigin": "EXTERNAL"}})
    )
    assert refused(imported_only.kms().generate_data_key, KeyId=key.key_id, KeySpec="AES_256") == denied(
        imported_only.arn, "kms:GenerateDataKey", key.arn, NO_IDENTITY_POLICY
    )


def test_requested_region(world: World) -> None:
    west, east = world.a.key(region=WEST), world.a.key(region="us-east-1")
    user = world.a.user(allow("kms:Encrypt", condition={"StringEquals": {"aws:RequestedRegion": WEST}}))
    assert encrypt(user, west)
    assert refused(encrypt, user, east) == denied(user.arn, "kms:Encrypt", east.arn, NO_IDENTITY_POLICY)


def test_re_encrypt_on_same_key(world: World) -> None:
    first, second = world.a.key(), world.a.key()
    user = world.a.user(allow("kms:ReEncrypt*", condition={"Bool": {"kms:ReEncryptOnSameKey": "true"}}))
    blob = world.a.kms().encrypt(KeyId=first.key_id, Plaintext=b"x")["CiphertextBlob"]
    assert user.kms().re_encrypt(CiphertextBlob=blob, DestinationKeyId=first.key_id)["KeyId"] == first.arn
    assert refused(user.kms().re_encrypt, CiphertextBlob=blob, DestinationKeyId=second.key_id)[0] == (
        "AccessDeniedException"
    )


def test_grantee_principal_condition_on_create_grant(world: World) -> None:
    key = world.a.key()
    service_role = world.a.role(trusted=world.a.root.arn)
    user = world.a.user(
        allow("kms:CreateGrant", key.arn, condition={"StringEquals": {"kms:GranteePrincipal": service_role}})
    )
    assert user.kms().create_grant(KeyId=key.arn, GranteePrincipal=service_role, Operations=["Decrypt"])["GrantId"]
    other = world.a.user()
    assert refused(user.kms().create_grant, KeyId=key.arn, GranteePrincipal=other.arn, Operations=["Decrypt"]) == (
        denied(user.arn, "kms:CreateGrant", key.arn, NO_IDENTITY_POLICY)
    )
