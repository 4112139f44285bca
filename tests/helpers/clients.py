"""Clients of a real ``kmsd serve``: boto3 clients, the AWS CLI's environment, and hand-signed KMS calls.

The hand-signed calls send what a hostile client would, bypassing boto3's own checks.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.integration.server import KmsdServer


# --- helpers shared by the test_iam_* modules ----------------------------------------------------------------
def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client(server: KmsdServer, service: str, credentials: tuple[str, str], session_token: str | None = None) -> Any:
    return boto3.client(
        service,
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=credentials[0],
        aws_secret_access_key=credentials[1],
        aws_session_token=session_token,
        config=Config(retries={"max_attempts": 1}),
    )


def user_with_key(iam: Any, name: str | None = None) -> tuple[str, tuple[str, str]]:
    """A new IAM user and its first access key."""
    name = name or unique("user")
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, (key["AccessKeyId"], key["SecretAccessKey"])


def session_client(server: KmsdServer, service: str, credentials: dict[str, Any]) -> Any:
    return client(
        server, service, (credentials["AccessKeyId"], credentials["SecretAccessKey"]), credentials["SessionToken"]
    )


AWS_CLI = str(Path(sys.executable).with_name("aws"))


def cli_env(server: KmsdServer, credentials: tuple[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=credentials[0],
        AWS_SECRET_ACCESS_KEY=credentials[1],
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE="/dev/null",
        AWS_SHARED_CREDENTIALS_FILE="/dev/null",
    )
    return env


@dataclass(frozen=True)
class Account:
    account_id: str
    credentials: tuple[str, str]


def new_account(server: KmsdServer) -> Account:
    account_id = f"{uuid.uuid4().int % 10**12:012d}"
    return Account(account_id, server.create_account(account_id))


def kms_call(server: KmsdServer, credentials: tuple[str, str], operation: str, body: dict[str, Any]) -> tuple[int, Any]:
    """One KMS call signed by hand with SigV4, the way a hostile client sends it; (status, decoded body)."""
    payload = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"TrentService.{operation}",
        "Host": f"127.0.0.1:{server.port}",
    }
    request = AWSRequest(method="POST", url=server.endpoint + "/", data=payload, headers=headers)
    SigV4Auth(Credentials(*credentials), "kms", "us-east-1").add_auth(request)
    # A generous deadline: a server stuck matching would fail the test here instead of hanging it.
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    try:
        connection.request("POST", "/", body=payload, headers=dict(request.headers.items()))
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    return response.status, json.loads(data) if data else {}


def health(server: KmsdServer) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        connection.request("GET", "/health")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()
