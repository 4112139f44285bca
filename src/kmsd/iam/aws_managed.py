"""AWS managed policies: the real documents AWS publishes, present in every account under ``arn:aws:iam::aws:policy/``.

The documents, version ids, dates, descriptions and policy ids are data in
``aws_managed_policies/`` (``index.json`` names each version's JSON file and
where it was copied from: the AWS Managed Policy Reference page, or a
repository that keeps AWS's earlier versions).  :func:`ensure_aws_managed_policies`
writes them into a store idempotently (a store setting records which data it
holds), so that GetPolicy, GetPolicyVersion, ListPolicies (``Scope=AWS``), the
Attach*Policy operations and permissions boundaries see them exactly like
customer managed policies owned by the pseudo-account ``aws``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

from kmsd.iam.context import IamContext
from kmsd.store.base import Conflict, Store
from kmsd.store.models import ManagedPolicy, PolicyVersion

AWS_ACCOUNT = "aws"  # the owner of AWS managed policies in ARNs and in the store
AWS_POLICY_ARN_PREFIX = "arn:aws:iam::aws:policy/"
# Service-linked role policies live under this path; the Managed Policy Reference says of each:
# "You cannot attach this policy to your users, groups, or roles."
SERVICE_ROLE_PATH = "/aws-service-role/"

_DATA_DIRECTORY = "aws_managed_policies"


@dataclass(frozen=True)
class AwsManagedVersion:
    version_id: str
    created_at: datetime
    document: str  # the JSON text, as vendored
    source: str  # the page or repository file the document was copied from


@dataclass(frozen=True)
class AwsManagedPolicy:
    policy_name: str
    path: str
    policy_id: str
    description: str
    created_at: datetime
    updated_at: datetime
    default_version_id: str
    versions: tuple[AwsManagedVersion, ...]

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{AWS_ACCOUNT}:policy{self.path}{self.policy_name}"

    def record(self) -> ManagedPolicy:
        """The store record; ``next_version_number`` follows the newest vendored version."""
        newest = max(int(version.version_id[1:]) for version in self.versions)
        return ManagedPolicy(
            arn=self.arn,
            policy_id=self.policy_id,
            account_id=AWS_ACCOUNT,
            policy_name=self.policy_name,
            path=self.path,
            default_version_id=self.default_version_id,
            created_at=self.created_at,
            updated_at=self.updated_at,
            description=self.description,
            next_version_number=newest + 1,
        )

    def version_records(self) -> list[PolicyVersion]:
        return [
            PolicyVersion(self.arn, version.version_id, version.document, version.created_at)
            for version in self.versions
        ]


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _read_text(name: str) -> str:
    return resources.files("kmsd.iam").joinpath(_DATA_DIRECTORY, name).read_text(encoding="utf-8")


def _policy_from_index(entry: dict[str, Any]) -> AwsManagedPolicy:
    versions = tuple(
        AwsManagedVersion(
            version_id=str(version["version_id"]),
            created_at=_timestamp(str(version["create_date"])),
            document=_read_text(str(version["document"])),
            source=str(version["source"]),
        )
        for version in entry["versions"]
    )
    return AwsManagedPolicy(
        policy_name=str(entry["policy_name"]),
        path=str(entry["path"]),
        policy_id=str(entry["policy_id"]),
        description=str(entry["description"]),
        created_at=_timestamp(str(entry["create_date"])),
        updated_at=_timestamp(str(entry["update_date"])),
        default_version_id=str(entry["default_version_id"]),
        versions=versions,
    )


@cache
def aws_managed_policies() -> tuple[AwsManagedPolicy, ...]:
    """Every vendored AWS managed policy, in the order of ``index.json``."""
    index = json.loads(_read_text("index.json"))
    return tuple(_policy_from_index(entry) for entry in index["policies"])


def is_aws_managed(policy: ManagedPolicy) -> bool:
    return policy.account_id == AWS_ACCOUNT


def is_service_role_policy(policy: ManagedPolicy) -> bool:
    return is_aws_managed(policy) and policy.path.startswith(SERVICE_ROLE_PATH)


# The store setting that records which vendored data a store holds: a digest of every data file.
SEEDED_SETTING = "iam.aws_managed_policies"


@cache
def _data_digest() -> str:
    digest = hashlib.sha256(_read_text("index.json").encode("utf-8"))
    for policy in aws_managed_policies():
        for version in policy.versions:
            digest.update(version.document.encode("utf-8"))
    return digest.hexdigest()


def ensure_aws_managed_policies(ctx: IamContext) -> None:
    """Make the store hold every vendored AWS managed policy and version; one setting read when it does.

    Called once when the IAM service starts, in a transaction of its own, so
    every handler (and every other process on the store, which seeds at its
    own start) finds the policies already there.  Idempotent across processes sharing a store:
    a policy another process inserted first is left as it is (``Conflict``),
    and a store seeded from older data gains the versions and default version
    this data has.
    """
    store = ctx.store
    digest = _data_digest()
    if store.get_setting(SEEDED_SETTING) == digest:
        return
    with store.transaction():
        for policy in aws_managed_policies():
            _seed_policy(store, policy)
        store.set_setting(SEEDED_SETTING, digest)


def _seed_policy(store: Store, policy: AwsManagedPolicy) -> None:
    stored = store.get_policy(policy.arn)
    if stored is None:
        try:
            store.insert_policy(policy.record())
        except Conflict:
            return
        stored = policy.record()
    known = {version.version_id for version in store.list_policy_versions(policy.arn)}
    for version in policy.version_records():
        if version.version_id not in known:
            store.add_policy_version(version)
    wanted = policy.record()
    if (stored.default_version_id, stored.updated_at, stored.next_version_number) != (
        wanted.default_version_id,
        wanted.updated_at,
        wanted.next_version_number,
    ):
        store.update_policy(dataclasses.replace(wanted, tags=stored.tags))
