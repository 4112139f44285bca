"""A KMS call in three phases: resolve writes nothing, decide reads nothing, act reaches only the keys it is given."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from kmsd.authz.authorizer import KmsCall
from kmsd.authz.decide import decide
from kmsd.authz.denial import AccessDeniedError
from kmsd.authz.permissions import Target
from kmsd.errors import AwsError
from kmsd.kms import keys
from kmsd.kms.expiry import KeyDeleted
from kmsd.kms.resolve import Resolved, key_of, nothing
from kmsd.kms.service import OPERATIONS, Operation

from .conftest import REGION, A, World, access_denied, allow, aws_error, denial, no_identity_policy


class _NoStore:
    """Stands in for the store while deciding: any read would fail the test."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"decide read the store ({name})")


def test_decide_reads_nothing_but_the_facts(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    key = world.key()
    user = world.user("ida", allow("kms:Encrypt", key["Arn"]))
    stranger = world.user("jon")
    service = world.kms_service
    resolved = key_of(service.context, user, {"KeyId": key["KeyId"]})
    allowed = service.authorizer.gather(KmsCall("Encrypt", user, {}, resolved.keys))
    refused = service.authorizer.gather(KmsCall("Encrypt", stranger, {}, resolved.keys))
    monkeypatch.setattr(service.authorizer, "store", _NoStore())
    monkeypatch.setattr(service.context, "store", _NoStore())
    assert decide(allowed).allowed
    decision = decide(refused)
    assert not decision.allowed
    message = denial(stranger.principal.arn, "kms:Encrypt", key["Arn"], no_identity_policy("kms:Encrypt"))
    with access_denied(message):
        decision.enforce()


def test_a_handler_given_no_key_fails_closed_and_writes_nothing(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    key = world.key()
    world.kms()("DisableKey", KeyId=key["KeyId"])
    # A resolver that forgets the key: the decision has no key to decide on, so the call fails closed.
    monkeypatch.setitem(OPERATIONS, "EnableKey", Operation(nothing, keys.enable_key, writes=True))
    with aws_error("KMSInternalException"):
        world.kms()("EnableKey", KeyId=key["KeyId"])
    assert world.kms()("DescribeKey", KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_a_handler_reaches_a_key_only_through_what_was_resolved() -> None:
    with pytest.raises(AwsError) as raised:
        Resolved({}).key(Target.KEY)
    assert (raised.value.code, raised.value.status) == ("KMSInternalException", 500)
    assert Resolved({}).maybe_key() is None


def test_resolving_an_expired_key_writes_nothing_and_the_service_purges_it(world: World) -> None:
    key = world.key()
    world.kms()("ScheduleKeyDeletion", KeyId=key["KeyId"], PendingWindowInDays=7)
    world.clock.advance(timedelta(days=8))
    with pytest.raises(KeyDeleted):
        key_of(world.kms_service.context, world.root(), {"KeyId": key["KeyId"]})
    # The resolver only said so: the key is still stored until a call meets it.
    assert world.store.get_key(key["KeyId"], "us-west-2") is not None
    with aws_error("NotFoundException"):
        world.kms()("Encrypt", KeyId=key["KeyId"], Plaintext=b"x")
    assert world.store.get_key(key["KeyId"], "us-west-2") is None


def test_permissions_on_what_needs_no_lookup_are_decided_before_the_keys_are_looked_up(world: World) -> None:
    # The alias half of CreateAlias is decided on the alias ARN alone: a caller refused it hears so
    # whether or not the target key exists, and before the alias name is checked.
    nobody = world.user("kim")
    alias_arn = f"arn:aws:kms:{REGION}:{A}:alias/app"
    message = denial(nobody.principal.arn, "kms:CreateAlias", alias_arn, no_identity_policy("kms:CreateAlias"))
    with access_denied(message):
        world.kms(nobody)("CreateAlias", AliasName="alias/app", TargetKeyId=str(uuid.UUID(int=1)))
    bad_name = denial(
        nobody.principal.arn, "kms:CreateAlias", f"arn:aws:kms:{REGION}:{A}:app", no_identity_policy("kms:CreateAlias")
    )
    with access_denied(bad_name):
        world.kms(nobody)("CreateAlias", AliasName="app", TargetKeyId=str(uuid.UUID(int=1)))
    # CreateKey is decided on `*` before the request's key spec is checked.
    with access_denied(denial(nobody.principal.arn, "kms:CreateKey", "*", no_identity_policy("kms:CreateKey"))):
        world.kms(nobody)("CreateKey", KeySpec="RSA_2048")
    # A caller who may create aliases hears about the missing key.
    creator = world.user("lee", allow("kms:CreateAlias"))
    with aws_error("NotFoundException"):
        world.kms(creator)("CreateAlias", AliasName="alias/app", TargetKeyId=str(uuid.UUID(int=1)))


def test_the_account_of_a_denial_lists_what_was_decided_before_the_keys(world: World) -> None:
    key = world.key()
    user = world.user("max", allow("kms:CreateAlias", f"arn:aws:kms:{REGION}:{A}:alias/*"))
    with pytest.raises(AccessDeniedError) as raised:
        world.kms(user)("CreateAlias", AliasName="alias/app", TargetKeyId=key["KeyId"])
    explanation = raised.value.explanation()
    assert explanation is not None
    assert [(check["action"], check["resource"], check["allowed"]) for check in explanation["checks"]] == [
        ("kms:CreateAlias", f"arn:aws:kms:{REGION}:{A}:alias/app", True),
        ("kms:CreateAlias", key["Arn"], False),
    ]
