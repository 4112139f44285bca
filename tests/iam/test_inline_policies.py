"""Inline policies through ``IamService.call``: Put/Get/Delete/List{User,Group,Role}Policy.

"IAM and AWS STS quotas": the inline policies of one entity may total 2,048
(user), 5,120 (group) or 10,240 (role) characters, white space not counted;
AWS refuses more with ``LimitExceeded`` "Maximum policy size of N bytes
exceeded for KIND NAME".
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

import pytest

from tests.iam.conftest import Iam, aws_error

KINDS = (("User", "user", "alice", 2048), ("Group", "group", "devs", 5120), ("Role", "role", "deployer", 10240))


def allow(*actions: str) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}
    )


def sized(characters: int, sid: str = "S") -> str:
    """An identity policy of exactly ``characters`` non-whitespace characters (and plenty of spaces)."""

    def policy(statement_id: str) -> dict[str, Any]:
        statement = {"Sid": statement_id, "Effect": "Allow", "Action": "kms:*", "Resource": "*"}
        return {"Version": "2012-10-17", "Statement": [statement]}

    room = characters - len(json.dumps(policy(""), separators=(",", ":")))
    document = json.dumps(policy(sid * room), indent=6)
    assert len("".join(document.split())) == characters
    return document


def _entities(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_group("devs")
    iam.create_role("deployer")


def put(iam: Iam, kind: str, owner: str, name: str, document: str) -> dict[str, Any]:
    return iam(f"Put{kind}Policy", **{f"{kind}Name": owner}, PolicyName=name, PolicyDocument=document)


@pytest.mark.parametrize(("kind", "_lower", "owner", "_limit"), KINDS)
def test_put_get_list_delete(iam: Iam, kind: str, _lower: str, owner: str, _limit: int) -> None:
    _entities(iam)
    document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Encrypt", "Resource": "*"}]}'
    assert put(iam, kind, owner, "Encrypting", document) == {}
    put(iam, kind, owner, "Another", allow("kms:Decrypt"))
    got = iam(f"Get{kind}Policy", **{f"{kind}Name": owner.upper()}, PolicyName="Encrypting")
    assert got[f"{kind}Name"] == owner  # the stored spelling
    assert got["PolicyName"] == "Encrypting"
    assert got["PolicyDocument"] != document and unquote(got["PolicyDocument"]) == document
    listed = iam(f"List{kind}Policies", **{f"{kind}Name": owner})
    assert listed == {"PolicyNames": ["Another", "Encrypting"], "IsTruncated": False}
    iam(f"Delete{kind}Policy", **{f"{kind}Name": owner}, PolicyName="Another")
    assert iam(f"List{kind}Policies", **{f"{kind}Name": owner})["PolicyNames"] == ["Encrypting"]


@pytest.mark.parametrize(("kind", "lower", "owner", "_limit"), KINDS)
def test_missing_entity_or_policy(iam: Iam, kind: str, lower: str, owner: str, _limit: int) -> None:
    _entities(iam)
    for operation in ("Get", "Delete"):
        with aws_error("NoSuchEntity", f"The {lower} policy with name Nope cannot be found.", 404):
            iam(f"{operation}{kind}Policy", **{f"{kind}Name": owner}, PolicyName="Nope")
        with aws_error("NoSuchEntity", f"The {lower} with name nobody cannot be found.", 404):
            iam(f"{operation}{kind}Policy", **{f"{kind}Name": "nobody"}, PolicyName="Nope")
    with aws_error("NoSuchEntity", f"The {lower} with name nobody cannot be found.", 404):
        put(iam, kind, "nobody", "P", allow("kms:Get*"))
    with aws_error("NoSuchEntity", f"The {lower} with name nobody cannot be found.", 404):
        iam(f"List{kind}Policies", **{f"{kind}Name": "nobody"})


@pytest.mark.parametrize(("kind", "_lower", "owner", "_limit"), KINDS)
def test_a_malformed_document_is_refused(iam: Iam, kind: str, _lower: str, owner: str, _limit: int) -> None:
    _entities(iam)
    with aws_error("MalformedPolicyDocument", "Syntax errors in policy.", 400):
        put(iam, kind, owner, "P", "{not json")
    bad_action = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms","Resource":"*"}]}'
    with aws_error(
        "MalformedPolicyDocument", "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    ):
        put(iam, kind, owner, "P", bad_action)
    assert iam(f"List{kind}Policies", **{f"{kind}Name": owner})["PolicyNames"] == []


@pytest.mark.parametrize(("kind", "lower", "owner", "limit"), KINDS)
def test_the_aggregate_size_quota(iam: Iam, kind: str, lower: str, owner: str, limit: int) -> None:
    _entities(iam)
    message = f"Maximum policy size of {limit} bytes exceeded for {lower} {owner}"
    half = limit // 2
    put(iam, kind, owner, "First", sized(half, "A"))
    put(iam, kind, owner, "Second", sized(limit - half, "B"))  # exactly at the limit: white space does not count
    with aws_error("LimitExceeded", message, 409):
        put(iam, kind, owner, "Third", allow("kms:Get*"))
    # Replacing a policy counts its new document instead of the old one.
    put(iam, kind, owner, "Second", sized(limit - half - 10, "C"))
    with aws_error("LimitExceeded", message, 409):
        put(iam, kind, owner, "Second", sized(limit - half + 1, "D"))
    iam(f"Delete{kind}Policy", **{f"{kind}Name": owner}, PolicyName="First")
    put(iam, kind, owner, "Third", allow("kms:Get*"))


@pytest.mark.parametrize(("kind", "lower", "owner", "limit"), KINDS)
def test_one_document_over_the_quota(iam: Iam, kind: str, lower: str, owner: str, limit: int) -> None:
    _entities(iam)
    with aws_error("LimitExceeded", f"Maximum policy size of {limit} bytes exceeded for {lower} {owner}", 409):
        put(iam, kind, owner, "Huge", sized(limit + 1))


def test_list_paging(iam: Iam) -> None:
    iam.create_user("alice")
    for name in ("c", "a", "b"):
        put(iam, "User", "alice", name, allow("kms:Get*"))
    first = iam("ListUserPolicies", UserName="alice", MaxItems=2)
    assert first["PolicyNames"] == ["a", "b"] and first["IsTruncated"] is True
    rest = iam("ListUserPolicies", UserName="alice", MaxItems=2, Marker=first["Marker"])
    assert rest == {"PolicyNames": ["c"], "IsTruncated": False}


def test_inline_policies_belong_to_one_entity(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_user("bob")
    put(iam, "User", "alice", "P", allow("kms:Get*"))
    assert iam("ListUserPolicies", UserName="bob")["PolicyNames"] == []
    with aws_error("NoSuchEntity", "The user policy with name P cannot be found."):
        iam("GetUserPolicy", UserName="bob", PolicyName="P")
