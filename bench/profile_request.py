"""kmsd's own cost per request, without a server or a network: µs per call of the ASGI app in this process.

``bench/run.py`` measures kmsd behind uvicorn and wrk, where the server stack,
the load generator and the rest of the machine share two cores; this script
isolates what kmsd itself costs.  It opens a fresh SQLite store in a temporary
directory and builds the app as ``kmsd serve`` does with its default options
(the audit trail, the metrics), creates a key with the
default account's root credentials, signs one request per operation with
botocore's ``SigV4Auth`` exactly as ``bench/run.py`` does, and then calls
:class:`~kmsd.api.app.KmsdApp` with that request over and over on one event
loop, checking the first answer; each round ends by writing the audit events
its calls queued, on the same thread.  It prints the median over several rounds of
µs per request, so changes to the request path can be compared before and
after on the same machine; ``--profile`` prints a cProfile of one round
instead.  Numbers move with the machine's other load: compare runs taken
minutes apart.

    .venv/bin/python bench/profile_request.py [--operations Encrypt,Decrypt] [--requests 5000] [--rounds 5] [--cpu]
    .venv/bin/python bench/profile_request.py --profile [--sort cumulative]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import json
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from kms_workload import OPERATIONS, KeyFixture, check_answer, params_for
from kmsd.api.app import KmsdApp
from kmsd.server import RequestOptions, build_app, open_parts
from signed_requests import AccessKey, SignedRequest, sign_kms_request

ENDPOINT = "http://127.0.0.1:4599"
CLIENT = ("127.0.0.1", 50000)


class RecordedAnswer:
    """The ASGI ``send`` of one request: keeps the status and body the app answered."""

    __slots__ = ("body", "status")

    def __init__(self) -> None:
        self.status = 0
        self.body = b""

    async def __call__(self, message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


def asgi_scope(request: SignedRequest) -> dict[str, Any]:
    """The scope uvicorn (httptools) builds for ``request``: lower-case header names, Content-Length added."""
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in request.headers]
    headers.append((b"content-length", str(len(request.body)).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": CLIENT,
        "server": ("127.0.0.1", 4599),
    }


async def call_once(app: KmsdApp, scope: dict[str, Any], body: bytes) -> RecordedAnswer:
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    answer = RecordedAnswer()
    await app(scope, receive, answer)
    return answer


async def timed_round(
    app: KmsdApp, scope: dict[str, Any], body: bytes, requests: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    """µs per request over ``requests`` calls made one after another, writing their queued audit events included;
    ``clock`` is wall time by default, or this process's CPU time (``time.process_time``)."""
    started = clock()
    for _ in range(requests):
        await call_once(app, scope, body)
    if app.audit_trail is not None:
        # The trail's writer thread is not started here (no lifespan): its work is done in the round, on this thread.
        app.audit_trail.flush()
    return (clock() - started) / requests * 1e6


def _make_key(app: KmsdApp, access_key: AccessKey) -> KeyFixture:
    create = sign_kms_request(ENDPOINT, access_key, "CreateKey", {})
    answer = asyncio.run(call_once(app, asgi_scope(create), create.body))
    key_id = json.loads(answer.body)["KeyMetadata"]["KeyId"]
    encrypt = sign_kms_request(ENDPOINT, access_key, "Encrypt", params_for("Encrypt", KeyFixture(key_id, b"")))
    answer = asyncio.run(call_once(app, asgi_scope(encrypt), encrypt.body))
    check_answer("kmsd", "Encrypt", answer.status, answer.body)
    return KeyFixture(key_id, base64.b64decode(json.loads(answer.body)["CiphertextBlob"]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--operations", default="Encrypt", help=f"comma-separated subset of {','.join(OPERATIONS)}")
    parser.add_argument("--requests", type=int, default=5000, help="requests per round (default: 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the median is printed (default: 5)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one round instead")
    parser.add_argument("--cpu", action="store_true", help="measure this process's CPU time instead of wall time")
    parser.add_argument("--limit", type=int, default=30, help="functions shown with --profile (default: 30)")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key with --profile (default: tottime)")
    args = parser.parse_args(argv)
    operations = [name for name in args.operations.split(",") if name]
    unknown = set(operations) - set(OPERATIONS)
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")

    with tempfile.TemporaryDirectory(prefix="kmsd-profile-") as scratch:
        parts = open_parts(f"sqlite:///{Path(scratch) / 'kmsd.db'}")
        try:
            credentials = parts.accounts.initialise_default()
            assert credentials is not None, "a fresh store has no default account yet"
            access_key = AccessKey(credentials.access_key_id, credentials.secret_access_key)
            app = build_app(parts, False, RequestOptions(), None)
            key = _make_key(app, access_key)
            for operation in operations:
                request = sign_kms_request(ENDPOINT, access_key, operation, params_for(operation, key))
                scope = asgi_scope(request)
                first = asyncio.run(call_once(app, scope, request.body))
                check_answer("kmsd", operation, first.status, first.body)
                if args.profile:
                    profiler = cProfile.Profile()
                    profiler.enable()
                    asyncio.run(timed_round(app, scope, request.body, args.requests))
                    profiler.disable()
                    print(f"\n{operation}: cProfile of {args.requests} requests")
                    pstats.Stats(profiler, stream=sys.stdout).sort_stats(args.sort).print_stats(args.limit)
                    continue
                clock = time.process_time if args.cpu else time.perf_counter
                rounds = [
                    asyncio.run(timed_round(app, scope, request.body, args.requests, clock)) for _ in range(args.rounds)
                ]
                unit = "µs of CPU" if args.cpu else "µs"
                print(
                    f"{operation:<16} {statistics.median(rounds):7.1f} {unit}/request (median of {args.rounds} rounds "
                    f"of {args.requests}; min {min(rounds):.1f}, max {max(rounds):.1f})",
                    flush=True,
                )
        finally:
            parts.store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
