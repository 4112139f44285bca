"""The console's API calls: real signed requests, run through the app's own pipeline as the signed-in user.

The console never acts with any authority of its own.  Each action the page
asks for becomes the request an SDK would send -- JSON 1.1 for KMS and
CloudTrail, the query protocol for IAM and STS -- signed with SigV4 under the
user's credentials (:mod:`kmsd.api.sigv4.signer`) and handed to the
:class:`~kmsd.api.app.KmsdApp` in process, as ASGI.  So the call is
authenticated, authorized, audited, metered and answered exactly as the same
call from boto3 would be; only the user agent (``kmsd-console``) tells them
apart.  The answer is turned into JSON for the page: KMS's and CloudTrail's
as they are, IAM's and STS's XML as a plain tree (lists of ``member``
elements become arrays).  For a refusal (KMS's AccessDeniedException, IAM's AccessDenied), the
authorizer's explanation goes with it when every resource it covers is in
the caller's own account (the rule of ``kmsd serve --explain-denials``),
read from the call's record (:data:`~kmsd.api.app.CALL_RECORD_SINK`).
"""

from __future__ import annotations

import json
import urllib.parse
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from kmsd.api import json_protocol, query_protocol
from kmsd.api.app import CALL_RECORD_SINK, KMS, KmsdApp
from kmsd.api.sigv4.signer import signed_headers
from kmsd.audit.call_record import CallRecord
from kmsd.console.sessions import ConsoleSession
from kmsd.errors import ExplainedError

USER_AGENT = "kmsd-console"
JSON_SERVICES = (KMS, "cloudtrail")
QUERY_SERVICES = ("iam", "sts")
SERVICES = JSON_SERVICES + QUERY_SERVICES


@dataclass(frozen=True)
class Origin:
    """Where the browser's request came from: the console's calls are made from there, as the browser's own."""

    client: tuple[str, int] | None
    scheme: str
    host: str
    # The trusted front end's forwarded-for header (kmsd serve --trusted-proxy-header), passed on as it came.
    forwarded: tuple[str, str] | None = None


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    region: str

    @classmethod
    def of(cls, session: ConsoleSession) -> Credentials:
        return cls(session.access_key_id, session.secret_access_key, session.session_token, session.region)


class ApiDispatcher:
    """Runs API calls for the console through ``app``."""

    def __init__(self, app: KmsdApp) -> None:
        self.app = app

    async def call(
        self, credentials: Credentials, origin: Origin, service: str, operation: str, params: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``{"result": ...}`` or ``{"error": {"code", "message", "status", "requestId", "explanation"}}``."""
        if service in JSON_SERVICES:
            body = json.dumps(params, separators=(",", ":")).encode()
            headers = [
                ("content-type", json_protocol.CONTENT_TYPE.decode()),
                ("x-amz-target", f"{self.app.target_prefix(service)}.{operation}"),
            ]
        else:
            version = self.app.query_codecs[service].model.metadata["apiVersion"]
            fields = {"Action": operation, "Version": str(version), **{k: str(v) for k, v in params.items()}}
            body = urllib.parse.urlencode(fields).encode()
            headers = [("content-type", query_protocol.FORM_CONTENT_TYPE + "; charset=utf-8")]
        headers += [("host", origin.host), ("user-agent", USER_AGENT)]
        if origin.forwarded is not None:
            headers.append(origin.forwarded)
        signed = signed_headers(
            "POST",
            "/",
            headers,
            body,
            access_key_id=credentials.access_key_id,
            secret_access_key=credentials.secret_access_key,
            session_token=credentials.session_token,
            region=credentials.region,
            service=service,
            now=self.app.runtime.clock.now(),
        )
        status, payload, records = await self._run(origin, signed, body)
        record = records[0] if records else None
        if service in JSON_SERVICES:
            return _json_answer(status, payload, record)
        return _query_answer(status, payload, record)

    async def _run(
        self, origin: Origin, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, bytes, list[CallRecord]]:
        records: list[CallRecord] = []
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": origin.scheme,
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "headers": [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers],
            "client": origin.client,
            CALL_RECORD_SINK: records,
        }
        sent = False

        async def receive() -> MutableMapping[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        answer: dict[str, Any] = {"status": 500, "body": []}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))

        await self.app(scope, receive, send)
        return int(answer["status"]), b"".join(answer["body"]), records


def _explanation(record: CallRecord | None) -> dict[str, Any] | None:
    if record is None or record.caller is None or not isinstance(record.error, ExplainedError):
        return None
    return record.error.explanation_for(record.caller.principal.account_id)


def _error(code: str, message: str, status: int, record: CallRecord | None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "requestId": record.request_id if record is not None else None,
            "explanation": _explanation(record),
        }
    }


def _json_answer(status: int, payload: bytes, record: CallRecord | None) -> dict[str, Any]:
    document = json.loads(payload) if payload else {}
    if status == 200:
        return {"result": document}
    code = str(document.get("__type", "InternalFailure")).rpartition("#")[2]
    message = str(document.get("message") or document.get("Message") or "")
    return _error(code, message, status, record)


def _query_answer(status: int, payload: bytes, record: CallRecord | None) -> dict[str, Any]:
    root = ElementTree.fromstring(payload)
    if status != 200:
        code = _text(root, "Code") or "InternalFailure"
        return _error(code, _text(root, "Message"), status, record)
    for child in root:
        if _local(child.tag).endswith("Result"):
            result = _tree(child)
            return {"result": result if isinstance(result, dict) else {}}
    return {"result": {}}


def _text(root: ElementTree.Element, name: str) -> str:
    for element in root.iter():
        if _local(element.tag) == name:
            return element.text or ""
    return ""


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _tree(element: ElementTree.Element) -> Any:
    """An XML answer's element as JSON: text for a leaf, an array for ``member`` lists, else an object."""
    children = list(element)
    if not children:
        return element.text or ""
    if all(_local(child.tag) == "member" for child in children):
        return [_tree(child) for child in children]
    return {_local(child.tag): _tree(child) for child in children}
