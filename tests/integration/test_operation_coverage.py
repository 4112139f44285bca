"""The measure of issue 11: every operation in the installed botocore's KMS model is served by kmsd.

The model is read at test time, so a botocore release that adds an operation
makes this test name it until kmsd implements it.  Each operation must have
its row in the operation table (resolver and handler) and in the permissions
table, and a real ``kmsd serve`` must answer it as an operation it knows: an
empty request gets the operation's own validation or not-found error, never
``UnknownOperationException``.
"""

from __future__ import annotations

from collections.abc import Iterator

import botocore.session
import pytest

from kmsd.authz.permissions import PERMISSIONS
from kmsd.kms.service import OPERATIONS
from tests.helpers.clients import kms_call
from tests.integration.authz_world import World, running_world
from tests.integration.stores import Stores

MODEL_OPERATIONS = tuple(sorted(botocore.session.get_session().get_service_model("kms").operation_names))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("operation-coverage")) as built:
        yield built


def test_every_operation_of_botocores_model_is_implemented() -> None:
    assert [operation for operation in MODEL_OPERATIONS if operation not in OPERATIONS] == []


def test_every_operation_is_authorized_by_its_own_permissions_row() -> None:
    assert [operation for operation in MODEL_OPERATIONS if operation not in PERMISSIONS] == []


def test_kmsd_serves_no_operation_the_model_does_not_have() -> None:
    assert sorted(set(OPERATIONS) - set(MODEL_OPERATIONS)) == []


def test_a_real_server_knows_every_operation(world: World) -> None:
    account = world.account("111122223333")
    unknown = []
    for operation in MODEL_OPERATIONS:
        status, body = kms_call(world.server, account.root.credentials, operation, {})
        if body.get("__type") == "UnknownOperationException" or status >= 500:
            unknown.append((operation, status, body))
    assert unknown == []
