"""The audit events of real calls, as ``kmsd serve --audit-file`` writes them: one CloudTrail record per line.

One server (``--audit-file``) and one scenario per module: boto3 KMS, IAM and
STS calls by a root user, an IAM user, a role session with a source identity
and a GetSessionToken session, a denied call, a failed one, cross-account
calls allowed and denied, and a request whose signature does not verify.  The
tests then read the file: each call's record has CloudTrail's identity,
parameters, error and flags ("CloudTrail record contents", "CloudTrail
userIdentity element", the KMS Developer Guide's logged examples), a
cross-account call is in both accounts' trails unless it was denied ("Logging
AWS KMS API calls with AWS CloudTrail"), and no line holds any of the
plaintexts, data keys, private keys, random bytes, signatures, secret access
keys or session tokens the scenario used, raw or in base64.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.steps import Steps
from tests.integration.authz_world import (
    ACCOUNT_A,
    ACCOUNT_B,
    EAST,
    WEST,
    Identity,
    World,
    account_root,
    allow,
    enable_iam_policies,
    new_client,
    policy,
    running_world,
    unique,
)
from tests.integration.stores import Stores

USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
PLAINTEXT = b"audit-plaintext-\x00\xff-marker"
SOURCE_IDENTITY = "alice-source"
ENCRYPTION_CONTEXT = {"Department": "Engineering"}


@dataclass
class Scenario(Steps):
    """What the scenario did: request ids by step, and every secret it saw (to look for in the file)."""

    audit_file: Path
    world: World
    requests: dict[str, str] = field(default_factory=dict)  # step -> request id
    errors: dict[str, dict[str, str]] = field(default_factory=dict)  # step -> {"Code", "Message"}
    secrets: set[bytes] = field(default_factory=set)
    key_arn: str = ""
    key_material_id: str = ""
    other_material_id: str = ""
    other_key_arn: str = ""
    shared_key_arn: str = ""
    role_arn: str = ""
    user: Identity | None = None
    session: Identity | None = None

    def secret(self, *values: bytes | str) -> None:
        for value in values:
            raw = value.encode() if isinstance(value, str) else value
            self.secrets.add(raw)
            self.secrets.add(base64.b64encode(raw))

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_file.read_text().splitlines()]

    def of(self, step: str) -> list[dict[str, Any]]:
        """The records of one step's call (two for a call recorded in two accounts)."""
        request_id = self.requests[step]
        return [record for record in self.records() if record["requestID"] == request_id]

    def one(self, step: str) -> dict[str, Any]:
        (record,) = self.of(step)
        return record


def wait_for_request(audit_file: Path, request_id: str) -> None:
    """Until the record of ``request_id`` is in the file: reads are written by the sink's thread, in order."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if audit_file.exists() and f'"requestID":"{request_id}"' in audit_file.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"no audit record of {request_id}")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory, stores: Stores) -> Iterator[Scenario]:
    data_dir = tmp_path_factory.mktemp("audit-events")
    audit_file = data_dir / "audit.jsonl"
    with running_world(stores, data_dir / "kmsd", "--audit-file", str(audit_file)) as world:
        done = Scenario(audit_file, world)
        _run(done)
        yield done


def _run(s: Scenario) -> None:
    a, b = s.world.a, s.world.b
    s.secret(a.root.credentials[1], b.root.credentials[1])
    kms = a.kms()
    # The root user: a key, Encrypt, Decrypt, data keys, random bytes.
    created = s.did("CreateKey", kms.create_key(Description="audited"))["KeyMetadata"]
    s.key_arn = created["Arn"]
    s.key_material_id = created["CurrentKeyMaterialId"]
    encrypted = s.did(
        "Encrypt",
        kms.encrypt(
            KeyId=s.key_arn,
            Plaintext=PLAINTEXT,
            EncryptionContext=ENCRYPTION_CONTEXT,
            EncryptionAlgorithm="SYMMETRIC_DEFAULT",
        ),
    )
    s.secret(PLAINTEXT, encrypted["CiphertextBlob"])
    s.did("Decrypt", kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext=ENCRYPTION_CONTEXT))
    other_key = kms.create_key()["KeyMetadata"]
    s.did(
        "ReEncrypt",
        kms.re_encrypt(
            CiphertextBlob=encrypted["CiphertextBlob"],
            SourceEncryptionContext=ENCRYPTION_CONTEXT,
            DestinationKeyId=other_key["KeyId"],
        ),
    )
    s.other_material_id, s.other_key_arn = other_key["CurrentKeyMaterialId"], other_key["Arn"]
    data_key = s.did("GenerateDataKey", kms.generate_data_key(KeyId=s.key_arn, KeySpec="AES_256"))
    s.secret(data_key["Plaintext"], data_key["CiphertextBlob"])
    pair = kms.generate_data_key_pair(KeyId=s.key_arn, KeyPairSpec="ECC_NIST_P256")
    s.secret(pair["PrivateKeyPlaintext"], pair["PrivateKeyCiphertextBlob"])
    s.secret(kms.generate_random(NumberOfBytes=32)["Plaintext"])
    signing = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="ECC_NIST_P256")["KeyMetadata"]["KeyId"]
    signature = kms.sign(KeyId=signing, Message=b"audit-message-marker", SigningAlgorithm="ECDSA_SHA_256")
    s.secret(b"audit-message-marker", signature["Signature"])
    mac_key = kms.create_key(KeyUsage="GENERATE_VERIFY_MAC", KeySpec="HMAC_256")["KeyMetadata"]["KeyId"]
    mac = kms.generate_mac(KeyId=mac_key, Message=b"audit-mac-message", MacAlgorithm="HMAC_SHA_256")["Mac"]
    s.secret(b"audit-mac-message", mac)
    s.failed("NotFound", kms.describe_key, KeyId="alias/audit-no-such-alias")

    # IAM by the root user (a global service), and an IAM user with no KMS permission.
    user_name = unique("auditor")
    s.did("CreateUser", a.iam.create_user(UserName=user_name))
    access_key = s.did("CreateAccessKey", a.iam.create_access_key(UserName=user_name))["AccessKey"]
    s.secret(access_key["SecretAccessKey"])
    s.user = Identity(
        s.world.server,
        f"arn:aws:iam::{ACCOUNT_A}:user/{user_name}",
        ACCOUNT_A,
        (access_key["AccessKeyId"], access_key["SecretAccessKey"]),
        name=user_name,
    )
    s.failed("Denied", s.user.kms().encrypt, KeyId=s.key_arn, Plaintext=PLAINTEXT)

    # A role the user may assume with a source identity; the session encrypts.
    s.role_arn = a.iam.create_role(
        RoleName=unique("audited-role"),
        AssumeRolePolicyDocument=policy(allow(["sts:AssumeRole", "sts:SetSourceIdentity"], None, principal=s.user.arn)),
    )["Role"]["Arn"]
    a.iam.put_user_policy(UserName=user_name, PolicyName="assume", PolicyDocument=policy(allow("sts:*")))
    role_name = s.role_arn.rpartition("/")[2]
    a.iam.put_role_policy(RoleName=role_name, PolicyName="use", PolicyDocument=policy(allow(USE_ACTIONS)))
    assumed = s.did(
        "AssumeRole",
        s.user.client("sts", EAST).assume_role(
            RoleArn=s.role_arn, RoleSessionName="audit-session", SourceIdentity=SOURCE_IDENTITY
        ),
    )
    credentials = assumed["Credentials"]
    s.secret(credentials["SecretAccessKey"], credentials["SessionToken"])
    s.session = Identity(
        s.world.server,
        assumed["AssumedRoleUser"]["Arn"],
        ACCOUNT_A,
        (credentials["AccessKeyId"], credentials["SecretAccessKey"]),
        session_token=credentials["SessionToken"],
    )
    session_blob = s.did(
        "SessionEncrypt", s.session.kms().encrypt(KeyId=s.key_arn, Plaintext=b"session-plaintext-marker")
    )["CiphertextBlob"]
    s.secret(b"session-plaintext-marker", session_blob)

    # GetSessionToken: the user's own temporary credentials.
    token = s.did("GetSessionToken", s.user.client("sts", EAST).get_session_token())["Credentials"]
    s.secret(token["SecretAccessKey"], token["SessionToken"])
    token_client = new_client(
        s.world.server, "sts", (token["AccessKeyId"], token["SecretAccessKey"]), session_token=token["SessionToken"]
    )
    s.did("TokenCallerIdentity", token_client.get_caller_identity())

    # Across accounts: a key of A shared with B; B's user encrypts under it, then tries A's private key.
    shared = a.kms().create_key(
        Policy=policy(enable_iam_policies(ACCOUNT_A), allow(USE_ACTIONS, principal=account_root(ACCOUNT_B)))
    )["KeyMetadata"]
    s.shared_key_arn = shared["Arn"]
    b_user = b.user(allow(USE_ACTIONS))
    s.secret(b_user.credentials[1])
    s.did("CrossAccount", b_user.kms().encrypt(KeyId=s.shared_key_arn, Plaintext=b"cross-account-marker"))
    s.secret(b"cross-account-marker")
    s.failed("CrossAccountDenied", b_user.kms().encrypt, KeyId=s.key_arn, Plaintext=b"cross-account-marker")

    # A request signed with a wrong secret: no one is authenticated, nothing is recorded.
    forged = new_client(s.world.server, "kms", (a.root.credentials[0], "not-the-secret"))
    s.failed("Unauthenticated", forged.list_keys)
    s.did("Last", kms.list_keys())
    wait_for_request(s.audit_file, s.requests["Last"])


def test_every_line_is_one_cloudtrail_record(scenario: Scenario) -> None:
    lines = scenario.audit_file.read_text().splitlines()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert record["eventVersion"] == "1.11"
        assert (record["eventType"], record["managementEvent"], record["eventCategory"]) == (
            "AwsApiCall",
            True,
            "Management",
        )
        assert record["eventTime"].endswith("Z") and len(record["eventTime"]) == len("2025-05-20T20:46:16Z")
    assert len({json.loads(line)["eventID"] for line in lines}) == len(lines)


def test_encrypt_by_the_root_user(scenario: Scenario) -> None:
    # As the KMS Developer Guide's Encrypt example: the key, the context and the algorithm; no response.
    record = scenario.one("Encrypt")
    assert record["userIdentity"] == {
        "type": "Root",
        "principalId": ACCOUNT_A,
        "arn": account_root(ACCOUNT_A),
        "accountId": ACCOUNT_A,
        "accessKeyId": scenario.world.a.root.credentials[0],
    }
    assert (record["eventSource"], record["eventName"], record["awsRegion"]) == ("kms.amazonaws.com", "Encrypt", WEST)
    assert record["requestParameters"] == {
        "keyId": scenario.key_arn,
        "encryptionContext": ENCRYPTION_CONTEXT,
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert record["responseElements"] is None
    assert record["additionalEventData"] == {"keyMaterialId": scenario.key_material_id}
    assert record["readOnly"] is True
    assert record["resources"] == [{"ARN": scenario.key_arn, "accountId": ACCOUNT_A, "type": "AWS::KMS::Key"}]
    assert record["recipientAccountId"] == ACCOUNT_A
    assert record["sourceIPAddress"] == "127.0.0.1"
    assert record["userAgent"].startswith("Boto3/")
    assert "errorCode" not in record and "sharedEventID" not in record


def test_reads_and_writes(scenario: Scenario) -> None:
    created = scenario.one("CreateKey")
    assert created["readOnly"] is False
    assert created["requestParameters"] == {"description": "audited"}
    assert created["responseElements"]["keyMetadata"]["arn"] == scenario.key_arn
    assert created["responseElements"]["keyMetadata"]["aWSAccountId"] == ACCOUNT_A
    decrypt = scenario.one("Decrypt")
    assert (decrypt["readOnly"], decrypt["responseElements"]) == (True, None)
    # The algorithm is recorded though the request left it to the default (KMS Developer Guide, "Decrypt"), and the
    # key material used is in additionalEventData, as in the Guide's examples.
    assert decrypt["requestParameters"] == {
        "encryptionContext": ENCRYPTION_CONTEXT,
        "encryptionAlgorithm": "SYMMETRIC_DEFAULT",
    }
    assert decrypt["additionalEventData"] == {"keyMaterialId": scenario.key_material_id}
    assert decrypt["resources"][0]["ARN"] == scenario.key_arn
    data_key = scenario.one("GenerateDataKey")
    assert data_key["requestParameters"] == {"keyId": scenario.key_arn, "keySpec": "AES_256"}
    assert data_key["responseElements"] is None
    assert data_key["additionalEventData"] == {"keyMaterialId": scenario.key_material_id}
    re_encrypt = scenario.one("ReEncrypt")
    assert re_encrypt["requestParameters"]["sourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert re_encrypt["requestParameters"]["destinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert re_encrypt["additionalEventData"] == {
        "sourceKeyMaterialId": scenario.key_material_id,
        "destinationKeyMaterialId": scenario.other_material_id,
    }
    # The source key, then the destination key (KMS Developer Guide, "ReEncrypt").
    assert [resource["ARN"] for resource in re_encrypt["resources"]] == [scenario.key_arn, scenario.other_key_arn]
    assert "additionalEventData" not in scenario.one("CreateKey")


def test_a_failed_call_has_its_error(scenario: Scenario) -> None:
    record = scenario.one("NotFound")
    error = scenario.errors["NotFound"]
    assert (record["errorCode"], record["errorMessage"]) == ("NotFoundException", error["Message"])
    assert record["requestParameters"] == {"keyId": "alias/audit-no-such-alias"}
    assert record["responseElements"] is None


def test_a_denied_call_names_the_iam_user(scenario: Scenario) -> None:
    assert scenario.user is not None
    record = scenario.one("Denied")
    assert record["userIdentity"] == {
        "type": "IAMUser",
        "principalId": record["userIdentity"]["principalId"],
        "arn": scenario.user.arn,
        "accountId": ACCOUNT_A,
        "accessKeyId": scenario.user.credentials[0],
        "userName": scenario.user.name,
    }
    assert record["userIdentity"]["principalId"].startswith("AIDA")
    assert record["errorCode"] == "AccessDeniedException"
    assert record["errorMessage"] == scenario.errors["Denied"]["Message"]
    assert record["errorMessage"].startswith(f"User: {scenario.user.arn} is not authorized to perform: kms:Encrypt")
    assert record["resources"] == [{"ARN": scenario.key_arn, "accountId": ACCOUNT_A, "type": "AWS::KMS::Key"}]


def test_iam_calls_are_recorded_in_us_east_1_without_the_secret(scenario: Scenario) -> None:
    create_user = scenario.one("CreateUser")
    assert (create_user["eventSource"], create_user["awsRegion"]) == ("iam.amazonaws.com", EAST)
    assert create_user["readOnly"] is False
    assert create_user["responseElements"]["user"]["userName"] == create_user["requestParameters"]["userName"]
    access_key = scenario.one("CreateAccessKey")
    assert scenario.user is not None
    assert access_key["responseElements"]["accessKey"]["accessKeyId"] == scenario.user.credentials[0]
    assert "secretAccessKey" not in access_key["responseElements"]["accessKey"]


def test_assume_role_and_the_role_session(scenario: Scenario) -> None:
    assert scenario.user is not None and scenario.session is not None
    assume = scenario.one("AssumeRole")
    assert (assume["eventSource"], assume["readOnly"]) == ("sts.amazonaws.com", True)
    assert assume["userIdentity"]["arn"] == scenario.user.arn
    assert assume["requestParameters"] == {
        "roleArn": scenario.role_arn,
        "roleSessionName": "audit-session",
        "sourceIdentity": SOURCE_IDENTITY,
    }
    credentials = assume["responseElements"]["credentials"]
    assert set(credentials) == {"accessKeyId", "expiration"}
    assert credentials["accessKeyId"] == scenario.session.credentials[0]
    assert assume["responseElements"]["assumedRoleUser"]["arn"] == scenario.session.arn
    assert assume["resources"] == [{"ARN": scenario.role_arn, "accountId": ACCOUNT_A, "type": "AWS::IAM::Role"}]

    used = scenario.one("SessionEncrypt")
    identity = used["userIdentity"]
    role_id = identity["sessionContext"]["sessionIssuer"]["principalId"]
    assert identity["type"] == "AssumedRole"
    assert identity["principalId"] == f"{role_id}:audit-session"
    assert (identity["arn"], identity["accountId"], identity["accessKeyId"]) == (
        scenario.session.arn,
        ACCOUNT_A,
        scenario.session.credentials[0],
    )
    assert identity["sessionContext"]["sessionIssuer"] == {
        "type": "Role",
        "principalId": role_id,
        "arn": scenario.role_arn,
        "accountId": ACCOUNT_A,
        "userName": scenario.role_arn.rpartition("/")[2],
    }
    assert identity["sessionContext"]["attributes"]["mfaAuthenticated"] == "false"
    assert identity["sessionContext"]["sourceIdentity"] == SOURCE_IDENTITY


def test_a_session_token_session_is_the_user_with_a_session_context(scenario: Scenario) -> None:
    assert scenario.user is not None
    issued = scenario.one("GetSessionToken")
    assert set(issued["responseElements"]["credentials"]) == {"accessKeyId", "expiration"}
    identity = scenario.one("TokenCallerIdentity")["userIdentity"]
    assert (identity["type"], identity["arn"], identity["userName"]) == (
        "IAMUser",
        scenario.user.arn,
        scenario.user.name,
    )
    assert identity["accessKeyId"] == issued["responseElements"]["credentials"]["accessKeyId"]
    assert identity["sessionContext"]["sessionIssuer"] == {}


def test_a_cross_account_call_is_in_both_trails(scenario: Scenario) -> None:
    copies = scenario.of("CrossAccount")
    assert sorted(record["recipientAccountId"] for record in copies) == sorted([ACCOUNT_A, ACCOUNT_B])
    assert len({record["eventID"] for record in copies}) == 2
    assert len({record["sharedEventID"] for record in copies}) == 1
    for record in copies:
        assert record["userIdentity"]["accountId"] == ACCOUNT_B
        assert record["resources"] == [
            {"ARN": scenario.shared_key_arn, "accountId": ACCOUNT_A, "type": "AWS::KMS::Key"}
        ]


def test_a_denied_cross_account_call_is_only_in_the_callers_trail(scenario: Scenario) -> None:
    record = scenario.one("CrossAccountDenied")
    assert (record["recipientAccountId"], record["errorCode"]) == (ACCOUNT_B, "AccessDeniedException")
    assert "sharedEventID" not in record


def test_an_unauthenticated_request_is_not_recorded(scenario: Scenario) -> None:
    assert scenario.errors["Unauthenticated"]["Code"] == "InvalidSignatureException"
    assert scenario.of("Unauthenticated") == []


def test_no_secret_in_any_record(scenario: Scenario) -> None:
    # Every plaintext, data key, private key, random value, signature, MAC, secret access key and session token the
    # scenario saw, raw and in base64; the file is read as bytes, so a raw secret in any encoding would show.
    text = scenario.audit_file.read_bytes()
    assert len(scenario.secrets) > 30
    found = [secret for secret in scenario.secrets if secret in text]
    assert found == []
    # JSON escapes of the raw values too (a plaintext with a NUL byte, if it were written as a JSON string).
    escaped = scenario.audit_file.read_text()
    for secret in scenario.secrets:
        assert json.dumps(secret.decode("latin-1"))[1:-1] not in escaped
