"""AssumeRole's SourceIdentity against the STS service and a real store (issue 9, item 13).

The value needs ``sts:SetSourceIdentity`` in the trust policy, is stored with
the session (and read back by the credential resolver), is ``aws:SourceIdentity``
in every later request, and cannot change along a role chain.
"""

from __future__ import annotations

from kmsd.iam.authorization import request_context_keys
from kmsd.store.sqlite import SqliteStore
from tests.iam.conftest import ACCOUNT, World, allow, aws_error, trust


def test_the_source_identity_is_stored_with_the_session_and_is_a_global_key(world: World, store: SqliteStore) -> None:
    alice = world.user("alice")
    arn = world.role("r1", trust(f"arn:aws:iam::{ACCOUNT}:user/alice", ["sts:AssumeRole", "sts:SetSourceIdentity"]))
    answer = world.assume(alice, arn, SourceIdentity="alice@example.com")
    assert answer["SourceIdentity"] == "alice@example.com"
    record = store.get_session(answer["Credentials"]["AccessKeyId"])
    assert record is not None and record.source_identity == "alice@example.com"
    session = world.signed_in(answer["Credentials"])
    assert request_context_keys(session, world.clock)["aws:SourceIdentity"] == "alice@example.com"
    # Without one, the key is absent (not empty), as for long-term credentials.
    assert "aws:SourceIdentity" not in request_context_keys(world.session(alice, arn), world.clock)
    assert "aws:SourceIdentity" not in request_context_keys(alice, world.clock)


def test_set_source_identity_is_required_and_the_value_is_fixed_for_the_chain(world: World) -> None:
    alice = world.user("alice")
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/alice"
    only_assume = world.role("plain", trust(user_arn))
    with aws_error(
        "AccessDenied",
        f"User: {user_arn} is not authorized to perform: sts:SetSourceIdentity on resource: {only_assume}",
        403,
    ):
        world.assume(alice, only_assume, SourceIdentity="alice")
    first = world.role("first", trust(user_arn, ["sts:AssumeRole", "sts:SetSourceIdentity"]), allow("sts:AssumeRole"))
    second = world.role("second", trust(first, ["sts:AssumeRole", "sts:SetSourceIdentity"]))
    session = world.session(alice, first, SourceIdentity="alice")
    chained = world.assume(session, second, "next")
    assert chained["SourceIdentity"] == "alice"
    assert world.assume(session, second, "next", SourceIdentity="alice")["SourceIdentity"] == "alice"
    with aws_error("AccessDenied", status=403):
        world.assume(session, second, "next", SourceIdentity="mallory")
    third = world.role("third", trust(first))
    with aws_error("AccessDenied", status=403):
        world.assume(session, third, "next")
