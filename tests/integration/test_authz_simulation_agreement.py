"""The policy simulator agrees with the live decision of every KMS call the authorization tests make (issue 13).

The check itself runs inside :mod:`tests.integration.authz_world`: every KMS
client of the shared world asks SimulatePrincipalPolicy (or, for an account's
root user, SimulateCustomPolicy) about each call it makes and fails the test
that made the call if the answers differ (:mod:`tests.helpers.simulation_check`).
So every case of ``test_authz_*.py`` (and of the other modules built on the
world) is compared.  This module makes sure the comparison is not vacuous: a
call of each kind (allowed by the key policy, by delegation to IAM, by a grant,
across accounts, by a role session and by the root user; refused implicitly
and explicitly) is made, and each kind of outcome is counted as compared.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.simulation_check import COMPARED, Disagreement, Subject, watch
from tests.integration.authz_world import (
    ACCOUNT_A,
    ACCOUNT_B,
    World,
    account_root,
    allow,
    assume,
    code_of,
    deny,
    enable_iam_policies,
    running_world,
)
from tests.integration.stores import Stores


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("authz-simulation")) as built:
        yield built


def test_each_kind_of_decision_is_compared_with_the_simulator(world: World) -> None:
    before = COMPARED.copy()
    a, b = world.a, world.b
    key = a.key(
        enable_iam_policies(ACCOUNT_A),
        allow("kms:Encrypt", principal=account_root(ACCOUNT_B), sid="Account B encrypts"),
        deny("kms:Decrypt", principal="*", sid="Nobody decrypts", condition={"Bool": {"aws:SecureTransport": "false"}}),
    )
    delegated = a.user(allow(["kms:Encrypt", "kms:DescribeKey", "kms:Decrypt"], key.arn))
    nothing = a.user()
    granted = a.user()
    a.kms().create_grant(KeyId=key.arn, GranteePrincipal=granted.arn, Operations=["GenerateDataKey"])
    role = a.role(allow("kms:DescribeKey", key.arn), trusted=a.root.arn)
    session = assume(a.user(allow("sts:AssumeRole", role)), role)
    partner = b.user(allow("kms:Encrypt", key.arn))

    assert code_of(delegated.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == "ok"
    assert code_of(delegated.kms().describe_key, KeyId=key.key_id) == "ok"
    assert code_of(granted.kms().generate_data_key, KeyId=key.arn, KeySpec="AES_256") == "ok"
    assert code_of(session.kms().describe_key, KeyId=key.arn) == "ok"
    assert code_of(partner.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == "ok"
    assert code_of(a.kms().describe_key, KeyId=key.arn) == "ok"
    assert code_of(nothing.kms().encrypt, KeyId=key.arn, Plaintext=b"x") == "AccessDeniedException"
    blob = a.kms().encrypt(KeyId=key.arn, Plaintext=b"x")["CiphertextBlob"]
    assert code_of(delegated.kms().decrypt, CiphertextBlob=blob) == "AccessDeniedException"

    compared = COMPARED - before
    assert compared["allowed"] >= 7
    assert compared["implicitDeny"] >= 1
    assert compared["explicitDeny"] >= 1


def test_a_disagreement_fails_the_call(world: World) -> None:
    # A subject whose simulation cannot agree: the user is simulated with another user's (empty) policies.
    a = world.a
    key = a.key()
    user = a.user(allow("kms:DescribeKey", key.arn))
    stranger = a.user()
    client = user.unwatched_kms("us-west-2")
    watch(client, Subject(ACCOUNT_A, stranger.arn, None), lambda: a.iam, lambda: a.root.unwatched_kms("us-west-2"))
    with pytest.raises(Disagreement, match="live allowed for kms:DescribeKey"):
        client.describe_key(KeyId=key.arn)
