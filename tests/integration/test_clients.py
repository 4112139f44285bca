"""The AWS CLI and the AWS Encryption SDK, unchanged, against a real server process."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path
from typing import Any

import aws_encryption_sdk
import botocore.session
import pytest
from aws_encryption_sdk.identifiers import CommitmentPolicy

from tests.helpers.clients import AWS_CLI, cli_env
from tests.integration.server import KmsdServer


def aws(server: KmsdServer, credentials: tuple[str, str], *args: str) -> str:
    result = subprocess.run(
        [AWS_CLI, "--endpoint-url", server.endpoint, "--output", "text", *args],
        env=cli_env(server, credentials),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_aws_cli_encrypt_decrypt(
    server: KmsdServer, root_credentials: tuple[str, str], kms: Any, tmp_path: Path
) -> None:
    key_id = aws(server, root_credentials, "kms", "create-key", "--description", "cli", "--query", "KeyMetadata.KeyId")
    aws(
        server,
        root_credentials,
        "kms",
        "create-alias",
        "--alias-name",
        "alias/cli",
        "--target-key-id",
        key_id,
    )
    plaintext = tmp_path / "plain.bin"
    plaintext.write_bytes(b"attack at dawn")
    blob_b64 = aws(
        server,
        root_credentials,
        "kms",
        "encrypt",
        "--key-id",
        "alias/cli",
        "--plaintext",
        f"fileb://{plaintext}",
        "--encryption-context",
        "stage=test",
        "--query",
        "CiphertextBlob",
    )
    ciphertext = tmp_path / "cipher.bin"
    ciphertext.write_bytes(base64.b64decode(blob_b64))
    out_b64 = aws(
        server,
        root_credentials,
        "kms",
        "decrypt",
        "--ciphertext-blob",
        f"fileb://{ciphertext}",
        "--encryption-context",
        "stage=test",
        "--query",
        "Plaintext",
    )
    assert base64.b64decode(out_b64) == b"attack at dawn"
    # The boto3 client agrees with what the CLI wrote.
    assert kms.decrypt(CiphertextBlob=ciphertext.read_bytes(), EncryptionContext={"stage": "test"})["Plaintext"] == (
        b"attack at dawn"
    )


def test_aws_cli_reports_aws_errors(server: KmsdServer, root_credentials: tuple[str, str]) -> None:
    result = subprocess.run(
        [
            AWS_CLI,
            "--endpoint-url",
            server.endpoint,
            "kms",
            "describe-key",
            "--key-id",
            "alias/does-not-exist",
        ],
        env=cli_env(server, root_credentials),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "NotFoundException" in result.stderr


def test_encryption_sdk_round_trip(
    server: KmsdServer, root_credentials: tuple[str, str], kms: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_arn = kms.create_key(Description="esdk")["KeyMetadata"]["Arn"]
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    # botocore's service-specific endpoint variable points the SDK's own KMS clients at kmsd.
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", root_credentials[0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", root_credentials[1])
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    provider = aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
        key_ids=[key_arn], botocore_session=botocore.session.Session()
    )
    message = b"envelope-encrypted with a kmsd data key " * 100
    ciphertext, header = client.encrypt(source=message, key_provider=provider, encryption_context={"app": "tests"})
    assert ciphertext != message
    assert header.encryption_context["app"] == "tests"
    decrypted, decrypt_header = client.decrypt(source=ciphertext, key_provider=provider)
    assert decrypted == message
    assert [k.key_provider.key_info.decode() for k in decrypt_header.encrypted_data_keys] == [key_arn]
