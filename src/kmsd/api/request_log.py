"""The request log (one line per API request, logger ``kmsd.requests``) and the two formats of every kmsd log line.

:class:`RequestLog` is a :class:`~kmsd.audit.call_record.CallObserver`: at level INFO it logs each finished
call once, with its request id, arrival time, service, operation, HTTP status, AWS error code, caller ARN and
access key id, source IP and latency.  Nothing else of the call: no parameters, no result, no error message
(messages may quote what the caller sent), so no plaintext, data key, secret or token can reach a log.  The
operation is logged only when the service's model names it (else ``null``), never the raw target a caller
sent.  Below INFO (the default level, ``warning``) the observer returns at once, so serving pays one level
check per call.

``kmsd serve --log-format json`` writes every line of the process as one JSON object -- the request lines,
kmsd's own warnings and errors (``log.exception`` with its traceback as a ``exception`` member) and
uvicorn's -- and ``text`` as ``TIME LEVEL LOGGER message``, the request line's fields as ``key=value``.
Both go to stderr; uvicorn's own access log stays off (kmsd.server), as this log replaces it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from time import perf_counter
from typing import Any, Literal

from kmsd.audit.call_record import CallRecord

REQUEST_LOGGER = "kmsd.requests"
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
LogFormat = Literal["json", "text"]

# Characters that make a text-format value quoted (besides unprintable ones, which include every space but " ").
_QUOTED = frozenset(' "=\\')
# The attribute of a logging.LogRecord that carries a request line's fields to the formatters.
_FIELDS = "kmsd_request"


class RequestLog:
    """Logs each finished call once, at INFO, on ``kmsd.requests``; ``operations``: each service's operation names."""

    def __init__(self, operations: Mapping[str, frozenset[str]]) -> None:
        self._operations = operations
        self._logger = logging.getLogger(REQUEST_LOGGER)

    def call_finished(self, record: CallRecord) -> None:
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        latency = perf_counter() - record.started
        operation = record.operation
        if operation not in self._operations.get(record.service, ()):
            operation = None
        caller = record.caller
        error = record.error
        fields = {
            "request_id": record.request_id,
            "time": _timestamp(record.event_time),
            "service": record.service or None,
            "operation": operation,
            "status": record.status,
            "error_code": error.code if error is not None else None,
            "caller_arn": caller.principal.arn if caller is not None else None,
            "access_key_id": caller.principal.access_key_id if caller is not None else None,
            "source_ip": record.source_ip or None,
            "latency_ms": round(latency * 1000, 3),
        }
        logger.info("request", extra={_FIELDS: fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, then a request's fields or the ``message``."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, _FIELDS, None)
        # A request line's time is the request's arrival (its "time" field); any other line's, when it was logged.
        when = fields["time"] if fields is not None else _timestamp(datetime.fromtimestamp(record.created, UTC))
        entry: dict[str, Any] = {"time": when, "level": record.levelname, "logger": record.name}
        if fields is not None:
            entry.update(fields)
        else:
            entry["message"] = record.getMessage()
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


class TextFormatter(logging.Formatter):
    """``TIME LEVEL LOGGER message``; a request's fields as ``key=value``, values with spaces or quotes quoted."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, _FIELDS, None)
        if fields is not None:
            message = " ".join(f"{name}={_text_value(value)}" for name, value in fields.items() if name != "time")
            when = fields["time"]
        else:
            message = record.getMessage()
            when = _timestamp(datetime.fromtimestamp(record.created, UTC))
        line = f"{when} {record.levelname} {record.name} {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(log_format: LogFormat, level: str) -> None:
    """Send every log line of this process to stderr in ``log_format``, from ``level`` up (``kmsd serve``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _text_value(value: object) -> str:
    if value is None:
        return "-"
    text = str(value)
    if not text or any(not character.isprintable() or character in _QUOTED for character in text):
        return json.dumps(text)
    return text
