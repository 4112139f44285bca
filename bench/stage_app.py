"""kmsd's app cut short after authentication: the benchmark's measure of where kmsd's time goes.

``SigV4OnlyApp`` is :class:`~kmsd.api.app.KmsdApp` itself, built from the same
parts as ``kmsd serve`` (``kmsd.server``'s own functions, same store), with one
change: a KMS request that has been read, routed, parsed for SigV4, resolved to
a caller and verified is answered with the ceiling's fixed body
(``echo_app.RESPONSE_BODY``) instead of being decoded, validated, authorized,
encrypted and encoded.  Served on the ceiling's uvicorn options, its CPU time
per request splits kmsd's cost in two: ceiling → this app is what reading and
authenticating a request costs, this app → kmsd is what the KMS work costs
(JSON 1.1 decoding and model validation, authorization, the key, AES-GCM, the
response).  ``bench/run.py`` starts it as
``uvicorn --factory stage_app:create_app`` with the store URL in
``KMSD_BENCH_STORE``; it is a measuring instrument, never a server to use.
"""

from __future__ import annotations

from echo_app import RESPONSE_BODY
from granian_app import build_app
from kmsd.api.app import KmsdApp
from kmsd.audit.call_record import CallRecord


class SigV4OnlyApp(KmsdApp):
    """Everything up to and including SigV4 verification; a fixed answer instead of the KMS call."""

    def _kms_call(
        self, record: CallRecord, target: str | None, body: bytes, via_service: str | None, *, inline: bool = False
    ) -> bytes:
        # The signature is KmsdApp._kms_call's: _kms calls it with inline=True for calls run on the event loop.
        return RESPONSE_BODY


def create_app() -> SigV4OnlyApp:
    return build_app(SigV4OnlyApp)
