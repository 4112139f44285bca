"""The two formats of kmsd's log lines: any record (an error with its traceback included) as one JSON object or one
text line.  The request lines themselves are tested through a real server (tests/integration/test_ops_logs.py)."""

from __future__ import annotations

import json
import logging
import sys

from kmsd.api.request_log import JsonFormatter, TextFormatter


def _error_record() -> logging.LogRecord:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    return logging.LogRecord("kmsd.api", logging.ERROR, __file__, 1, "internal error in %s", ("Encrypt",), exc_info)


def test_an_error_with_its_traceback_is_one_json_object() -> None:
    line = JsonFormatter().format(_error_record())
    assert "\n" not in line
    entry = json.loads(line)
    assert set(entry) == {"time", "level", "logger", "message", "exception"}
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "kmsd.api", "internal error in Encrypt")
    assert entry["exception"].startswith("Traceback") and entry["exception"].endswith("RuntimeError: boom")


def test_text_lines_quote_values_that_would_break_the_line() -> None:
    record = logging.LogRecord("kmsd.requests", logging.INFO, __file__, 1, "request", (), None)
    record.kmsd_request = {
        "request_id": "r-1",
        "time": "2026-12-06T20:51:55.813Z",
        "operation": None,
        "caller_arn": 'arn:aws:iam::111122223333:user/a b"c',
        "source_ip": "10.0.0.1\nforged=line",
    }
    line = TextFormatter().format(record)
    assert "\n" not in line
    assert line == (
        "2026-12-06T20:51:55.813Z INFO kmsd.requests request_id=r-1 operation=- "
        'caller_arn="arn:aws:iam::111122223333:user/a b\\"c" source_ip="10.0.0.1\\nforged=line"'
    )
