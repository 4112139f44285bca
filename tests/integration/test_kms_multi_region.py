"""Multi-Region keys through boto3 against a real ``kmsd serve`` (issue 11): CreateKey with MultiRegion,
``mrk-`` ids in DescribeKey and in ciphertexts, the Region a key lives in, ``kms:MultiRegion`` on CreateKey;
ReplicateKey and UpdatePrimaryRegion with clients of two Regions on one server, ciphertexts that decrypt in
either Region, rotation driven by the primary, their authorization (``kms:ReplicaRegion``,
``kms:PrimaryRegion``), and the deletion rules on a manual clock."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from kmsd.authz.default_policy import default_key_policy
from tests.crypto.import_wrapping import wrap_outside
from tests.integration.authz_world import (
    NO_IDENTITY_POLICY,
    NO_RESOURCE_POLICY,
    World,
    allow,
    denied,
    policy,
    refused,
    running_world,
)
from tests.integration.server import InProcessServer, in_process_server
from tests.integration.stores import Stores

EAST, EUROPE, ASIA = "us-east-1", "eu-west-1", "ap-southeast-2"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[World]:
    with running_world(stores, tmp_path_factory.mktemp("kms-multi-region")) as built:
        yield built


def test_a_multi_region_primary_key_encrypts_and_decrypts(world: World) -> None:
    kms = world.a.kms("us-east-1")
    key = kms.create_key(MultiRegion=True)["KeyMetadata"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key["KeyId"])
    assert key["Arn"] == f"arn:aws:kms:us-east-1:{world.a.account_id}:key/{key['KeyId']}"
    assert key["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Arn": key["Arn"], "Region": "us-east-1"},
        "ReplicaKeys": [],
    }
    assert (
        kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["MultiRegionConfiguration"]
        == (key["MultiRegionConfiguration"])
    )
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"across Regions")["CiphertextBlob"]
    decrypted = kms.decrypt(CiphertextBlob=blob)
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"across Regions", key["Arn"])
    # Without a replica, the key does not exist in another Region.
    elsewhere = world.a.kms("eu-west-1")
    assert refused(elsewhere.describe_key, KeyId=key["KeyId"]) == (
        "NotFoundException",
        f"Key 'arn:aws:kms:eu-west-1:{world.a.account_id}:key/{key['KeyId']}' does not exist",
        400,
    )
    assert refused(elsewhere.decrypt, CiphertextBlob=blob)[0] == "InvalidCiphertextException"


def test_an_unknown_mrk_id_is_not_found(world: World) -> None:
    key_id = "mrk-" + "1" * 32
    assert refused(world.a.kms("us-east-1").describe_key, KeyId=key_id) == (
        "NotFoundException",
        f"Key 'arn:aws:kms:us-east-1:{world.a.account_id}:key/{key_id}' does not exist",
        400,
    )


def test_kms_multi_region_decides_create_key(world: World) -> None:
    multi_region_only = world.a.user(allow("kms:CreateKey", condition={"Bool": {"kms:MultiRegion": "true"}}))
    assert multi_region_only.kms().create_key(MultiRegion=True)["KeyMetadata"]["MultiRegion"] is True
    assert refused(multi_region_only.kms().create_key) == denied(
        multi_region_only.arn, "kms:CreateKey", "*", NO_IDENTITY_POLICY
    )
    single_region_only = world.a.user(allow("kms:CreateKey", condition={"Bool": {"kms:MultiRegion": "false"}}))
    assert refused(single_region_only.kms().create_key, MultiRegion=True) == denied(
        single_region_only.arn, "kms:CreateKey", "*", NO_IDENTITY_POLICY
    )


def test_kms_multi_region_key_type_names_a_primary_key(world: World) -> None:
    meta = world.a.kms().create_key(MultiRegion=True)["KeyMetadata"]
    primary_arn = meta["Arn"]
    single = world.a.key()
    condition = {"StringEquals": {"kms:MultiRegionKeyType": "PRIMARY"}}
    user = world.a.user(allow("kms:Encrypt", "*", condition=condition))
    assert user.kms().encrypt(KeyId=primary_arn, Plaintext=b"p")["KeyId"] == primary_arn
    assert refused(user.kms().encrypt, KeyId=single.arn, Plaintext=b"p") == denied(
        user.arn, "kms:Encrypt", single.arn, NO_IDENTITY_POLICY
    )


# --- replicas -----------------------------------------------------------------------------------------


def _primary(world: World, **create: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = world.a.kms(EAST).create_key(MultiRegion=True, **create)["KeyMetadata"]
    return metadata


def _arn(world: World, region: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{world.a.account_id}:key/{key_id}"


def test_replicate_key_makes_a_key_with_the_same_id_in_the_other_region(world: World) -> None:
    primary = _primary(world, Description="primary", Tags=[{"TagKey": "side", "TagValue": "east"}])
    key_id = primary["KeyId"]
    replicated = world.a.kms(EAST).replicate_key(
        KeyId=key_id, ReplicaRegion=EUROPE, Description="replica", Tags=[{"TagKey": "side", "TagValue": "europe"}]
    )
    replica = replicated["ReplicaKeyMetadata"]
    configuration = {
        "PrimaryKey": {"Arn": primary["Arn"], "Region": EAST},
        "ReplicaKeys": [{"Arn": _arn(world, EUROPE, key_id), "Region": EUROPE}],
    }
    assert (replica["KeyId"], replica["Arn"], replica["Description"]) == (
        key_id,
        _arn(world, EUROPE, key_id),
        "replica",
    )
    assert (replica["KeySpec"], replica["KeyUsage"], replica["Origin"], replica["KeyState"]) == (
        "SYMMETRIC_DEFAULT",
        "ENCRYPT_DECRYPT",
        "AWS_KMS",
        "Enabled",
    )
    assert replica["MultiRegionConfiguration"] == {"MultiRegionKeyType": "REPLICA", **configuration}
    # Without a Policy, the replica gets the default key policy; its tags are its own.
    assert replicated["ReplicaPolicy"] == default_key_policy(world.a.account_id)
    assert replicated["ReplicaTags"] == [{"TagKey": "side", "TagValue": "europe"}]
    assert world.a.kms(EUROPE).list_resource_tags(KeyId=key_id)["Tags"] == replicated["ReplicaTags"]
    assert world.a.kms(EAST).list_resource_tags(KeyId=key_id)["Tags"] == [{"TagKey": "side", "TagValue": "east"}]
    described = world.a.kms(EAST).describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["MultiRegionConfiguration"] == {"MultiRegionKeyType": "PRIMARY", **configuration}
    assert described["Description"] == "primary"
    listed = world.a.kms(EUROPE).list_keys(Limit=1000)["Keys"]
    assert {"KeyId": key_id, "KeyArn": replica["Arn"]} in listed


def test_a_ciphertext_decrypts_in_either_region(world: World) -> None:
    key_id = _primary(world)["KeyId"]
    world.a.kms(EAST).replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    east, europe = world.a.kms(EAST), world.a.kms(EUROPE)
    from_east = east.encrypt(KeyId=key_id, Plaintext=b"made in the east", EncryptionContext={"a": "b"})
    decrypted = europe.decrypt(CiphertextBlob=from_east["CiphertextBlob"], EncryptionContext={"a": "b"})
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"made in the east", _arn(world, EUROPE, key_id))
    from_europe = europe.encrypt(KeyId=_arn(world, EUROPE, key_id), Plaintext=b"made in europe")
    decrypted = east.decrypt(CiphertextBlob=from_europe["CiphertextBlob"], KeyId=key_id)
    assert (decrypted["Plaintext"], decrypted["KeyId"]) == (b"made in europe", _arn(world, EAST, key_id))
    # A Region with no key of the set cannot decrypt.
    assert refused(world.a.kms(ASIA).decrypt, CiphertextBlob=from_east["CiphertextBlob"])[0] == (
        "InvalidCiphertextException"
    )


def test_the_replica_follows_the_primary_s_rotation(world: World) -> None:
    key_id = _primary(world)["KeyId"]
    east, europe = world.a.kms(EAST), world.a.kms(EUROPE)
    east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    before = east.encrypt(KeyId=key_id, Plaintext=b"before")["CiphertextBlob"]
    east.rotate_key_on_demand(KeyId=key_id)
    after = east.encrypt(KeyId=key_id, Plaintext=b"after")["CiphertextBlob"]
    assert europe.decrypt(CiphertextBlob=before)["Plaintext"] == b"before"
    assert europe.decrypt(CiphertextBlob=after)["Plaintext"] == b"after"
    # The replica encrypts with the new material as well, and lists the same rotations.
    replica_blob = europe.encrypt(KeyId=key_id, Plaintext=b"replica")["CiphertextBlob"]
    assert east.decrypt(CiphertextBlob=replica_blob)["Plaintext"] == b"replica"
    assert europe.list_key_rotations(KeyId=key_id)["Rotations"] == east.list_key_rotations(KeyId=key_id)["Rotations"]
    assert (
        europe.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"]
        == (east.describe_key(KeyId=key_id)["KeyMetadata"]["CurrentKeyMaterialId"])
    )
    east.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
    assert europe.get_key_rotation_status(KeyId=key_id)["RotationPeriodInDays"] == 180
    replica_arn = _arn(world, EUROPE, key_id)
    assert refused(europe.rotate_key_on_demand, KeyId=key_id) == (
        "UnsupportedOperationException",
        f"{replica_arn} is a multi-Region replica key. Manage the rotation of its primary key.",
        400,
    )


def test_a_replica_has_its_own_policy_aliases_grants_and_state(world: World) -> None:
    key_id = _primary(world)["KeyId"]
    reader = world.a.user()
    east, europe = world.a.kms(EAST), world.a.kms(EUROPE)
    replica_policy = policy(
        allow("kms:*", principal=f"arn:aws:iam::{world.a.account_id}:root"),
        allow("kms:Decrypt", principal=reader.arn),
    )
    replicated = east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE, Policy=replica_policy)
    assert replicated["ReplicaPolicy"] == replica_policy
    assert europe.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == replica_policy
    assert east.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"] == default_key_policy(world.a.account_id)
    blob = east.encrypt(KeyId=key_id, Plaintext=b"p")["CiphertextBlob"]
    # The replica's key policy lets the reader decrypt there; the primary's does not.
    assert reader.kms(EUROPE).decrypt(CiphertextBlob=blob)["Plaintext"] == b"p"
    assert refused(reader.kms(EAST).decrypt, CiphertextBlob=blob) == denied(
        reader.arn, "kms:Decrypt", _arn(world, EAST, key_id), NO_IDENTITY_POLICY
    )
    # One alias name in each Region, each for its own key.
    name = f"alias/{key_id}"
    east.create_alias(AliasName=name, TargetKeyId=key_id)
    europe.create_alias(AliasName=name, TargetKeyId=key_id)
    assert europe.describe_key(KeyId=name)["KeyMetadata"]["Arn"] == _arn(world, EUROPE, key_id)
    # A grant on the primary allows the grantee there only.
    grantee = world.a.user()
    east.create_grant(KeyId=key_id, GranteePrincipal=grantee.arn, Operations=["Encrypt"])
    assert grantee.kms(EAST).encrypt(KeyId=key_id, Plaintext=b"g")["KeyId"] == _arn(world, EAST, key_id)
    assert refused(grantee.kms(EUROPE).encrypt, KeyId=key_id, Plaintext=b"g")[0] == "AccessDeniedException"
    assert europe.list_grants(KeyId=key_id)["Grants"] == []
    # Disabling the replica leaves the primary enabled.
    europe.disable_key(KeyId=key_id)
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert refused(europe.encrypt, KeyId=key_id, Plaintext=b"x")[0] == "DisabledException"


def test_replicate_key_refuses_what_aws_refuses(world: World) -> None:
    east = world.a.kms(EAST)
    single = east.create_key()["KeyMetadata"]
    assert refused(east.replicate_key, KeyId=single["KeyId"], ReplicaRegion=EUROPE) == (
        "UnsupportedOperationException",
        f"{single['Arn']} is not a multi-Region primary key.",
        400,
    )
    key_id = _primary(world)["KeyId"]
    primary_arn = _arn(world, EAST, key_id)
    assert refused(east.replicate_key, KeyId=key_id, ReplicaRegion=EAST) == (
        "ValidationException",
        f"The replica Region must differ from the Region of the primary key {primary_arn}.",
        400,
    )
    east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    assert refused(east.replicate_key, KeyId=key_id, ReplicaRegion=EUROPE) == (
        "AlreadyExistsException",
        f"A replica of {primary_arn} already exists in {EUROPE}.",
        400,
    )
    # A replica is not replicated: only the primary key is.
    assert refused(world.a.kms(EUROPE).replicate_key, KeyId=key_id, ReplicaRegion=ASIA) == (
        "UnsupportedOperationException",
        f"{_arn(world, EUROPE, key_id)} is not a multi-Region primary key.",
        400,
    )
    unknown = "mrk-" + "2" * 32
    assert refused(east.replicate_key, KeyId=unknown, ReplicaRegion=EUROPE) == (
        "NotFoundException",
        f"Key '{_arn(world, EAST, unknown)}' does not exist",
        400,
    )
    # "Cross-account use: No": another account's primary key is not found in the caller's account.
    assert refused(world.b.kms(EAST).replicate_key, KeyId=primary_arn, ReplicaRegion=ASIA) == (
        "NotFoundException",
        f"Key 'arn:aws:kms:{EAST}:{world.b.account_id}:key/{key_id}' does not exist",
        400,
    )
    assert refused(world.b.kms(EAST).update_primary_region, KeyId=primary_arn, PrimaryRegion=EUROPE)[0] == (
        "NotFoundException"
    )
    east.disable_key(KeyId=key_id)
    assert refused(east.replicate_key, KeyId=key_id, ReplicaRegion=ASIA) == (
        "DisabledException",
        f"{primary_arn} is disabled.",
        400,
    )


def test_replicate_key_needs_replicate_key_create_key_and_tag_resource(world: World) -> None:
    key_id = _primary(world)["KeyId"]
    primary_arn = _arn(world, EAST, key_id)
    in_europe = {"StringEquals": {"kms:ReplicaRegion": EUROPE}}
    replicator = world.a.user(allow("kms:ReplicateKey", condition=in_europe), allow("kms:CreateKey"))
    # kms:ReplicaRegion decides: Asia is not allowed, Europe is.
    assert refused(replicator.kms(EAST).replicate_key, KeyId=key_id, ReplicaRegion=ASIA) == denied(
        replicator.arn, "kms:ReplicateKey", primary_arn, NO_IDENTITY_POLICY
    )
    tags = [{"TagKey": "t", "TagValue": "v"}]
    # Tags need kms:TagResource on the new replica as well.
    assert refused(replicator.kms(EAST).replicate_key, KeyId=key_id, ReplicaRegion=EUROPE, Tags=tags) == denied(
        replicator.arn, "kms:TagResource", _arn(world, EUROPE, key_id), NO_IDENTITY_POLICY
    )
    replicated = replicator.kms(EAST).replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    assert replicated["ReplicaKeyMetadata"]["Arn"] == _arn(world, EUROPE, key_id)
    # kms:CreateKey is needed in the replica Region: its aws:RequestedRegion is the replica's, while kms:ReplicateKey's
    # is the primary's.
    europe_only = world.a.user(
        allow("kms:ReplicateKey", condition={"StringEquals": {"aws:RequestedRegion": EAST}}),
        allow("kms:CreateKey", condition={"StringEquals": {"aws:RequestedRegion": EUROPE}}),
    )
    assert refused(europe_only.kms(EAST).replicate_key, KeyId=key_id, ReplicaRegion=ASIA) == denied(
        europe_only.arn, "kms:CreateKey", "*", NO_IDENTITY_POLICY
    )
    assert refused(europe_only.kms(EAST).replicate_key, KeyId=key_id, ReplicaRegion=EUROPE)[0] == (
        "AlreadyExistsException"
    )
    no_create = world.a.user(allow("kms:ReplicateKey"))
    assert refused(no_create.kms(EAST).replicate_key, KeyId=key_id, ReplicaRegion=ASIA) == denied(
        no_create.arn, "kms:CreateKey", "*", NO_IDENTITY_POLICY
    )


def test_update_primary_region_swaps_the_primary_and_its_replica(world: World) -> None:
    key_id = _primary(world)["KeyId"]
    east, europe = world.a.kms(EAST), world.a.kms(EUROPE)
    east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    east.replicate_key(KeyId=key_id, ReplicaRegion=ASIA)
    assert east.update_primary_region(KeyId=key_id, PrimaryRegion=EUROPE)["ResponseMetadata"]["HTTPStatusCode"] == 200
    expected = {
        "PrimaryKey": {"Arn": _arn(world, EUROPE, key_id), "Region": EUROPE},
        "ReplicaKeys": [
            {"Arn": _arn(world, ASIA, key_id), "Region": ASIA},
            {"Arn": _arn(world, EAST, key_id), "Region": EAST},
        ],
    }
    assert europe.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        **expected,
    }
    for region in (EAST, ASIA):
        configuration = world.a.kms(region).describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
        assert configuration == {"MultiRegionKeyType": "REPLICA", **expected}
    # Only the new primary replicates and rotates now.
    assert refused(east.replicate_key, KeyId=key_id, ReplicaRegion="ca-central-1")[0] == (
        "UnsupportedOperationException"
    )
    assert refused(east.update_primary_region, KeyId=key_id, PrimaryRegion=ASIA)[0] == "UnsupportedOperationException"
    europe.rotate_key_on_demand(KeyId=key_id)
    assert east.decrypt(CiphertextBlob=europe.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"])["Plaintext"] == (
        b"x"
    )
    assert refused(europe.update_primary_region, KeyId=key_id, PrimaryRegion="ca-central-1") == (
        "NotFoundException",
        f"Key '{_arn(world, 'ca-central-1', key_id)}' does not exist",
        400,
    )
    assert refused(europe.update_primary_region, KeyId=key_id, PrimaryRegion=EUROPE) == (
        "ValidationException",
        f"{_arn(world, EUROPE, key_id)} is already the primary key in {EUROPE}.",
        400,
    )


def test_update_primary_region_needs_the_permission_on_both_keys(world: World) -> None:
    key_id = _primary(world)["KeyId"]
    east = world.a.kms(EAST)
    admin = world.a.user(allow("kms:*"))
    # The replica's key policy names the admin alone: it does not delegate to IAM policies.
    replica_policy = policy(allow("kms:*", principal=admin.arn))
    east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE, Policy=replica_policy, BypassPolicyLockoutSafetyCheck=True)
    east.replicate_key(KeyId=key_id, ReplicaRegion=ASIA)
    to_asia = {"StringEquals": {"kms:PrimaryRegion": ASIA}}
    mover = world.a.user(allow("kms:UpdatePrimaryRegion", condition=to_asia))
    # kms:PrimaryRegion decides on the primary; the replica's key policy decides on the replica.
    assert refused(mover.kms(EAST).update_primary_region, KeyId=key_id, PrimaryRegion=EUROPE) == denied(
        mover.arn, "kms:UpdatePrimaryRegion", _arn(world, EAST, key_id), NO_IDENTITY_POLICY
    )
    everywhere = world.a.user(allow("kms:UpdatePrimaryRegion"))
    assert refused(everywhere.kms(EAST).update_primary_region, KeyId=key_id, PrimaryRegion=EUROPE) == denied(
        everywhere.arn, "kms:UpdatePrimaryRegion", _arn(world, EUROPE, key_id), NO_RESOURCE_POLICY
    )
    mover.kms(EAST).update_primary_region(KeyId=key_id, PrimaryRegion=ASIA)
    configuration = east.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
    assert (configuration["MultiRegionKeyType"], configuration["PrimaryKey"]["Region"]) == ("REPLICA", ASIA)


def test_kms_multi_region_key_type_names_a_replica(world: World) -> None:
    key_id = _primary(world)["KeyId"]
    world.a.kms(EAST).replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    replicas_only = world.a.user(
        allow("kms:Encrypt", condition={"StringEquals": {"kms:MultiRegionKeyType": "REPLICA"}})
    )
    assert replicas_only.kms(EUROPE).encrypt(KeyId=key_id, Plaintext=b"p")["KeyId"] == _arn(world, EUROPE, key_id)
    assert refused(replicas_only.kms(EAST).encrypt, KeyId=key_id, Plaintext=b"p") == denied(
        replicas_only.arn, "kms:Encrypt", _arn(world, EAST, key_id), NO_IDENTITY_POLICY
    )


# --- deletion, on a manual clock ------------------------------------------------------------------------


@pytest.fixture
def clocked(tmp_path: Path, stores: Stores) -> Iterator[InProcessServer]:
    with in_process_server(tmp_path, stores.new(tmp_path), sweep_interval=0.05) as running:
        yield running


def _client(running: InProcessServer, region: str) -> Any:
    return boto3.client(
        "kms",
        endpoint_url=f"http://127.0.0.1:{running.port}",
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )


def _eventually(check: Callable[[], bool]) -> None:
    """Wait for the server's periodic sweep (every 0.05 s) to have acted; fails after ten seconds."""
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, "the sweep did not act"
        time.sleep(0.05)


def test_a_primary_with_replicas_waits_for_them_before_its_own_waiting_period(clocked: InProcessServer) -> None:
    east, europe = _client(clocked, EAST), _client(clocked, EUROPE)
    key_id = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    scheduled = east.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    assert (scheduled["KeyState"], scheduled["PendingWindowInDays"]) == ("PendingReplicaDeletion", 7)
    assert "DeletionDate" not in scheduled
    described = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert (described["KeyState"], described["PendingDeletionWindowInDays"], described["Enabled"]) == (
        "PendingReplicaDeletion",
        7,
        False,
    )
    assert "DeletionDate" not in described
    primary_arn = described["Arn"]
    assert refused(east.encrypt, KeyId=key_id, Plaintext=b"p") == (
        "KMSInvalidStateException",
        f"{primary_arn} is pending replica deletion.",
        400,
    )
    # However long it waits, a primary with replicas is not deleted.
    clocked.clock.advance(timedelta(days=60))
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingReplicaDeletion"
    # The replica is deleted on its own waiting period; then the primary's begins.
    replica_deleted_at = europe.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)["DeletionDate"]
    clocked.clock.advance(timedelta(days=7, seconds=1))
    _eventually(lambda: east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion")
    described = east.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["DeletionDate"] == replica_deleted_at + timedelta(days=7)
    assert described["MultiRegionConfiguration"]["ReplicaKeys"] == []
    assert refused(europe.describe_key, KeyId=key_id)[0] == "NotFoundException"
    clocked.clock.advance(timedelta(days=7))
    _eventually(lambda: refused(east.describe_key, KeyId=key_id)[0] == "NotFoundException")


def test_a_replica_is_deleted_on_its_own_and_pending_replica_deletion_can_be_cancelled(
    clocked: InProcessServer,
) -> None:
    east, europe = _client(clocked, EAST), _client(clocked, EUROPE)
    key_id = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    blob = east.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    assert east.schedule_key_deletion(KeyId=key_id)["KeyState"] == "PendingReplicaDeletion"
    east.cancel_key_deletion(KeyId=key_id)
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
    east.enable_key(KeyId=key_id)
    europe.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    clocked.clock.advance(timedelta(days=8))
    _eventually(lambda: east.describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]["ReplicaKeys"] == [])
    # The primary, and the set's material, are untouched; the Region can have a replica again.
    assert east.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    assert europe.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"


def _wrapped(kms: Any, key_id: str, material: bytes) -> dict[str, Any]:
    """ImportToken and EncryptedKeyMaterial for importing ``material`` into the key in ``kms``'s Region."""
    parameters = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    return {
        "ImportToken": parameters["ImportToken"],
        "EncryptedKeyMaterial": wrap_outside(parameters["PublicKey"], "RSAES_OAEP_SHA_256", material),
    }


def _import(kms: Any, key_id: str, material: bytes, **params: Any) -> Any:
    return kms.import_key_material(
        KeyId=key_id, **_wrapped(kms, key_id, material), ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE", **params
    )


def test_a_replica_of_imported_material_takes_the_primary_s_material_only(world: World) -> None:
    east, europe = world.a.kms(EAST), world.a.kms(EUROPE)
    key_id = _primary(world, Origin="EXTERNAL")["KeyId"]
    # A primary still waiting for its material is not replicated: its replica could be given no material.
    assert refused(east.replicate_key, KeyId=key_id, ReplicaRegion=EUROPE) == (
        "KMSInvalidStateException",
        f"{_arn(world, EAST, key_id)} is pending import.",
        400,
    )
    material = os.urandom(32)
    material_id = _import(east, key_id, material)["KeyMaterialId"]
    blob = east.encrypt(KeyId=key_id, Plaintext=b"imported")["CiphertextBlob"]
    replica = east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)["ReplicaKeyMetadata"]
    # "the replica key is created with no key material. You must import the same key material".
    assert (replica["Origin"], replica["KeyState"]) == ("EXTERNAL", "PendingImport")
    assert refused(europe.decrypt, CiphertextBlob=blob)[0] == "KMSInvalidStateException"
    assert refused(_import, europe, key_id, os.urandom(32))[0] == "IncorrectKeyMaterialException"
    assert _import(europe, key_id, material)["KeyMaterialId"] == material_id
    assert europe.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert europe.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
    # Deleting the replica's material leaves the primary's.
    europe.delete_imported_key_material(KeyId=key_id)
    assert europe.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert east.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
    _import(europe, key_id, material)
    assert europe.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
    # New material enters through the primary only ("You cannot directly import new key material into the
    # replica Region keys").
    assert refused(_import, europe, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL") == (
        "UnsupportedOperationException",
        f"{_arn(world, EUROPE, key_id)} is a multi-Region replica key. Import new key material into its primary key.",
        400,
    )


def test_an_import_token_of_the_primary_does_not_import_into_its_replica(world: World) -> None:
    """The attack: the keys of a set share their key id, so a token bound to the id alone would let a caller
    allowed kms:GetParametersForImport in one Region import material into the replica in another Region."""
    east, europe = world.a.kms(EAST), world.a.kms(EUROPE)
    key_id = _primary(world, Origin="EXTERNAL")["KeyId"]
    material = os.urandom(32)
    _import(east, key_id, material)
    east.replicate_key(KeyId=key_id, ReplicaRegion=EUROPE)
    east_parameters = east.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    # The replica's very material, wrapped correctly for the token's public key: only the token is wrong.
    stolen = {
        "ImportToken": east_parameters["ImportToken"],
        "EncryptedKeyMaterial": wrap_outside(east_parameters["PublicKey"], "RSAES_OAEP_SHA_256", material),
        "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
    }
    invalid_token = (
        "InvalidImportTokenException",
        "The request was rejected because the provided import token is invalid or is associated with a different "
        "KMS key.",
        400,
    )
    for key in (key_id, _arn(world, EUROPE, key_id)):
        assert refused(europe.import_key_material, KeyId=key, **stolen) == invalid_token
    # The same answer as for any other token that is not the replica's.
    europe_parameters = europe.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    garbled = bytes(europe_parameters["ImportToken"][:-1]) + b"\x00"
    assert refused(europe.import_key_material, KeyId=key_id, **{**stolen, "ImportToken": garbled}) == invalid_token
    # Nothing was imported: the replica still waits for its material.
    assert europe.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    rotations = europe.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [entry["ImportState"] for entry in rotations] == ["PENDING_IMPORT"]
    # And the replica's own token, wrapped for its own public key, does import.
    europe.import_key_material(
        KeyId=key_id,
        ImportToken=europe_parameters["ImportToken"],
        EncryptedKeyMaterial=wrap_outside(europe_parameters["PublicKey"], "RSAES_OAEP_SHA_256", material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert europe.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


# --- rotation of imported material in a set -------------------------------------------------------------


def _states(kms: Any, key_id: str) -> list[tuple[str, str, str]]:
    """(KeyMaterialId, ImportState, KeyMaterialState) of every material of the key, oldest first."""
    rotations = kms.list_key_rotations(KeyId=key_id, IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    return [(entry["KeyMaterialId"], entry["ImportState"], entry["KeyMaterialState"]) for entry in rotations]


def _external_set(world: World, material: bytes, *regions: str) -> tuple[str, str]:
    """A primary of imported ``material`` in EAST with a replica, given the same material, in each Region;
    returns the key id and the material's KeyMaterialId."""
    east = world.a.kms(EAST)
    key_id = _primary(world, Origin="EXTERNAL")["KeyId"]
    material_id = _import(east, key_id, material)["KeyMaterialId"]
    for region in regions:
        east.replicate_key(KeyId=key_id, ReplicaRegion=region)
        _import(world.a.kms(region), key_id, material)
    return key_id, material_id


MULTI = "PENDING_MULTI_REGION_IMPORT_AND_ROTATION"


def test_new_imported_material_waits_for_every_replica_then_the_set_rotates(world: World) -> None:
    regions = (EAST, EUROPE, ASIA)
    east, europe, asia = (world.a.kms(region) for region in regions)
    first = os.urandom(32)
    key_id, first_id = _external_set(world, first, EUROPE, ASIA)
    before = {region: world.a.kms(region).encrypt(KeyId=key_id, Plaintext=region.encode()) for region in regions}
    second = os.urandom(32)
    second_id = east.import_key_material(
        KeyId=key_id,
        **_wrapped(east, key_id, second),
        ImportType="NEW_KEY_MATERIAL",
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )["KeyMaterialId"]
    assert second_id != first_id
    # Imported into the primary only: every key of the set shows it waiting for the replicas.
    assert _states(east, key_id) == [(first_id, "IMPORTED", "CURRENT"), (second_id, "IMPORTED", MULTI)]
    assert _states(europe, key_id) == [(first_id, "IMPORTED", "CURRENT"), (second_id, "PENDING_IMPORT", MULTI)]
    not_yet = (
        "KMSInvalidStateException",
        f"{_arn(world, EAST, key_id)} has key material in {MULTI} state. Import it into every replica key before "
        "you rotate the key on demand.",
        400,
    )
    assert refused(east.rotate_key_on_demand, KeyId=key_id) == not_yet
    assert refused(_import, east, key_id, os.urandom(32), ImportType="NEW_KEY_MATERIAL") == (
        "KMSInvalidStateException",
        f"{_arn(world, EAST, key_id)} already has key material in {MULTI} state. Rotate to it with RotateKeyOnDemand "
        "or delete it with DeleteImportedKeyMaterial before importing new key material.",
        400,
    )
    # A replica takes that material and no other, as EXISTING_KEY_MATERIAL (the default after the first import).
    assert refused(_import, europe, key_id, os.urandom(32))[0] == "IncorrectKeyMaterialException"
    assert _import(europe, key_id, second)["KeyMaterialId"] == second_id
    assert _states(europe, key_id)[1] == (second_id, "IMPORTED", MULTI)
    assert refused(east.rotate_key_on_demand, KeyId=key_id) == not_yet
    assert _import(asia, key_id, second, ImportType="EXISTING_KEY_MATERIAL")["KeyMaterialId"] == second_id
    for kms in (east, europe, asia):
        assert _states(kms, key_id) == [(first_id, "IMPORTED", "CURRENT"), (second_id, "IMPORTED", "PENDING_ROTATION")]
        # Until the rotation, the set still encrypts under its first material.
        made = kms.encrypt(KeyId=key_id, Plaintext=b"p")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=made)["KeyMaterialId"] == first_id
    # The rotation is the primary's.
    assert refused(europe.rotate_key_on_demand, KeyId=key_id) == (
        "UnsupportedOperationException",
        f"{_arn(world, EUROPE, key_id)} is a multi-Region replica key. Manage the rotation of its primary key.",
        400,
    )
    assert east.rotate_key_on_demand(KeyId=key_id)["KeyId"] == _arn(world, EAST, key_id)
    after = {region: world.a.kms(region).encrypt(KeyId=key_id, Plaintext=region.encode()) for region in regions}
    for region, kms in zip(regions, (east, europe, asia), strict=True):
        assert _states(kms, key_id) == [(first_id, "IMPORTED", "NON_CURRENT"), (second_id, "IMPORTED", "CURRENT")]
        rotations = kms.list_key_rotations(KeyId=key_id)["Rotations"]
        assert [(entry["KeyMaterialId"], entry["RotationType"]) for entry in rotations] == [(second_id, "ON_DEMAND")]
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
        assert kms.decrypt(CiphertextBlob=after[region]["CiphertextBlob"])["KeyMaterialId"] == second_id
        # Ciphertexts from before and after the rotation, made in any Region, decrypt in every Region.
        for made_in, made in (*before.items(), *after.items()):
            assert kms.decrypt(CiphertextBlob=made["CiphertextBlob"])["Plaintext"] == made_in.encode()


def test_pending_material_deleted_from_the_primary_goes_from_the_replicas_too(world: World) -> None:
    east, europe = world.a.kms(EAST), world.a.kms(EUROPE)
    first = os.urandom(32)
    key_id, first_id = _external_set(world, first, EUROPE)
    blob = europe.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    second = os.urandom(32)
    second_id = _import(east, key_id, second, ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    _import(europe, key_id, second)
    assert _states(east, key_id)[1] == (second_id, "IMPORTED", "PENDING_ROTATION")
    # Deleted from a replica: the others keep it, the replica may import it again, and its state is its own.
    europe.delete_imported_key_material(KeyId=key_id, KeyMaterialId=second_id)
    assert _states(europe, key_id)[1] == (second_id, "PENDING_IMPORT", MULTI)
    assert _states(east, key_id)[1] == (second_id, "IMPORTED", MULTI)
    assert europe.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    _import(europe, key_id, second)
    assert _states(east, key_id)[1] == (second_id, "IMPORTED", "PENDING_ROTATION")
    # Deleted from the primary: "you'll also be deleting the key materials for the replica Region keys".
    east.delete_imported_key_material(KeyId=key_id, KeyMaterialId=second_id)
    for kms in (east, europe):
        assert _states(kms, key_id) == [(first_id, "IMPORTED", "CURRENT")]
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
    assert refused(east.rotate_key_on_demand, KeyId=key_id)[0] == "UnsupportedOperationException"
    assert refused(_import, europe, key_id, second)[0] == "IncorrectKeyMaterialException"


def test_a_replica_made_while_material_is_pending_must_import_it_too(world: World) -> None:
    east, europe, asia = world.a.kms(EAST), world.a.kms(EUROPE), world.a.kms(ASIA)
    first = os.urandom(32)
    key_id, first_id = _external_set(world, first, EUROPE)
    second = os.urandom(32)
    second_id = _import(east, key_id, second, ImportType="NEW_KEY_MATERIAL")["KeyMaterialId"]
    _import(europe, key_id, second)
    assert _states(east, key_id)[1][2] == "PENDING_ROTATION"
    east.replicate_key(KeyId=key_id, ReplicaRegion=ASIA)
    # The new replica expects both materials; it is usable once it has the current one.
    assert _states(asia, key_id) == [(first_id, "PENDING_IMPORT", "CURRENT"), (second_id, "PENDING_IMPORT", MULTI)]
    assert _states(east, key_id)[1][2] == MULTI
    _import(asia, key_id, first)
    assert asia.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert refused(east.rotate_key_on_demand, KeyId=key_id)[0] == "KMSInvalidStateException"
    _import(asia, key_id, second)
    east.rotate_key_on_demand(KeyId=key_id)
    blob = asia.encrypt(KeyId=key_id, Plaintext=b"new")["CiphertextBlob"]
    for kms in (east, europe, asia):
        assert kms.decrypt(CiphertextBlob=blob)["KeyMaterialId"] == second_id
