"""``kmsd store copy`` moves a deployment from SQLite to PostgreSQL and back, and every key still works.

One real ``kmsd serve`` on SQLite is given keys of every kind (symmetric, rotated on demand, RSA for encryption
and signing, ECC for signing and key agreement, HMAC, ML-KEM, imported material, a multi-Region key and its
replica, a key pending deletion, a disabled key), aliases, grants, tags, IAM users, groups, roles, managed and
inline policies, attachments, access keys and an STS session; the ciphertexts, signatures, MACs and shared
secrets it made are kept.  The store is then copied into PostgreSQL with the command, served there with the
same root key, and everything is compared; then copied back into a new SQLite file, and compared again.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsd.store.copy import REBUILT_TABLES, TABLES
from tests.crypto.import_wrapping import wrap_outside
from tests.helpers.clients import client
from tests.helpers.postgres import PostgresDatabases
from tests.integration.server import KmsdServer, run_kmsd, server_environment
from tests.integration.stores import sqlite_url

EAST, WEST = "us-east-1", "eu-west-1"
CONTEXT = {"tenant": "t-42"}


@dataclass
class StoreServer(KmsdServer):
    """A server that may serve a copy of another's store, whose root credentials it never printed itself."""

    root: tuple[str, str] | None = None  # the root credentials, printed by the server that made the store

    def default_credentials(self) -> tuple[str, str]:
        return self.root or super().default_credentials()


@dataclass
class Made:
    """What the first server made, to be checked on every copy."""

    ciphertexts: list[tuple[str, str, bytes, bytes, dict[str, Any]]] = field(default_factory=list)
    signatures: list[tuple[str, bytes, bytes, str]] = field(default_factory=list)
    macs: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    agreements: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # key, peer public key, secret
    encapsulations: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # key, ciphertext, secret
    out_of_use: list[tuple[str, str, bytes, str]] = field(default_factory=list)  # key, region, blob, state error
    user_credentials: tuple[str, str] = ("", "")
    session: dict[str, Any] = field(default_factory=dict)


@pytest.mark.postgresql_only("copies a SQLite store it makes into a PostgreSQL database and back")
def test_copy_to_postgresql_and_back_keeps_every_key_working(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    source = StoreServer(tmp_path / "sqlite", sqlite_url(tmp_path / "sqlite")).start()
    try:
        made = build_world(source)
        expected = listings(source)
        root = source.default_credentials()
    finally:
        source.stop()
    root_key = (source.data_dir / "root.key").read_text().strip()

    # SQLite -> PostgreSQL.
    postgres_url = postgres_databases.create()
    copied = run_kmsd_command("store", "copy", "--from", source.store_url, "--to", postgres_url, cwd=tmp_path)
    assert copied.returncode == 0, copied.stderr
    # Not a terminal: a line per table on stderr, and the counts on stdout.
    assert "kmsd: store copy: keys: 12 rows" in copied.stderr
    counts = table_counts(copied.stdout)
    assert (counts["keys"], counts["grants"], counts["aliases"], counts["sts_sessions"]) == (12, 2, 2, 1)
    assert [name for name in counts] == [table.name for table in TABLES] + list(REBUILT_TABLES)
    assert "(rebuilt by the destination from the policies; the source has 3)" in copied.stdout
    assert "every table holds the same number of rows in both" in copied.stdout

    # A destination that holds data is refused and left as it was; so is the source as a destination.
    before = run_kmsd_command("store", "check", "--store", postgres_url, cwd=tmp_path, env={"KMSD_ROOT_KEY": root_key})
    assert before.returncode == 0, before.stdout + before.stderr
    again = run_kmsd_command("store", "copy", "--from", source.store_url, "--to", postgres_url, cwd=tmp_path)
    assert again.returncode == 1
    assert "already holds data (in access_keys, accounts, aliases" in again.stderr
    back_onto_source = run_kmsd_command("store", "copy", "--from", postgres_url, "--to", source.store_url, cwd=tmp_path)
    assert back_onto_source.returncode == 1 and "already holds data" in back_onto_source.stderr

    on_postgres = StoreServer(tmp_path / "postgres", postgres_url, extra_env={"KMSD_ROOT_KEY": root_key}, root=root)
    on_postgres.start()
    try:
        assert listings(on_postgres) == expected
        check_world(on_postgres, made)
    finally:
        on_postgres.stop()

    # PostgreSQL -> a new SQLite file, served with the root key copied beside it.
    back = StoreServer(tmp_path / "sqlite-again", sqlite_url(tmp_path / "sqlite-again"), root=root)
    copied_back = run_kmsd_command("store", "copy", "--from", postgres_url, "--to", back.store_url, cwd=tmp_path)
    assert copied_back.returncode == 0, copied_back.stderr
    # Only the use of keys moved on: check_world used the replica for the first time.
    counts_back = table_counts(copied_back.stdout)
    moved = {
        name: (counts[name], rows)
        for name, rows in counts_back.items()
        if rows != counts[name] and not name.startswith("audit_")
    }
    assert moved == {"key_last_usage": (11, 12)}
    # And the audit trail grew by check_world's calls (the chain's one row stays one row).
    assert counts_back["audit_events"] > counts["audit_events"] > 0
    assert counts_back["audit_chain"] == counts["audit_chain"] == 1
    (back.data_dir / "root.key").write_text(root_key + "\n")
    (back.data_dir / "root.key").chmod(0o600)
    back.start()
    try:
        assert listings(back) == expected
        check_world(back, made)
        keys_out_of_use_work_again(back, made)
    finally:
        back.stop()


def run_kmsd_command(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``kmsd ARGS`` as an operator runs it in ``cwd``: no AWS settings, no root key but ``env``'s."""
    return run_kmsd(list(args), cwd, server_environment(env))


# --- the world -------------------------------------------------------------------------------------------------


def build_world(server: KmsdServer) -> Made:
    made = Made()
    kms, kms_west = server.root_client("kms"), server.root_client("kms", region=WEST)
    iam, sts = server.root_client("iam"), server.root_client("sts")
    user_arn, role_arn = build_iam(iam, made)

    def key(**params: Any) -> str:
        return str(kms.create_key(**params)["KeyMetadata"]["KeyId"])

    def encrypt(key_id: str, plaintext: bytes, client: Any = kms, region: str = EAST, **params: Any) -> bytes:
        blob: bytes = client.encrypt(KeyId=key_id, Plaintext=plaintext, **params)["CiphertextBlob"]
        made.ciphertexts.append((key_id, region, blob, plaintext, params))
        return blob

    symmetric = key(Description="symmetric", Tags=[{"TagKey": "team", "TagValue": "payments"}])
    kms.create_alias(AliasName="alias/copy/symmetric", TargetKeyId=symmetric)
    kms.enable_key_rotation(KeyId=symmetric, RotationPeriodInDays=90)
    encrypt(symmetric, b"before the rotation", EncryptionContext=CONTEXT)
    kms.rotate_key_on_demand(KeyId=symmetric)
    encrypt(symmetric, b"after the rotation", EncryptionContext=CONTEXT)
    kms.create_grant(
        KeyId=symmetric,
        GranteePrincipal=user_arn,
        RetiringPrincipal=role_arn,
        Operations=["Encrypt", "Decrypt", "GenerateDataKey"],
        Constraints={"EncryptionContextSubset": CONTEXT},
        Name="copy-grant-subset",
    )
    kms.create_grant(
        KeyId=symmetric,
        GranteePrincipal=role_arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": {"tenant": "t-7"}},
        Name="copy-grant-equals",
    )
    # A key policy naming the user and the role: principal_references rows the destination must rebuild.
    policy = json.loads(kms.get_key_policy(KeyId=symmetric, PolicyName="default")["Policy"])
    policy["Statement"].append(
        {
            "Sid": "users",
            "Effect": "Allow",
            "Principal": {"AWS": [user_arn, role_arn]},
            "Action": "kms:Decrypt",
            "Resource": "*",
        }
    )
    kms.put_key_policy(KeyId=symmetric, PolicyName="default", Policy=json.dumps(policy))

    rsa = key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT", Description="rsa encryption")
    encrypt(rsa, b"rsa secret", EncryptionAlgorithm="RSAES_OAEP_SHA_256")
    for spec, algorithm in (("RSA_2048", "RSASSA_PSS_SHA_256"), ("ECC_NIST_P256", "ECDSA_SHA_256")):
        signer = key(KeySpec=spec, KeyUsage="SIGN_VERIFY")
        message = f"signed by {spec}".encode()
        signature = kms.sign(KeyId=signer, Message=message, SigningAlgorithm=algorithm)["Signature"]
        made.signatures.append((signer, message, signature, algorithm))
    agreeing = key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")
    peer = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    secret = kms.derive_shared_secret(KeyId=agreeing, KeyAgreementAlgorithm="ECDH", PublicKey=peer)["SharedSecret"]
    made.agreements.append((agreeing, peer, secret))
    hmac_key = key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    mac = kms.generate_mac(KeyId=hmac_key, Message=b"mac me", MacAlgorithm="HMAC_SHA_256")["Mac"]
    made.macs.append((hmac_key, b"mac me", mac))
    kem = key(KeySpec="ML_KEM_768", KeyUsage="ENCAPSULATE_DECAPSULATE")
    encapsulated = kms.encapsulate(KeyId=kem, EncapsulationAlgorithm="ML_KEM")
    made.encapsulations.append((kem, encapsulated["SharedSecretCiphertextBlob"], encapsulated["SharedSecret"]))

    imported = key(Origin="EXTERNAL", Description="imported")
    parameters = kms.get_parameters_for_import(
        KeyId=imported, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
    )
    kms.import_key_material(
        KeyId=imported,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrap_outside(parameters["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    encrypt(imported, b"under imported material")

    primary = key(MultiRegion=True, Description="multi-Region")
    kms.replicate_key(KeyId=primary, ReplicaRegion=WEST, Description="replica")
    kms_west.create_alias(AliasName="alias/copy/replica", TargetKeyId=primary)
    blob = encrypt(primary, b"for both Regions")
    made.ciphertexts.append((primary, WEST, blob, b"for both Regions", {}))  # the replica decrypts it too

    pending = key(Description="pending deletion")
    made.out_of_use.append((pending, EAST, kms.encrypt(KeyId=pending, Plaintext=b"p")["CiphertextBlob"], "pending"))
    kms.schedule_key_deletion(KeyId=pending, PendingWindowInDays=7)
    disabled = key(Description="disabled")
    made.out_of_use.append((disabled, EAST, kms.encrypt(KeyId=disabled, Plaintext=b"d")["CiphertextBlob"], "disabled"))
    kms.disable_key(KeyId=disabled)

    assumed = sts_as_user(server, made).assume_role(RoleArn=role_arn, RoleSessionName="before-the-copy")
    made.session = assumed["Credentials"]
    assert sts.get_caller_identity()["Account"] == "000000000000"
    return made


def build_iam(iam: Any, made: Made) -> tuple[str, str]:
    """A user in a group with managed and inline policies and an access key, and a role the user may assume."""
    user_arn = iam.create_user(UserName="copy-user", Path="/ops/", Tags=[{"Key": "k", "Value": "v"}])["User"]["Arn"]
    iam.create_group(GroupName="copy-group")
    iam.add_user_to_group(GroupName="copy-group", UserName="copy-user")
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}
    policy_arn = iam.create_policy(PolicyName="copy-kms", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    document["Statement"].append({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
    iam.attach_group_policy(GroupName="copy-group", PolicyArn=policy_arn)
    iam.put_user_policy(UserName="copy-user", PolicyName="inline", PolicyDocument=json.dumps(document))
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName="copy-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.attach_role_policy(RoleName="copy-role", PolicyArn=policy_arn)
    iam.put_role_policy(RoleName="copy-role", PolicyName="role-inline", PolicyDocument=json.dumps(document))
    access_key = iam.create_access_key(UserName="copy-user")["AccessKey"]
    made.user_credentials = (access_key["AccessKeyId"], access_key["SecretAccessKey"])
    return str(user_arn), str(role_arn)


def sts_as_user(server: KmsdServer, made: Made) -> Any:
    access_key, secret_key = made.user_credentials
    return server.client("sts", access_key=access_key, secret_key=secret_key)


# --- what must be the same after a copy ---------------------------------------------------------------------


def listings(server: KmsdServer) -> dict[str, Any]:
    """Every listing and description the world has, without response metadata."""
    seen: dict[str, Any] = {}
    for region in (EAST, WEST):
        kms = server.root_client("kms", region=region)
        keys = kms.list_keys(Limit=1000)["Keys"]
        seen[f"{region} keys"] = keys
        seen[f"{region} aliases"] = kms.list_aliases(Limit=100)["Aliases"]
        for entry in keys:
            key_id = entry["KeyId"]
            seen[f"{region} {key_id}"] = {
                "describe": kms.describe_key(KeyId=key_id)["KeyMetadata"],
                "policy": kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"],
                "grants": kms.list_grants(KeyId=key_id)["Grants"],
                "tags": kms.list_resource_tags(KeyId=key_id)["Tags"],
                "rotations": answer(kms.list_key_rotations, KeyId=key_id),
                "rotation status": answer(kms.get_key_rotation_status, KeyId=key_id),
                "public key": answer(kms.get_public_key, KeyId=key_id),
            }
    iam = server.root_client("iam")
    seen["users"] = iam.list_users()["Users"]
    seen["groups"] = iam.list_groups()["Groups"]
    seen["roles"] = iam.list_roles()["Roles"]
    seen["policies"] = iam.list_policies(Scope="Local")["Policies"]
    seen["user"] = {
        "get": iam.get_user(UserName="copy-user")["User"],
        "groups": iam.list_groups_for_user(UserName="copy-user")["Groups"],
        "attached": iam.list_attached_user_policies(UserName="copy-user")["AttachedPolicies"],
        "inline": iam.get_user_policy(UserName="copy-user", PolicyName="inline")["PolicyDocument"],
        "access keys": iam.list_access_keys(UserName="copy-user")["AccessKeyMetadata"],
    }
    seen["group"] = {
        "get": strip(iam.get_group(GroupName="copy-group")),
        "attached": iam.list_attached_group_policies(GroupName="copy-group")["AttachedPolicies"],
    }
    seen["role"] = {
        "get": iam.get_role(RoleName="copy-role")["Role"],
        "attached": iam.list_attached_role_policies(RoleName="copy-role")["AttachedPolicies"],
        "inline": iam.get_role_policy(RoleName="copy-role", PolicyName="role-inline")["PolicyDocument"],
    }
    for policy in seen["policies"]:
        versions = iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]
        seen[policy["Arn"]] = [
            iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=version["VersionId"])["PolicyVersion"]
            for version in versions
        ]
    return seen


def check_world(server: KmsdServer, made: Made) -> None:
    """Every ciphertext decrypts, every signature and MAC verifies, every secret agrees; the old credentials work."""
    clients = {region: server.root_client("kms", region=region) for region in (EAST, WEST)}
    for key_id, region, blob, plaintext, params in made.ciphertexts:
        decrypted = clients[region].decrypt(CiphertextBlob=blob, KeyId=key_id, **params)
        assert decrypted["Plaintext"] == plaintext, (key_id, region)
    kms = clients[EAST]
    for key_id, message, signature, algorithm in made.signatures:
        assert kms.verify(KeyId=key_id, Message=message, Signature=signature, SigningAlgorithm=algorithm)[
            "SignatureValid"
        ]
    for key_id, message, mac in made.macs:
        assert kms.verify_mac(KeyId=key_id, Message=message, Mac=mac, MacAlgorithm="HMAC_SHA_256")["MacValid"]
    for key_id, peer, secret in made.agreements:
        derived = kms.derive_shared_secret(KeyId=key_id, KeyAgreementAlgorithm="ECDH", PublicKey=peer)
        assert derived["SharedSecret"] == secret
    for key_id, ciphertext, secret in made.encapsulations:
        recovered = kms.decapsulate(
            KeyId=key_id, SharedSecretCiphertextBlob=ciphertext, EncapsulationAlgorithm="ML_KEM"
        )
        assert recovered["SharedSecret"] == secret
    for key_id, region, blob, _ in made.out_of_use:
        code = answer(clients[region].decrypt, CiphertextBlob=blob, KeyId=key_id)
        assert code in ("DisabledException", "KMSInvalidStateException"), code
    # The IAM user's access key and the STS session made before the copy still authenticate, and authorize.
    access_key, secret_key = made.user_credentials
    as_user = server.client("kms", access_key=access_key, secret_key=secret_key)
    key_id, _, blob, plaintext, params = made.ciphertexts[0]
    assert as_user.decrypt(CiphertextBlob=blob, **params)["Plaintext"] == plaintext
    session = made.session
    as_role = client(server, "sts", (session["AccessKeyId"], session["SecretAccessKey"]), session["SessionToken"])
    assert ":assumed-role/copy-role/before-the-copy" in as_role.get_caller_identity()["Arn"]


def keys_out_of_use_work_again(server: KmsdServer, made: Made) -> None:
    kms = server.root_client("kms")
    for key_id, _, blob, state in made.out_of_use:
        if state == "pending":
            kms.cancel_key_deletion(KeyId=key_id)
        kms.enable_key(KeyId=key_id)
        assert kms.decrypt(CiphertextBlob=blob)["KeyId"].endswith(key_id)


def answer(call: Callable[..., Any], **params: Any) -> Any:
    """The answer without its metadata, or the error code: some keys refuse some listings (as in AWS)."""
    try:
        return strip(call(**params))
    except ClientError as error:
        return error.response["Error"]["Code"]


def strip(response: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in response.items() if name != "ResponseMetadata"}


def table_counts(report: str) -> dict[str, int]:
    """The rows per table in the command's report: one line a table, its name and its count first."""
    tables = {table.name for table in TABLES} | set(REBUILT_TABLES)
    counts: dict[str, int] = {}
    for line in report.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in tables:
            counts[parts[0]] = int(parts[1])
    return counts
