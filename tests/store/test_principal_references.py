"""The principal-reference index and what deleting a user or role does to the documents and grants naming it.

Issue 9 item 7: the index is kept by triggers on every write of a key policy
or trust policy, built for documents stored before its migration, and used
by ``delete_user`` / ``delete_role`` to rewrite, in the deletion's own
transaction, every document and grant that names the deleted principal.
Each test runs on SQLite (triggers over json_tree) and PostgreSQL (plpgsql
triggers over the json type); the migration that built the index for older
SQLite files is tested in ``test_sqlite_migrations.py``.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from tests.store.records import (
    REGION,
    key_policy,
    make_grant,
    make_key,
    role,
    user,
)
from tests.store.store_kinds import AnyStore

from kmsd.store.base import Conflict

ACCOUNT = "111122223333"
OTHER = "444455556666"


def references(store: AnyStore) -> set[tuple[str, str | None, str | None]]:
    rows = store._fetchall("SELECT principal, key_id, role_id FROM principal_references")
    return {(str(row[0]), row[1], row[2]) for row in rows}


@pytest.fixture
def store(store_with_accounts: AnyStore) -> AnyStore:
    return store_with_accounts


def test_the_triggers_index_every_iam_arn_of_key_policies_and_trust_policies(store: AnyStore) -> None:
    alice = user("Alice")
    # The ARN written with an escaped solidus is the same ARN once parsed.
    escaped = key_policy(alice.arn, "111122223333").replace("user/", "user\\/")
    assert "user\\/Alice" in escaped
    store.insert_key(make_key(1, policy=escaped))
    deployer = role("Deployer", assume_role_policy=key_policy(alice.arn))
    store.insert_role(deployer)
    key_id = make_key(1).key_id
    assert references(store) == {(alice.arn.lower(), key_id, None), (alice.arn.lower(), None, deployer.role_id)}
    # A new policy replaces the old references; a deleted key or role takes its own with it.
    stored = store.get_key(key_id, REGION)
    assert stored is not None
    store.update_key(replace(stored, policy=key_policy("arn:aws:iam::444455556666:role/Other")))
    assert (("arn:aws:iam::444455556666:role/other", key_id, None)) in references(store)
    assert (alice.arn.lower(), key_id, None) not in references(store)
    store.delete_role(deployer.role_id)
    assert {row[2] for row in references(store)} == {None}


def test_an_unreadable_document_is_indexed_for_every_deletion(store: AnyStore) -> None:
    store.insert_key(make_key(1, policy="not json"))
    assert references(store) == {("?", make_key(1).key_id, None)}


def test_deleting_a_user_rewrites_every_key_policy_trust_policy_and_grant_that_names_it(store: AnyStore) -> None:
    alice = user("Alice")
    bob = user("Bob", account_id=OTHER)
    store.insert_user(alice)
    store.insert_user(bob)
    # A key of another account names alice; one key names only bob.
    store.insert_key(make_key(1, account_id=OTHER, policy=key_policy(alice.arn, bob.arn)))
    store.insert_key(make_key(2, policy=key_policy(bob.arn)))
    store.insert_key(make_key(3, policy=key_policy(alice.arn, element="NotPrincipal")))
    trusting = role("Trusting", assume_role_policy=key_policy(alice.arn.upper().replace("ARN:AWS:IAM", "arn:aws:iam")))
    store.insert_role(trusting)
    store.insert_grant(make_grant(1, key=1, grantee_principal=alice.arn, retiring_principal=alice.arn))
    store.insert_grant(make_grant(2, key=2, grantee_principal=bob.arn, retiring_principal=alice.arn.upper()))

    store.delete_user(alice.user_id)

    def principals_in(document: str) -> list[object]:
        return [s.get("Principal", s.get("NotPrincipal"))["AWS"] for s in json.loads(document)["Statement"]]

    key1, key2, key3 = (store.get_key(make_key(n).key_id, REGION) for n in (1, 2, 3))
    assert key1 is not None and key2 is not None and key3 is not None
    assert principals_in(key1.policy) == [alice.user_id, bob.arn]
    assert principals_in(key2.policy) == [bob.arn]
    assert principals_in(key3.policy) == [alice.user_id]
    stored_role = store.get_role_by_id(trusting.role_id)
    assert stored_role is not None and principals_in(stored_role.assume_role_policy) == [alice.user_id]
    grant1, grant2 = store.get_grant(make_grant(1).grant_id), store.get_grant(make_grant(2).grant_id)
    assert grant1 is not None and grant2 is not None
    assert (grant1.grantee_principal, grant1.retiring_principal) == (alice.user_id, alice.user_id)
    assert (grant2.grantee_principal, grant2.retiring_principal) == (bob.arn, alice.user_id)
    # The index follows the rewritten documents: nothing names alice any more.
    assert not [row for row in references(store) if row[0] == alice.arn.lower()]


def test_deleting_a_role_rewrites_what_names_it(store: AnyStore) -> None:
    deployer = role("Deployer")
    store.insert_role(deployer)
    store.insert_key(make_key(1, policy=key_policy([deployer.arn, "111122223333"])))  # type: ignore[arg-type]
    store.insert_grant(make_grant(1, grantee_principal=deployer.arn))
    store.delete_role(deployer.role_id)
    key = store.get_key(make_key(1).key_id, REGION)
    grant = store.get_grant(make_grant(1).grant_id)
    assert key is not None and grant is not None
    assert json.loads(key.policy)["Statement"][0]["Principal"] == {"AWS": [deployer.role_id, "111122223333"]}
    assert grant.grantee_principal == deployer.role_id


def test_the_rewrite_is_part_of_the_deletion_transaction(store: AnyStore) -> None:
    alice = user("Alice")
    store.insert_user(alice)
    store.insert_key(make_key(1, policy=key_policy(alice.arn)))
    with pytest.raises(RuntimeError), store.transaction():
        store.delete_user(alice.user_id)
        raise RuntimeError("the deletion fails later")
    key = store.get_key(make_key(1).key_id, REGION)
    assert key is not None and alice.arn in key.policy
    assert store.get_user_by_id(alice.user_id) is not None


def test_renaming_a_user_moves_what_names_it_to_the_new_arn(store: AnyStore) -> None:
    alice = user("Alice")
    store.insert_user(alice)
    store.insert_key(make_key(1, policy=key_policy(alice.arn)))
    store.insert_grant(make_grant(1, grantee_principal=alice.arn, retiring_principal=alice.arn))
    for renamed in (replace(alice, user_name="Alicia", path="/staff/"), replace(alice, user_name="ALICIA")):
        before = store.get_user_by_id(alice.user_id)
        assert before is not None
        store.update_user(renamed)
        key, grant = store.get_key(make_key(1).key_id, REGION), store.get_grant(make_grant(1).grant_id)
        assert key is not None and grant is not None
        assert json.loads(key.policy)["Statement"][0]["Principal"] == {"AWS": renamed.arn}
        assert (grant.grantee_principal, grant.retiring_principal) == (renamed.arn, renamed.arn)
        assert before.arn not in key.policy


def test_a_rename_onto_a_taken_name_leaves_the_callers_transaction_usable(store: AnyStore) -> None:
    alice, bob = user("Alice"), user("Bob")
    store.insert_user(alice)
    store.insert_user(bob)
    with store.transaction():
        with pytest.raises(Conflict):
            store.update_user(replace(alice, user_name="bob"))
        store.update_user(replace(alice, user_name="Alicia"))
    stored = store.get_user_by_id(alice.user_id)
    assert stored is not None and stored.user_name == "Alicia"
