"""Every KMS operation is authorized before it acts, with its own permissions ("AWS KMS permissions" reference).

The special cases: Decrypt without KeyId is authorized against the key in the ciphertext; ReEncrypt
needs kms:ReEncryptFrom on the source and kms:ReEncryptTo on the destination; CreateKey with Tags also
needs kms:TagResource; alias operations need the alias (IAM policy) and the key (key policy), UpdateAlias
both keys; DryRun answers after authorization; RetireGrant is decided by the grant.
"""

from __future__ import annotations

from typing import Any

import pytest

from kmsd.authz.denial import AccessDeniedError
from kmsd.kms.service import OPERATIONS

from .conftest import (
    REGION,
    A,
    B,
    World,
    access_denied,
    allow,
    aws_error,
    denial,
    deny,
    key_statement,
    no_identity_policy,
    no_resource_policy,
    policy,
    root_arn,
)

KEY = "{key}"


def _params(operation: str) -> dict[str, Any]:
    """Minimal valid parameters of each implemented operation; ``{key}`` stands for the key id."""
    table: dict[str, dict[str, Any]] = {
        "CreateKey": {},
        "ListKeys": {},
        "ListAliases": {},
        "GenerateRandom": {"NumberOfBytes": 8},
        "ListRetirableGrants": {"RetiringPrincipal": f"arn:aws:iam::{A}:user/stranger"},
        "CreateAlias": {"AliasName": "alias/new", "TargetKeyId": KEY},
        "UpdateAlias": {"AliasName": "alias/existing", "TargetKeyId": KEY},
        "DeleteAlias": {"AliasName": "alias/existing"},
        "UpdateKeyDescription": {"KeyId": KEY, "Description": "d"},
        "TagResource": {"KeyId": KEY, "Tags": [{"TagKey": "k", "TagValue": "v"}]},
        "UntagResource": {"KeyId": KEY, "TagKeys": ["k"]},
        "PutKeyPolicy": {"KeyId": KEY, "Policy": "{}"},
        "Encrypt": {"KeyId": KEY, "Plaintext": b"x"},
        "Decrypt": {"KeyId": KEY, "CiphertextBlob": b"\x01" * 80},
        "ReEncrypt": {"CiphertextBlob": b"\x01" * 80, "SourceKeyId": KEY, "DestinationKeyId": KEY},
        "GenerateDataKey": {"KeyId": KEY, "KeySpec": "AES_256"},
        "GenerateDataKeyWithoutPlaintext": {"KeyId": KEY, "KeySpec": "AES_256"},
        "CreateGrant": {"KeyId": KEY, "GranteePrincipal": root_arn(), "Operations": ["Encrypt"]},
        "RevokeGrant": {"KeyId": KEY, "GrantId": "0" * 64},
        "CreateCustomKeyStore": {"CustomKeyStoreName": "hsm"},
        "ConnectCustomKeyStore": {"CustomKeyStoreId": "cks-1234567890abcdef0"},
        "DisconnectCustomKeyStore": {"CustomKeyStoreId": "cks-1234567890abcdef0"},
        "DeleteCustomKeyStore": {"CustomKeyStoreId": "cks-1234567890abcdef0"},
        "UpdateCustomKeyStore": {"CustomKeyStoreId": "cks-1234567890abcdef0"},
        "DescribeCustomKeyStores": {},
        "ReplicateKey": {"KeyId": KEY, "ReplicaRegion": "eu-west-1"},
        "UpdatePrimaryRegion": {"KeyId": KEY, "PrimaryRegion": "eu-west-1"},
    }
    return table.get(operation, {"KeyId": KEY})


# The permission each operation's first check needs, and the resource it is checked on.
# ReplicateKey's kms:CreateKey is on `*`, named without a lookup: it is decided before kms:ReplicateKey on the key.
_EXPECTED_ACTION = {"ReEncrypt": "kms:ReEncryptFrom", "ReplicateKey": "kms:CreateKey"}
_ON_STAR = {
    "CreateKey",
    "ListKeys",
    "ListAliases",
    "GenerateRandom",
    "ReplicateKey",
    # The custom key store operations: "kms:<operation> (IAM policy)", on no key.
    "CreateCustomKeyStore",
    "ConnectCustomKeyStore",
    "DisconnectCustomKeyStore",
    "DeleteCustomKeyStore",
    "UpdateCustomKeyStore",
    "DescribeCustomKeyStores",
}
_ON_ALIAS = {"CreateAlias", "UpdateAlias", "DeleteAlias"}


@pytest.mark.parametrize("operation", sorted(set(OPERATIONS) - {"RetireGrant"}))
def test_every_operation_is_authorized_before_it_acts(world: World, operation: str) -> None:
    key = world.key()
    world.kms()("CreateAlias", AliasName="alias/existing", TargetKeyId=key["KeyId"])
    nobody = world.user("nobody")
    params = {name: (key["KeyId"] if value == KEY else value) for name, value in _params(operation).items()}
    action = _EXPECTED_ACTION.get(operation, f"kms:{operation}")
    if operation in _ON_STAR:
        resource, reason = "*", no_identity_policy(action)
    elif operation in _ON_ALIAS:
        resource, reason = f"arn:aws:kms:{REGION}:{A}:{params['AliasName']}", no_identity_policy(action)
    elif operation == "ListRetirableGrants":
        resource, reason = params["RetiringPrincipal"], no_identity_policy(action)
    else:
        resource, reason = key["Arn"], no_identity_policy(action)
    before = world.kms()("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]
    with access_denied(denial(nobody.principal.arn, action, resource, reason)):
        world.kms(nobody)(operation, **params)
    assert world.kms()("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"] == before


def test_decrypt_without_a_key_id_is_authorized_against_the_key_in_the_ciphertext(world: World) -> None:
    first, second = world.key(), world.key()
    user = world.user("hal", allow(["kms:Encrypt", "kms:Decrypt"], first["Arn"]), allow("kms:Encrypt", second["Arn"]))
    kms = world.kms(user)
    mine = kms("Encrypt", KeyId=first["KeyId"], Plaintext=b"a")["CiphertextBlob"]
    assert kms("Decrypt", CiphertextBlob=mine)["Plaintext"] == b"a"
    theirs = kms("Encrypt", KeyId=second["KeyId"], Plaintext=b"b")["CiphertextBlob"]
    with access_denied(denial(user.principal.arn, "kms:Decrypt", second["Arn"], no_identity_policy("kms:Decrypt"))):
        kms("Decrypt", CiphertextBlob=theirs)


def test_re_encrypt_needs_re_encrypt_from_on_the_source_and_re_encrypt_to_on_the_destination(world: World) -> None:
    source, destination = world.key(), world.key()
    blob = world.kms()("Encrypt", KeyId=source["KeyId"], Plaintext=b"data")["CiphertextBlob"]
    only_from = world.user("from", allow("kms:ReEncryptFrom", source["Arn"]))
    reason = no_identity_policy("kms:ReEncryptTo")
    with access_denied(denial(only_from.principal.arn, "kms:ReEncryptTo", destination["Arn"], reason)):
        world.kms(only_from)("ReEncrypt", CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    only_to = world.user("to", allow("kms:ReEncryptTo", destination["Arn"]))
    reason = no_identity_policy("kms:ReEncryptFrom")
    with access_denied(denial(only_to.principal.arn, "kms:ReEncryptFrom", source["Arn"], reason)):
        world.kms(only_to)("ReEncrypt", CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    both = world.user("both", allow("kms:ReEncrypt*", [source["Arn"], destination["Arn"]]))
    answer = world.kms(both)("ReEncrypt", CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    assert (answer["SourceKeyId"], answer["KeyId"]) == (source["Arn"], destination["Arn"])


def test_create_key_with_tags_also_needs_tag_resource(world: World) -> None:
    # CreateKey API reference: "To use the Tags parameter, kms:TagResource (IAM policy)."
    creator = world.user("creator", allow("kms:CreateKey"))
    tags = [{"TagKey": "team", "TagValue": "blue"}]
    world.kms(creator)("CreateKey")
    with pytest.raises(AccessDeniedError) as raised:
        world.kms(creator)("CreateKey", Tags=tags)
    # The permission is checked on the key being created, whose ARN the refusal names.
    message = raised.value.message
    prefix = f"User: {creator.principal.arn} is not authorized to perform: kms:TagResource on resource: "
    assert message.startswith(prefix + f"arn:aws:kms:{REGION}:{A}:key/")
    assert message.endswith(no_identity_policy("kms:TagResource"))
    assert len(world.kms()("ListKeys")["Keys"]) == 1
    # "To add tags while creating a CMK, the principal must have permission in an IAM policy that isn't
    # restricted to particular CMKs" ("Controlling access to tags").
    tagger = world.user("creator", allow("kms:CreateKey"), allow("kms:TagResource", f"arn:aws:kms:*:{A}:key/*"))
    assert world.kms(tagger)("CreateKey", Tags=tags)["KeyMetadata"]["KeyId"]


def test_alias_operations_need_the_alias_in_iam_and_the_key_in_the_key_policy(world: World) -> None:
    # "Controlling access to aliases": kms:CreateAlias on the alias (IAM policy) and on the key (key policy).
    key = world.key()
    alias_arn = f"arn:aws:kms:{REGION}:{A}:alias/app"
    alias_only = world.user("ivy", allow("kms:CreateAlias", alias_arn))
    reason = no_identity_policy("kms:CreateAlias")
    with access_denied(denial(alias_only.principal.arn, "kms:CreateAlias", key["Arn"], reason)):
        world.kms(alias_only)("CreateAlias", AliasName="alias/app", TargetKeyId=key["KeyId"])
    key_only = world.user("jack", allow("kms:CreateAlias", key["Arn"]))
    with access_denied(denial(key_only.principal.arn, "kms:CreateAlias", alias_arn, reason)):
        world.kms(key_only)("CreateAlias", AliasName="alias/app", TargetKeyId=key["KeyId"])
    both = world.user("kate", allow(["kms:CreateAlias", "kms:DeleteAlias"], [alias_arn, key["Arn"]]))
    world.kms(both)("CreateAlias", AliasName="alias/app", TargetKeyId=key["KeyId"])
    world.kms(both)("DeleteAlias", AliasName="alias/app")
    # A key whose policy does not delegate to the account keeps IAM-only callers out.
    closed = world.key(policy(key_statement(root_arn(), "kms:*", Condition={"Bool": {"aws:SecureTransport": "true"}})))
    anything = world.user("liz", allow("kms:*"))
    reason = no_resource_policy("kms:CreateAlias")
    with access_denied(denial(anything.principal.arn, "kms:CreateAlias", closed["Arn"], reason)):
        world.kms(anything)("CreateAlias", AliasName="alias/closed", TargetKeyId=closed["KeyId"])


def test_update_alias_needs_the_alias_the_current_key_and_the_new_key(world: World) -> None:
    current, new = world.key(), world.key()
    world.kms()("CreateAlias", AliasName="alias/moving", TargetKeyId=current["KeyId"])
    alias_arn = f"arn:aws:kms:{REGION}:{A}:alias/moving"
    partial = world.user("mo", allow("kms:UpdateAlias", [alias_arn, new["Arn"]]))
    reason = no_identity_policy("kms:UpdateAlias")
    with access_denied(denial(partial.principal.arn, "kms:UpdateAlias", current["Arn"], reason)):
        world.kms(partial)("UpdateAlias", AliasName="alias/moving", TargetKeyId=new["KeyId"])
    full = world.user("mo", allow("kms:UpdateAlias", [alias_arn, new["Arn"], current["Arn"]]))
    world.kms(full)("UpdateAlias", AliasName="alias/moving", TargetKeyId=new["KeyId"])
    assert world.kms()("DescribeKey", KeyId="alias/moving")["KeyMetadata"]["KeyId"] == new["KeyId"]


def test_aws_reserved_aliases_cannot_be_changed_by_callers(world: World) -> None:
    key = world.key()
    with aws_error("NotAuthorizedException"):
        world.kms()("CreateAlias", AliasName="alias/aws/ebs", TargetKeyId=key["KeyId"])


def test_dry_run_answers_after_authorization(world: World) -> None:
    # "Testing your permissions": DryRun tells whether the call would have succeeded, authorization included.
    key = world.key()
    nobody = world.user("nobody")
    with access_denied(denial(nobody.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))):
        world.kms(nobody)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)
    allowed = world.user("allowed", allow("kms:Encrypt"))
    with aws_error("DryRunOperationException"):
        world.kms(allowed)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)


def test_a_grant_allows_exactly_its_operations_for_its_grantee(world: World) -> None:
    key = world.key()
    grantee = world.user("grantee")
    world.kms()("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=grantee.principal.arn, Operations=["Encrypt"])
    kms = world.kms(grantee)
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    with access_denied(denial(grantee.principal.arn, "kms:Decrypt", key["Arn"], no_identity_policy("kms:Decrypt"))):
        kms("Decrypt", CiphertextBlob=blob)
    other = world.user("other")
    with access_denied(denial(other.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))):
        world.kms(other)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_a_grant_honours_its_encryption_context_constraint(world: World) -> None:
    key = world.key()
    grantee = world.user("grantee")
    world.kms()(
        "CreateGrant",
        KeyId=key["KeyId"],
        GranteePrincipal=grantee.principal.arn,
        Operations=["Encrypt", "Decrypt"],
        Constraints={"EncryptionContextSubset": {"app": "payroll"}},
    )
    kms = world.kms(grantee)
    blob = kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "payroll", "n": "1"})
    kms("Decrypt", CiphertextBlob=blob["CiphertextBlob"], EncryptionContext={"app": "payroll", "n": "1"})
    with access_denied(denial(grantee.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))):
        kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"app": "hr"})


def test_grants_never_override_an_explicit_deny(world: World) -> None:
    grantee = world.user("grantee", deny("kms:Encrypt"))
    key = world.key()
    world.kms()("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=grantee.principal.arn, Operations=["Encrypt"])
    reason = "with an explicit deny in an identity-based policy"
    with access_denied(denial(grantee.principal.arn, "kms:Encrypt", key["Arn"], reason)):
        world.kms(grantee)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_a_grant_to_a_role_covers_its_sessions(world: World) -> None:
    key = world.key()
    session = world.role_session("worker")
    assert session.principal.role_arn is not None
    world.kms()("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=session.principal.role_arn, Operations=["Encrypt"])
    world.kms(session)("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")


def test_a_grant_with_create_grant_only_creates_grants_for_a_subset_of_its_operations(world: World) -> None:
    # "Granting CreateGrant permission": "The grantee principal can only create grants that allow some or
    # all of the operations in the parent grant."
    key = world.key()
    parent = world.user("parent")
    child = world.user("child")
    world.kms()(
        "CreateGrant",
        KeyId=key["KeyId"],
        GranteePrincipal=parent.principal.arn,
        Operations=["Encrypt", "CreateGrant"],
    )
    kms = world.kms(parent)
    kms("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=child.principal.arn, Operations=["Encrypt"])
    reason = no_identity_policy("kms:CreateGrant")
    with access_denied(denial(parent.principal.arn, "kms:CreateGrant", key["Arn"], reason)):
        kms("CreateGrant", KeyId=key["KeyId"], GranteePrincipal=child.principal.arn, Operations=["Decrypt"])


def test_a_grant_token_is_usable_at_once(world: World) -> None:
    key = world.key()
    grantee = world.user("grantee")
    token = world.kms()(
        "CreateGrant", KeyId=key["KeyId"], GranteePrincipal=grantee.principal.arn, Operations=["GenerateDataKey"]
    )["GrantToken"]
    world.kms(grantee)("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_256", GrantTokens=[token])
    with aws_error("InvalidGrantTokenException"):
        world.kms(grantee)("GenerateDataKey", KeyId=key["KeyId"], KeySpec="AES_256", GrantTokens=["not-a-token"])


def test_retire_grant_is_decided_by_the_grant(world: World) -> None:
    # "Retiring and revoking grants": the retiring principal may retire the grant without any policy.
    key = world.key()
    retirer, stranger = world.user("retirer"), world.user("stranger")
    grant = world.kms()(
        "CreateGrant",
        KeyId=key["KeyId"],
        GranteePrincipal=stranger.principal.arn,
        RetiringPrincipal=retirer.principal.arn,
        Operations=["Encrypt"],
    )
    message = denial(stranger.principal.arn, "kms:RetireGrant", key["Arn"], no_identity_policy("kms:RetireGrant"))
    with access_denied(message):
        world.kms(stranger)("RetireGrant", GrantToken=grant["GrantToken"])
    world.kms(retirer)("RetireGrant", GrantToken=grant["GrantToken"])
    assert world.kms()("ListGrants", KeyId=key["KeyId"])["Grants"] == []


def test_the_key_account_delegates_retiring_to_its_users_with_an_iam_policy(world: World) -> None:
    key = world.key()
    grantee = world.user("grantee")
    grant = world.kms()(
        "CreateGrant", KeyId=key["KeyId"], GranteePrincipal=grantee.principal.arn, Operations=["Encrypt"]
    )
    janitor = world.user("janitor", allow("kms:RetireGrant"))
    world.kms(janitor)("RetireGrant", KeyId=key["KeyId"], GrantId=grant["GrantId"])


def test_an_iam_deny_stops_even_the_retiring_principal(world: World) -> None:
    # "To deny permission to retire a grant, you can use a Deny action with the kms:RetireGrant permission."
    key = world.key()
    retirer = world.user("retirer", deny("kms:RetireGrant"))
    grant = world.kms()(
        "CreateGrant",
        KeyId=key["KeyId"],
        GranteePrincipal=retirer.principal.arn,
        RetiringPrincipal=retirer.principal.arn,
        Operations=["Encrypt"],
    )
    reason = "with an explicit deny in an identity-based policy"
    with access_denied(denial(retirer.principal.arn, "kms:RetireGrant", key["Arn"], reason)):
        world.kms(retirer)("RetireGrant", GrantToken=grant["GrantToken"])


def test_another_accounts_user_cannot_retire_by_iam_policy_alone(world: World) -> None:
    # "The kms:RetireGrant permission alone does not allow principals to retire a grant."
    key = world.key()
    grantee = world.user("grantee")
    grant = world.kms()(
        "CreateGrant", KeyId=key["KeyId"], GranteePrincipal=grantee.principal.arn, Operations=["Encrypt"]
    )
    outsider = world.user("outsider", allow("kms:RetireGrant"), account=B)
    reason = no_resource_policy("kms:RetireGrant")
    with access_denied(denial(outsider.principal.arn, "kms:RetireGrant", key["Arn"], reason)):
        world.kms(outsider)("RetireGrant", GrantToken=grant["GrantToken"])
