"""A hand-made client of the console's JSON API (/console/api/), as a browser or an attacker would speak it.

It keeps the session cookie itself -- no cookie jar decides for it -- so tests
can read the cookie's attributes, drop it, replay it or tamper with it.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Answer:
    status: int
    body: Any
    headers: list[tuple[str, str]]

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass
class ConsoleClient:
    endpoint: str
    cookie: str | None = None  # the value of kmsd-console, as the browser would send it
    csrf: str | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        parts = urlsplit(self.endpoint)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            sent = {**self.extra_headers, **(headers or {})}
            if self.cookie is not None:
                sent["Cookie"] = f"kmsd-console={self.cookie}"
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            raw = response.read()
            content_type = response.getheader("content-type") or ""
            parsed: Any = json.loads(raw) if content_type.startswith("application/json") and raw else raw
            return Answer(response.status, parsed, response.getheaders())
        finally:
            connection.close()

    def post(
        self, route: str, document: Any, *, csrf: str | None = None, content_type: str = "application/json"
    ) -> Answer:
        headers = {"Content-Type": content_type}
        token = csrf if csrf is not None else self.csrf
        if token is not None:
            headers["X-Kmsd-Csrf"] = token
        return self.request("POST", f"/console/api/{route}", json.dumps(document).encode(), headers)

    def sign_in(
        self, access_key: str, secret_key: str, session_token: str | None = None, region: str = "us-east-1"
    ) -> Answer:
        answer = self.post(
            "sign-in",
            {"accessKeyId": access_key, "secretAccessKey": secret_key, "sessionToken": session_token, "region": region},
        )
        if answer.status == 200:
            self.csrf = answer.body["csrfToken"]
            for value in answer.header("set-cookie"):
                name, _, rest = value.partition("=")
                if name == "kmsd-console":
                    self.cookie = rest.split(";")[0]
        return answer

    def call(self, service: str, operation: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.post("call", {"service": service, "operation": operation, "params": params or {}})
        assert answer.status == 200, answer.body
        result: dict[str, Any] = answer.body
        return result
