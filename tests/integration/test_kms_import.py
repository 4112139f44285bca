"""Imported key material through a real ``kmsd serve`` and boto3, as a user does it: CreateKey with Origin
EXTERNAL, GetParametersForImport, 32 random bytes wrapped locally with `cryptography` under the returned
public key, ImportKeyMaterial, then Encrypt and Decrypt; the errors AWS answers on the way; permissions
with the import condition keys; and material that expires on a manual clock behind an in-process server."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from kmsd.clock import ManualClock
from tests.crypto.import_wrapping import wrap_outside
from tests.helpers.aws_errors import error_from
from tests.integration.server import KmsdServer, in_process_server
from tests.integration.stores import Stores


def import_into(kms: Any, key_id: str, material: bytes, algorithm: str = "RSAES_OAEP_SHA_256", **params: Any) -> Any:
    parameters = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048")
    params.setdefault("ExpirationModel", "KEY_MATERIAL_DOES_NOT_EXPIRE")
    if params["ExpirationModel"] is None:
        del params["ExpirationModel"]
    return kms.import_key_material(
        KeyId=key_id,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrap_outside(parameters["PublicKey"], algorithm, material),
        **params,
    )


@pytest.mark.parametrize(
    "algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"]
)
def test_the_aws_import_workflow(kms: Any, algorithm: str) -> None:
    metadata = kms.create_key(Origin="EXTERNAL", Description="byok")["KeyMetadata"]
    assert (metadata["Origin"], metadata["KeyState"]) == ("EXTERNAL", "PendingImport")
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    code, message, status = error_from(kms.encrypt, KeyId=key_id, Plaintext=b"too early")
    assert (code, message, status) == ("KMSInvalidStateException", f"{arn} is pending import.", 400)

    parameters = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_2048")
    assert parameters["KeyId"] == arn
    valid_for = parameters["ParametersValidTo"] - metadata["CreationDate"]
    assert timedelta(hours=23, minutes=59) < valid_for <= timedelta(hours=24, minutes=1)
    material = os.urandom(32)
    imported = kms.import_key_material(
        KeyId=key_id,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrap_outside(parameters["PublicKey"], algorithm, material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["KeyState"] == "Enabled" and described["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    assert described["CurrentKeyMaterialId"] == imported["KeyMaterialId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"hello byok")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello byok"


def test_delete_and_reimport_the_same_material(kms: Any) -> None:
    metadata = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    key_id, arn = metadata["KeyId"], metadata["Arn"]
    material = os.urandom(32)
    import_into(kms, key_id, material)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
    assert kms.delete_imported_key_material(KeyId=key_id)["KeyId"] == arn
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert error_from(kms.decrypt, CiphertextBlob=blob)[:2] == ("KMSInvalidStateException", f"{arn} is pending import.")
    assert error_from(import_into, kms=kms, key_id=key_id, material=os.urandom(32))[0] == (
        "IncorrectKeyMaterialException"
    )
    import_into(kms, key_id, material, "RSA_AES_KEY_WRAP_SHA_1")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"


def test_import_errors(kms: Any) -> None:
    first, second = (kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"] for _ in range(2))
    parameters = kms.get_parameters_for_import(
        KeyId=first, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_3072"
    )
    wrapped = wrap_outside(parameters["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32))
    code, message, status = error_from(
        kms.import_key_material,
        KeyId=second,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrapped,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert (code, status) == ("InvalidImportTokenException", 400)
    assert message.startswith("The request was rejected because the provided import token is invalid")
    assert error_from(
        kms.import_key_material,
        KeyId=first,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=b"\x00" * 384,
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )[0] == ("InvalidCiphertextException")
    ordinary = kms.create_key()["KeyMetadata"]["Arn"]
    assert error_from(kms.delete_imported_key_material, KeyId=ordinary)[:2] == (
        "UnsupportedOperationException",
        f"{ordinary} origin is AWS_KMS which is not valid for this operation.",
    )


def test_the_import_condition_keys_decide(server: KmsdServer, kms: Any) -> None:
    iam = server.root_client("iam")
    user = f"importer-{os.urandom(4).hex()}"
    iam.create_user(UserName=user)
    statement = {
        "Effect": "Allow",
        "Action": ["kms:GetParametersForImport", "kms:ImportKeyMaterial"],
        "Resource": "*",
        "Condition": {
            "StringEquals": {"kms:WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256"},
        },
    }
    import_statement = {
        "Effect": "Allow",
        "Action": "kms:ImportKeyMaterial",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}},
    }
    document = {"Version": "2012-10-17", "Statement": [statement, import_statement]}
    iam.put_user_policy(UserName=user, PolicyName="import", PolicyDocument=json.dumps(document))
    created = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = server.client("kms", access_key=created["AccessKeyId"], secret_key=created["SecretAccessKey"])
    key_arn = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["Arn"]
    user_arn = iam.get_user(UserName=user)["User"]["Arn"]

    code, message, _ = error_from(
        as_user.get_parameters_for_import,
        KeyId=key_arn,
        WrappingAlgorithm="RSAES_OAEP_SHA_256",
        WrappingKeySpec="RSA_2048",
    )
    assert code == "AccessDeniedException"
    assert message == (
        f"User: {user_arn} is not authorized to perform: kms:GetParametersForImport on resource: {key_arn} "
        "because no identity-based policy allows the kms:GetParametersForImport action"
    )
    import_into(as_user, key_arn, os.urandom(32), "RSA_AES_KEY_WRAP_SHA_256")
    assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Enabled"
    code, message, _ = error_from(as_user.delete_imported_key_material, KeyId=key_arn)
    assert code == "AccessDeniedException" and "kms:DeleteImportedKeyMaterial" in message


@pytest.fixture
def clocked(tmp_path: Path, stores: Stores) -> Iterator[tuple[Any, ManualClock]]:
    with in_process_server(tmp_path, stores.new(tmp_path), sweep_interval=0.05) as running:
        yield running.kms, running.clock


def test_material_expires_at_valid_to(clocked: tuple[Any, ManualClock]) -> None:
    kms, clock = clocked
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    valid_to = clock.now() + timedelta(days=30)
    import_into(kms, key_id, os.urandom(32), ExpirationModel="KEY_MATERIAL_EXPIRES", ValidTo=valid_to)
    described = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert described["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
    # The wire carries epoch seconds with milliseconds.
    assert abs(described["ValidTo"] - valid_to) < timedelta(milliseconds=1)
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"until then")["CiphertextBlob"]
    clock.advance(timedelta(days=30, seconds=1))
    deadline = time.monotonic() + 5
    while kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] != "PendingImport" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
    assert error_from(kms.decrypt, CiphertextBlob=blob)[0] == "KMSInvalidStateException"


def test_an_import_token_expires_after_24_hours(clocked: tuple[Any, ManualClock]) -> None:
    kms, clock = clocked
    key_id = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    parameters = kms.get_parameters_for_import(
        KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_1", WrappingKeySpec="RSA_2048"
    )
    clock.advance(timedelta(hours=24, seconds=1))
    code, _, status = error_from(
        kms.import_key_material,
        KeyId=key_id,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrap_outside(parameters["PublicKey"], "RSAES_OAEP_SHA_1", os.urandom(32)),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    assert (code, status) == ("ExpiredImportTokenException", 400)


def test_an_omitted_expiration_model_is_its_default_in_conditions(server: KmsdServer, kms: Any) -> None:
    # "This type of condition works even when the parameter doesn't appear in the request, such as when you use
    # the parameter's default value" ("AWS KMS condition keys"); ExpirationModel defaults to KEY_MATERIAL_EXPIRES.
    iam = server.root_client("iam")
    user = f"expiring-{os.urandom(4).hex()}"
    iam.create_user(UserName=user)
    statements = [
        {"Effect": "Allow", "Action": "kms:GetParametersForImport", "Resource": "*"},
        {
            "Effect": "Allow",
            "Action": "kms:ImportKeyMaterial",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_EXPIRES"}},
        },
    ]
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_user_policy(UserName=user, PolicyName="import", PolicyDocument=json.dumps(document))
    created = iam.create_access_key(UserName=user)["AccessKey"]
    as_user = server.client("kms", access_key=created["AccessKeyId"], secret_key=created["SecretAccessKey"])
    key_arn = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["Arn"]
    material = os.urandom(32)
    assert error_from(import_into, kms=as_user, key_id=key_arn, material=material)[0] == "AccessDeniedException"
    valid_to = kms.describe_key(KeyId=key_arn)["KeyMetadata"]["CreationDate"] + timedelta(days=30)
    import_into(as_user, key_arn, material, ExpirationModel=None, ValidTo=valid_to)
    assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["ExpirationModel"] == "KEY_MATERIAL_EXPIRES"
