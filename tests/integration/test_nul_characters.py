"""U+0000 in requests: refused where kmsd would store or look it up, kept where AWS allows any character.

PostgreSQL's text cannot hold U+0000, and the SQLite store must always copy to PostgreSQL, so kmsd refuses the
character in every string member it stores or looks a record up by (a key's Description, a policy's
Description, a KeyId), on both stores, with a ValidationException naming the member (kmsd.api.shapes).  An
encryption context may hold it (it is never stored as text), and a lookup the API cannot see, such as the
access key id of a presigned URL, finds nothing instead of failing.  Before this, PostgreSQL answered these
with KMSInternalException and ServiceFailure (500).
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers.hand_signed import STS_VERSION, presign, send
from tests.integration.server import KmsdServer

NUL_RULE = "failed to satisfy constraint: Member must not contain the character U+0000"


def refused(call: Any, **params: Any) -> ClientError:
    with pytest.raises(ClientError) as excinfo:
        call(**params)
    return excinfo.value


def test_a_key_description_with_nul_is_refused_and_nothing_is_written(server: KmsdServer, kms: Any) -> None:
    before = len(kms.list_keys(Limit=1000)["Keys"])
    error = refused(kms.create_key, Description="a\x00b")
    assert error.response["Error"]["Code"] == "ValidationException"
    assert error.response["Error"]["Message"] == f"1 validation error detected: Value at 'description' {NUL_RULE}"
    assert len(kms.list_keys(Limit=1000)["Keys"]) == before
    key_id = kms.create_key(Description="plain")["KeyMetadata"]["KeyId"]
    error = refused(kms.update_key_description, KeyId=key_id, Description="\x00")
    assert error.response["Error"]["Code"] == "ValidationException"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "plain"


def test_a_key_id_with_nul_is_refused(kms: Any) -> None:
    error = refused(kms.describe_key, KeyId="alias/x\x00y")
    assert error.response["Error"]["Code"] == "ValidationException"
    assert error.response["Error"]["Message"].endswith(f"at 'keyId' {NUL_RULE}")


def test_an_iam_policy_description_with_nul_is_refused(server: KmsdServer) -> None:
    iam = server.root_client("iam")
    document = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}'
    error = refused(iam.create_policy, PolicyName="nul-description", PolicyDocument=document, Description="a\x00")
    assert error.response["Error"]["Code"] == "ValidationError"
    assert NUL_RULE in error.response["Error"]["Message"]
    missing = refused(iam.get_policy, PolicyArn="arn:aws:iam::000000000000:policy/nul-description")
    assert missing.response["Error"]["Code"] == "NoSuchEntity"


def test_an_encryption_context_may_hold_nul(kms: Any) -> None:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    context = {"pa\x00rt": "va\x00lue"}
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"secret", EncryptionContext=context)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == b"secret"
    # A grant's constraint is stored as JSON, which escapes the character: it round-trips on both stores.
    grant_id = kms.create_grant(
        KeyId=key_id,
        GranteePrincipal="arn:aws:iam::000000000000:root",
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": context},
    )["GrantId"]
    grants = kms.list_grants(KeyId=key_id)["Grants"]
    assert [grant["Constraints"]["EncryptionContextEquals"] for grant in grants if grant["GrantId"] == grant_id] == [
        context
    ]


def test_a_presigned_url_naming_an_access_key_with_nul_is_refused_as_unknown(
    server: KmsdServer, root_credentials: tuple[str, str]
) -> None:
    access_key, secret = root_credentials
    target = presign(
        server, (access_key + "\x00", secret), "sts", "GET", f"Action=GetCallerIdentity&Version={STS_VERSION}"
    )
    reply = send(server, "GET", target, [])
    assert (reply.status, reply.xml_code()) == (403, "InvalidClientTokenId"), reply.body
    # The server kept serving.
    assert server.root_client("sts").get_caller_identity()["Account"] == "000000000000"
