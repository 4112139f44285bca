"""The store's KMS grants, on SQLite and PostgreSQL: every grant method, the cascade from keys, and the
constraints on the stored columns."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.store.records import ACCOUNT, ALICE, REGION, T0, grant_id, key_id, make_grant, make_key
from tests.store.store_kinds import AnyStore, Stores

from kmsd.store.base import Conflict, Store, StoreError

ADMIN = f"arn:aws:iam::{ACCOUNT}:role/admin"


@pytest.fixture
def store(stores: Stores) -> AnyStore:
    opened = stores.open()
    opened.insert_key(make_key(1))
    opened.insert_key(make_key(2))
    return opened


def test_the_grant_methods_are_the_store_protocols(store: AnyStore) -> None:
    protocol: Store = store
    assert protocol.list_grants(key_id(1), REGION) == []


def test_a_grant_with_every_field_set_round_trips(store: AnyStore) -> None:
    grant = make_grant(
        1,
        name="retry-safe:name/1",
        retiring_principal=ADMIN,
        operations=("GenerateDataKey", "Decrypt", "CreateGrant", "RetireGrant"),
        encryption_context_subset={"Department": "IT", "ünïcode": "välue"},
    )
    store.insert_grant(grant)
    assert store.get_grant(grant.grant_id) == grant


def test_a_grant_with_defaults_and_an_equals_constraint_round_trips(store: AnyStore) -> None:
    bare = make_grant(1)
    equals = make_grant(2, encryption_context_equals={})
    store.insert_grant(bare)
    store.insert_grant(equals)
    assert store.get_grant(bare.grant_id) == bare
    stored = store.get_grant(equals.grant_id)
    # An empty constraint is a constraint (it allows only requests without an encryption context).
    assert stored is not None and stored.encryption_context_equals == {} and stored.encryption_context_subset is None


def test_an_unknown_grant_is_none(store: AnyStore) -> None:
    assert store.get_grant(grant_id(404)) is None


def test_inserting_an_existing_grant_id_is_a_conflict(store: AnyStore) -> None:
    store.insert_grant(make_grant(1))
    with pytest.raises(Conflict):
        store.insert_grant(make_grant(1, key=2))
    assert store.list_grants(key_id(2), REGION) == []


def test_a_grant_on_an_unknown_key_is_refused_without_conflict(store: AnyStore) -> None:
    with pytest.raises(StoreError, match="refers to a record that does not exist") as raised:
        store.insert_grant(make_grant(1, key=99))
    assert not isinstance(raised.value, Conflict)


def test_list_grants_is_one_keys_grants_oldest_first(store: AnyStore) -> None:
    later = make_grant(1, created_at=T0 + timedelta(seconds=1))
    tie_b = make_grant(3)
    tie_a = make_grant(2)
    other_key = make_grant(4, key=2)
    for grant in (later, tie_b, other_key, tie_a):
        store.insert_grant(grant)
    # Grants created at one instant come back in grant id order, so paging is deterministic.
    assert store.list_grants(key_id(1), REGION) == [tie_a, tie_b, later]
    assert store.list_grants(key_id(2), REGION) == [other_key]
    assert store.list_grants(key_id(3), REGION) == []


def test_list_grants_retirable_by_matches_the_retiring_principal_exactly(store: AnyStore) -> None:
    first = make_grant(1, retiring_principal=ADMIN, created_at=T0 + timedelta(seconds=2))
    second = make_grant(2, key=2, retiring_principal=ADMIN)
    other_case = make_grant(3, retiring_principal=ADMIN.upper())
    none = make_grant(4)
    grantee_only = make_grant(5, grantee_principal=ADMIN)
    for grant in (first, second, other_case, none, grantee_only):
        store.insert_grant(grant)
    assert store.list_grants_retirable_by(ADMIN) == [second, first]
    assert store.list_grants_retirable_by(ALICE) == []


def test_delete_grant_removes_only_that_grant_and_ignores_unknown_ids(store: AnyStore) -> None:
    store.insert_grant(make_grant(1))
    store.insert_grant(make_grant(2))
    store.delete_grant(grant_id(1))
    store.delete_grant(grant_id(1))
    store.delete_grant(grant_id(404))
    assert store.get_grant(grant_id(1)) is None
    assert [grant.grant_id for grant in store.list_grants(key_id(1), REGION)] == [grant_id(2)]


def test_deleting_a_key_deletes_its_grants(store: AnyStore) -> None:
    # ScheduleKeyDeletion: KMS deletes the key "and all KMS data associated with it".
    store.insert_grant(make_grant(1, retiring_principal=ADMIN))
    store.insert_grant(make_grant(2, key=2, retiring_principal=ADMIN))
    store.delete_key(key_id(1), REGION)
    assert store.get_grant(grant_id(1)) is None
    assert [grant.grant_id for grant in store.list_grants_retirable_by(ADMIN)] == [grant_id(2)]


def test_grant_writes_join_the_callers_transaction(store: AnyStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_grant(make_grant(1))
        store.delete_grant(grant_id(1))
        store.insert_grant(make_grant(2))
        raise RuntimeError("the operation failed after writing")
    assert store.list_grants(key_id(1), REGION) == []


def test_stored_grant_columns_refuse_what_is_not_json(store: AnyStore) -> None:
    # Past the record codec, as a bug or another tool might write: the table's own CHECK refuses it.
    with pytest.raises(StoreError) as refused:
        store._write(
            "INSERT INTO grants VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, NULL)",
            (grant_id(9), key_id(1), REGION, ALICE, '["Encrypt"]', ACCOUNT, "t", "{not json"),
            "grant",
        )
    assert not isinstance(refused.value, Conflict)
    assert store.get_grant(grant_id(9)) is None
