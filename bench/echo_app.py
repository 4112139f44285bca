"""The bare ASGI ceiling: the fastest any app can answer on kmsd's server stack.

``bench/run.py`` serves this on uvicorn with exactly the options ``kmsd serve``
uses (uvloop, httptools, lifespan on, access log and server header off) and
replays the same signed KMS requests at it.  It reads the whole body, as kmsd
must, and answers one small fixed JSON document, so its requests/s is what the
server stack alone costs and kmsd/ceiling is the share of that left after
kmsd's own work (SigV4, decoding, authorization, crypto, the store).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

RESPONSE_BODY = b'{"KeyId":"echo","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}'
RESPONSE_HEADERS = [
    (b"content-type", b"application/x-amz-json-1.1"),
    (b"content-length", str(len(RESPONSE_BODY)).encode()),
]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    await send({"type": "http.response.start", "status": 200, "headers": RESPONSE_HEADERS})
    await send({"type": "http.response.body", "body": RESPONSE_BODY})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
