"""The authorizer's one path (gather the facts, then the pure decide), and its caches following other writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from kmsd.authz.authorizer import KmsCall, NamedKey
from kmsd.authz.decide import Basis, decide
from kmsd.authz.denial import AccessDeniedError
from kmsd.authz.permissions import Target
from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.kms.service import KmsService
from kmsd.store.sqlite import SqliteStore

from .conftest import World, access_denied, allow, denial, no_identity_policy


def test_decide_allows_or_raises_access_denied(world: World) -> None:
    key = world.key()
    record = world.store.get_key(key["KeyId"], "us-west-2")
    assert record is not None
    authorizer = world.kms_service.authorizer
    decide(authorizer.gather(KmsCall("Encrypt", world.root(), {}, {Target.KEY: NamedKey(record)}))).enforce()
    user = world.user("erin")
    with pytest.raises(AccessDeniedError) as raised:
        decide(authorizer.gather(KmsCall("Encrypt", user, {}, {Target.KEY: NamedKey(record)}))).enforce()
    assert raised.value.message == denial(
        user.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt")
    )


def test_decide_answers_each_permission_up_to_the_first_refused(world: World) -> None:
    source, destination = world.key(), world.key()
    records = [world.store.get_key(metadata["KeyId"], "us-west-2") for metadata in (source, destination)]
    assert records[0] is not None and records[1] is not None
    user = world.user("fay", allow("kms:ReEncryptFrom", source["Arn"]))
    keys = {Target.SOURCE_KEY: NamedKey(records[0]), Target.DESTINATION_KEY: NamedKey(records[1])}
    results = decide(world.kms_service.authorizer.gather(KmsCall("ReEncrypt", user, {}, keys))).results
    assert [(result.permission.action, result.allowed) for result in results] == [
        ("kms:ReEncryptFrom", True),
        ("kms:ReEncryptTo", False),
    ]
    assert results[0].basis is Basis.DELEGATION


def test_a_grant_written_by_another_process_counts_once_caches_are_dropped(world: World, tmp_path: Path) -> None:
    key = world.key()
    grantee = world.user("grantee")
    kms = world.kms(grantee)
    with access_denied(denial(grantee.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))):
        kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    other_store = SqliteStore(tmp_path / "kmsd.db")
    try:
        other = KmsService(
            other_store, FileRootKey.load_or_create(tmp_path / "root.key"), world.clock, SeededRandomSource(9)
        )
        other.call(
            "CreateGrant",
            {"KeyId": key["KeyId"], "GranteePrincipal": grantee.principal.arn, "Operations": ["Encrypt"]},
            world.root(),
        )
    finally:
        other_store.close()
    # The API layer calls this when the store reports another process's commit.
    world.kms_service.invalidate_caches()
    assert kms("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]
