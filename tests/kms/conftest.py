"""Fixtures for the KMS service tests: a real SqliteStore in a temporary directory, a ManualClock,
seeded randomness and a file root key, wired into a :class:`KmsService` the tests drive through ``call``.

The store holds the accounts :data:`ACCOUNT` and :data:`OTHER_ACCOUNT` (key policies may only name
principals that exist), and the tests call as the root users of those accounts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kmsd.clock import ManualClock
from kmsd.crypto import FileRootKey, SeededRandomSource
from kmsd.iam.principal import Caller, Principal
from kmsd.kms.service import KmsService
from kmsd.store.sqlite import SqliteStore

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
REGION = "us-east-1"


def caller_for(account_id: str = ACCOUNT, region: str = REGION) -> Caller:
    return Caller(principal=Principal.root(account_id), region=region, request_id="test-request")


@pytest.fixture
def service(store: SqliteStore, root_key: FileRootKey, clock: ManualClock) -> KmsService:
    return KmsService(store, root_key, clock, SeededRandomSource(7))


@pytest.fixture
def caller() -> Caller:
    return caller_for()


class Kms:
    """A thin driver over ``KmsService.call`` for the caller of one account and region."""

    def __init__(self, service: KmsService, caller: Caller) -> None:
        self.service = service
        self.caller = caller

    def __call__(self, operation: str, **params: Any) -> dict[str, Any]:
        return self.service.call(operation, params, self.caller)

    def create_key(self, **params: Any) -> dict[str, Any]:
        metadata: dict[str, Any] = self("CreateKey", **params)["KeyMetadata"]
        return metadata

    def as_caller(self, caller: Caller) -> Kms:
        return Kms(self.service, caller)


@pytest.fixture
def kms(service: KmsService, caller: Caller) -> Kms:
    return Kms(service, caller)


def customer_aliases(listed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A ListAliases page without the predefined ``alias/aws/`` aliases every account lists."""
    return [entry for entry in listed["Aliases"] if not str(entry["AliasName"]).startswith("alias/aws/")]
