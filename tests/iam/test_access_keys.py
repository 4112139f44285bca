"""CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey and GetAccessKeyLastUsed, with AWS's errors."""

from __future__ import annotations

import re
from datetime import timedelta

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey
from kmsd.iam.accounts import secret_purpose

from .conftest import ACCOUNT, OTHER_ACCOUNT, Iam, aws_error, put_inline


def test_create_access_key_for_a_user(iam: Iam, clock: ManualClock, root_key: FileRootKey) -> None:
    user = iam.create_user("alice")
    key = iam("CreateAccessKey", UserName="alice")["AccessKey"]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key["AccessKeyId"])
    assert len(key["SecretAccessKey"]) == 40
    assert key["UserName"] == "alice"
    assert key["Status"] == "Active"
    assert key["CreateDate"] == clock.now()
    record = iam.store.get_access_key(key["AccessKeyId"])
    assert record is not None
    assert (record.user_id, record.principal_arn, record.account_id) == (user["UserId"], user["Arn"], ACCOUNT)
    # Stored wrapped under the root key and bound to its id, never in the clear.
    assert key["SecretAccessKey"].encode() not in record.wrapped_secret
    unwrapped = root_key.unwrap(record.wrapped_secret, secret_purpose(key["AccessKeyId"]))
    assert unwrapped.decode() == key["SecretAccessKey"]


def test_create_access_key_without_a_name_is_for_the_calling_user(iam: Iam) -> None:
    user_id = iam.create_user("alice")["UserId"]
    put_inline(iam.store, "user", user_id, "allow-all")
    key = iam.as_user("alice")("CreateAccessKey")["AccessKey"]
    assert key["UserName"] == "alice"
    listed = iam.as_user("alice")("ListAccessKeys")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in listed] == [key["AccessKeyId"]]


def test_root_manages_its_own_keys_without_a_name(iam: Iam) -> None:
    key = iam("CreateAccessKey")["AccessKey"]
    assert "UserName" not in key
    record = iam.store.get_access_key(key["AccessKeyId"])
    assert record is not None
    assert (record.principal_arn, record.user_id) == (f"arn:aws:iam::{ACCOUNT}:root", None)
    assert [k["AccessKeyId"] for k in iam("ListAccessKeys")["AccessKeyMetadata"]] == [key["AccessKeyId"]]
    iam("UpdateAccessKey", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    assert iam("ListAccessKeys")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    iam("DeleteAccessKey", AccessKeyId=key["AccessKeyId"])
    assert iam("ListAccessKeys")["AccessKeyMetadata"] == []


def test_a_role_session_must_name_the_user(iam: Iam) -> None:
    role_id = iam.create_role("deployer")["RoleId"]
    put_inline(iam.store, "role", role_id, "allow-all")
    with aws_error("ValidationError", "Must specify userName when calling with non-User credentials", 400):
        iam.as_role_session("deployer")("CreateAccessKey")


def test_a_user_has_at_most_two_access_keys(iam: Iam) -> None:
    iam.create_user("alice")
    iam("CreateAccessKey", UserName="alice")
    iam("CreateAccessKey", UserName="alice")
    with aws_error("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2", 409):
        iam("CreateAccessKey", UserName="alice")
    assert len(iam("ListAccessKeys", UserName="alice")["AccessKeyMetadata"]) == 2


def test_access_keys_of_an_unknown_user_are_no_such_entity(iam: Iam) -> None:
    message = "The user with name nobody cannot be found."
    with aws_error("NoSuchEntity", message, 404):
        iam("CreateAccessKey", UserName="nobody")
    with aws_error("NoSuchEntity", message, 404):
        iam("ListAccessKeys", UserName="nobody")


def test_list_access_keys_in_creation_order_and_in_pages(iam: Iam, clock: ManualClock) -> None:
    iam.create_user("alice")
    first = iam("CreateAccessKey", UserName="alice")["AccessKey"]
    clock.advance(timedelta(minutes=1))
    second = iam("CreateAccessKey", UserName="alice")["AccessKey"]
    listed = iam("ListAccessKeys", UserName="alice")
    assert listed == {
        "AccessKeyMetadata": [
            {"UserName": "alice", "AccessKeyId": k["AccessKeyId"], "Status": "Active", "CreateDate": k["CreateDate"]}
            for k in (first, second)
        ],
        "IsTruncated": False,
    }
    page = iam("ListAccessKeys", UserName="alice", MaxItems=1)
    assert page["IsTruncated"] is True
    rest = iam("ListAccessKeys", UserName="alice", MaxItems=1, Marker=page["Marker"])
    assert [k["AccessKeyId"] for k in page["AccessKeyMetadata"] + rest["AccessKeyMetadata"]] == [
        first["AccessKeyId"],
        second["AccessKeyId"],
    ]


def test_update_access_key_status(iam: Iam) -> None:
    iam.create_user("alice")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    assert iam("UpdateAccessKey", UserName="alice", AccessKeyId=key_id, Status="Inactive") == {}
    record = iam.store.get_access_key(key_id)
    assert record is not None and record.status == "Inactive"
    iam("UpdateAccessKey", UserName="alice", AccessKeyId=key_id, Status="Active")
    assert iam("ListAccessKeys", UserName="alice")["AccessKeyMetadata"][0]["Status"] == "Active"
    with aws_error("InvalidInput", "Invalid status Expired. Must be Active or Inactive.", 400):
        iam("UpdateAccessKey", UserName="alice", AccessKeyId=key_id, Status="Expired")


def test_a_key_is_found_only_under_its_own_user(iam: Iam) -> None:
    iam.create_user("alice")
    iam.create_user("bob")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    message = f"The Access Key with id {key_id} cannot be found."
    with aws_error("NoSuchEntity", message, 404):
        iam("UpdateAccessKey", UserName="bob", AccessKeyId=key_id, Status="Inactive")
    with aws_error("NoSuchEntity", message, 404):
        iam("DeleteAccessKey", UserName="bob", AccessKeyId=key_id)
    # Without a name, root acts on its own keys, not on its users'.
    with aws_error("NoSuchEntity", message, 404):
        iam("DeleteAccessKey", AccessKeyId=key_id)
    assert iam.store.get_access_key(key_id) is not None


def test_delete_access_key(iam: Iam) -> None:
    iam.create_user("alice")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    assert iam("DeleteAccessKey", UserName="alice", AccessKeyId=key_id) == {}
    assert iam.store.get_access_key(key_id) is None
    with aws_error("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.", 404):
        iam("DeleteAccessKey", UserName="alice", AccessKeyId=key_id)


def test_get_access_key_last_used_of_a_key_never_used(iam: Iam) -> None:
    iam.create_user("alice")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    assert iam("GetAccessKeyLastUsed", AccessKeyId=key_id) == {
        "UserName": "alice",
        "AccessKeyLastUsed": {"ServiceName": "N/A", "Region": "N/A"},
    }


def test_get_access_key_last_used_after_use(iam: Iam, clock: ManualClock) -> None:
    iam.create_user("alice")
    key_id = iam("CreateAccessKey", UserName="alice")["AccessKey"]["AccessKeyId"]
    used_at = clock.now() + timedelta(hours=2)
    iam.store.record_access_key_use(key_id, used_at, "kms", "eu-west-1")
    assert iam("GetAccessKeyLastUsed", AccessKeyId=key_id)["AccessKeyLastUsed"] == {
        "LastUsedDate": used_at,
        "ServiceName": "kms",
        "Region": "eu-west-1",
    }


def test_get_access_key_last_used_of_an_unknown_or_foreign_key(iam: Iam) -> None:
    with aws_error("NoSuchEntity", "The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found.", 404):
        iam("GetAccessKeyLastUsed", AccessKeyId="AKIAAAAAAAAAAAAAAAAA")
    other = iam.as_root(OTHER_ACCOUNT)
    other.create_user("carol")
    key_id = other("CreateAccessKey", UserName="carol")["AccessKey"]["AccessKeyId"]
    with aws_error("NoSuchEntity", f"The Access Key with id {key_id} cannot be found.", 404):
        iam("GetAccessKeyLastUsed", AccessKeyId=key_id)
