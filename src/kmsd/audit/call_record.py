"""One API call as it happened, handed to the app's observers (the audit trail, metrics, the request log).

The app fills a :class:`CallRecord` as the request walks the pipeline: when
it arrived, who signed it (once SigV4 verified), the service and operation,
the decoded parameters, the response elements or the AWS error, and the
:class:`~kmsd.call_notes.CallNotes` the services took (resources, decisions).
When the call is over, and before its response is sent, every
:class:`CallObserver` sees the record once, on the thread that ran the call:
the store-call thread for a call that writes, so an observer that must make
the call's record durable before the answer (the audit trail) may write to the
store there.  A request refused before it reached a service (a bad signature,
a body too large) has no caller and no operation; observers still see it.

The record holds the call's secrets (plaintexts in ``params``, data keys in
``result``): an observer keeps only what it has made safe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from kmsd.call_notes import CallNotes
from kmsd.errors import AwsError
from kmsd.iam.principal import Caller


@dataclass
class CallRecord:
    request_id: str
    event_time: datetime  # when the request arrived, by the server's clock (CloudTrail's eventTime)
    started: float  # time.perf_counter() when the request arrived, for latency
    source_ip: str  # the caller's address (aws:SourceIp), known before the caller is
    user_agent: str
    service: str = ""  # "kms", "iam", "sts", ...; "" when the request never reached a service
    operation: str | None = None
    caller: Caller | None = None  # None when SigV4 did not verify
    params: Mapping[str, Any] | None = None  # the decoded, validated parameters
    result: Mapping[str, Any] | None = None  # the response elements, before encoding
    error: AwsError | None = None
    writes: bool = False  # the operation changes state (its event is stored before the answer)
    notes: CallNotes = field(default_factory=CallNotes)

    @property
    def status(self) -> int:
        """The HTTP status of the answer."""
        return self.error.status if self.error is not None else 200


class CallObserver(Protocol):
    def call_finished(self, record: CallRecord) -> None:
        """See one finished call, before its answer is sent; must not raise, and must not keep secrets."""
