"""Several sinks seen as one: every batch of events goes to each sink in turn (the store, a JSON-lines file)."""

from __future__ import annotations

from collections.abc import Sequence

from kmsd.audit.event import AuditEvent, AuditSink


class FanOut:
    def __init__(self, sinks: Sequence[AuditSink]) -> None:
        self.sinks = tuple(sinks)

    def record(self, events: Sequence[AuditEvent], *, durable: bool) -> None:
        # In order: the store first, when it is one of them, so a durable event is in the trail before the file.
        for sink in self.sinks:
            sink.record(events, durable=durable)
