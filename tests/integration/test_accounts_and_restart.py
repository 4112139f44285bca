"""Accounts, --dev credentials, and durability across kill -9, each with a server of the test's own."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.aws_errors import error_of
from tests.integration.server import KmsdServer


def test_first_start_prints_default_credentials_once(fresh_server: KmsdServer) -> None:
    fresh_server.start()
    access_key, secret = fresh_server.default_credentials()
    assert access_key.startswith("AKIA") and len(access_key) == 20
    assert len(secret) == 40
    kms = fresh_server.client(access_key=access_key, secret_key=secret)
    assert kms.list_keys()["Keys"] == []
    fresh_server.stop()
    fresh_server.start()
    assert fresh_server.output().count("AWS_SECRET_ACCESS_KEY=") == 1


def test_accounts_create_while_running(fresh_server: KmsdServer) -> None:
    fresh_server.start()
    access_key, secret = fresh_server.create_account("111122223333")
    kms = fresh_server.client(access_key=access_key, secret_key=secret, region="us-west-2")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    assert arn.startswith("arn:aws:kms:us-west-2:111122223333:key/")
    # Another account sees none of it.
    root = fresh_server.root_client(region="us-west-2")
    assert root.list_keys()["Keys"] == []
    done = fresh_server.command("accounts", "list", "--store", fresh_server.store_url)
    assert done.returncode == 0, done.stderr
    listed = done.stdout
    assert "111122223333" in listed and "000000000000" in listed
    again = fresh_server.command("accounts", "create", "111122223333", "--store", fresh_server.store_url)
    assert again.returncode != 0
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr
    bad = fresh_server.command("accounts", "create", "12", "--store", fresh_server.store_url)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_dev_credentials_only_with_flag(fresh_server: KmsdServer) -> None:
    fresh_server.start()
    with pytest.raises(ClientError) as excinfo:
        fresh_server.client(access_key="test", secret_key="test").list_keys()
    assert error_of(excinfo)[0] == "UnrecognizedClientException"
    fresh_server.stop()
    fresh_server.dev = True
    fresh_server.start()
    test_user = fresh_server.client(access_key="test", secret_key="anything")
    assert test_user.create_key()["KeyMetadata"]["AWSAccountId"] == "000000000000"
    other: Any = fresh_server.client(access_key="444455556666", secret_key="whatever")
    assert other.create_key()["KeyMetadata"]["AWSAccountId"] == "444455556666"
    assert len(other.list_keys()["Keys"]) == 1


def test_everything_survives_kill_9(fresh_server: KmsdServer) -> None:
    fresh_server.start()
    kms = fresh_server.root_client()
    saved = []
    for index in range(5):
        key_id = kms.create_key(Description=f"k{index}")["KeyMetadata"]["KeyId"]
        if index == 0:
            kms.create_alias(AliasName="alias/survivor", TargetKeyId=key_id)
            kms.enable_key_rotation(KeyId=key_id)
            kms.rotate_key_on_demand(KeyId=key_id)
        context = {"n": str(index)}
        blob = kms.encrypt(KeyId=key_id, Plaintext=f"secret {index}".encode(), EncryptionContext=context)
        saved.append((key_id, blob["CiphertextBlob"], context, f"secret {index}".encode()))
    fresh_server.stop(kill=True)
    fresh_server.start()
    kms = fresh_server.root_client()
    for key_id, blob, context, plaintext in saved:
        assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == plaintext
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.describe_key(KeyId="alias/survivor")["KeyMetadata"]["KeyId"] == saved[0][0]
    assert fresh_server.root_key_path.stat().st_mode & 0o777 == 0o600
