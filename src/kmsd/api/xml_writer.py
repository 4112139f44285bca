"""XML documents of AWS's query protocol: a result shaped by the output shape, and the ``ErrorResponse``.

A success is ``<OpResponse xmlns=NS><OpResult>members</OpResult><ResponseMetadata>
<RequestId>..</RequestId></ResponseMetadata></OpResponse>`` (the result
element is the operation's ``resultWrapper`` in botocore's model and is left
out for operations without output).  Members follow the output shape: lists
are ``<member>`` elements, maps ``<entry><key/><value/></entry>``, timestamps
ISO 8601 in UTC with ``Z``, booleans ``true``/``false``, blobs base64.  Text
is XML-escaped, and characters XML 1.0 cannot carry become U+FFFD, so no value
can break the document.  (Policy documents, which IAM sends URL-encoded, arrive
here already encoded by the IAM handlers: see ``kmsd.iam.documents``.)
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from kmsd.api.shapes import ServiceModel

_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape(text: str) -> str:
    """``text`` as XML character data (also safe inside an attribute value)."""
    text = _NOT_XML_CHAR.sub("\ufffd", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        # A raw CR would be normalised to LF by the reader.
        .replace("\r", "&#13;")
    )


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC as AWS writes it: ``2024-05-01T12:00:00Z``, with milliseconds when there are any."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond // 1000:03d}"
    return text + "Z"


class XmlWriter:
    """Writes one service's results and errors; the namespace is the model's ``xmlNamespace``."""

    def __init__(self, model: ServiceModel) -> None:
        self._model = model
        self.namespace = str(model.metadata["xmlNamespace"])

    def result(self, operation: str, result: Mapping[str, Any], request_id: str) -> bytes:
        out = [f'<{operation}Response xmlns="{escape(self.namespace)}">']
        output = self._model.operations[operation].get("output")
        if output is not None:
            wrapper = output.get("resultWrapper", f"{operation}Result")
            out.append(f"<{wrapper}>")
            self._members(out, output["shape"], result)
            out.append(f"</{wrapper}>")
        out.append(f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>")
        out.append(f"</{operation}Response>")
        return "".join(out).encode("utf-8")

    def error(self, code: str, message: str, status: int, request_id: str) -> bytes:
        # "Sender" for the caller's faults (4xx), "Receiver" for the service's own (5xx).
        fault = "Receiver" if status >= 500 else "Sender"
        return (
            f'<ErrorResponse xmlns="{escape(self.namespace)}"><Error><Type>{fault}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
        ).encode()

    # --- shapes ---------------------------------------------------------------
    def _members(self, out: list[str], shape_name: str, value: Mapping[str, Any]) -> None:
        members: Mapping[str, Any] = self._model.shapes[shape_name].get("members", {})
        for name, member in members.items():
            item = value.get(name)
            if item is not None:
                self._element(out, member.get("locationName", name), member["shape"], item)

    def _element(self, out: list[str], name: str, shape_name: str, value: Any) -> None:
        shape = self._model.shapes[shape_name]
        kind = shape["type"]
        if kind == "structure":
            out.append(f"<{name}>")
            self._members(out, shape_name, value)
            out.append(f"</{name}>")
        elif kind == "list":
            member = shape["member"]
            out.append(f"<{name}>")
            for item in value:
                self._element(out, member.get("locationName", "member"), member["shape"], item)
            out.append(f"</{name}>")
        elif kind == "map":
            key_name = shape["key"].get("locationName", "key")
            value_name = shape["value"].get("locationName", "value")
            out.append(f"<{name}>")
            for key, item in value.items():
                out.append("<entry>")
                self._element(out, key_name, shape["key"]["shape"], key)
                self._element(out, value_name, shape["value"]["shape"], item)
                out.append("</entry>")
            out.append(f"</{name}>")
        else:
            out.append(f"<{name}>{escape(self._scalar(shape_name, kind, value))}</{name}>")

    @staticmethod
    def _scalar(shape_name: str, kind: str, value: Any) -> str:
        if kind == "boolean":
            return "true" if value else "false"
        if kind in ("integer", "long"):
            return str(int(value))
        if kind == "timestamp":
            if not isinstance(value, datetime):
                raise TypeError(f"timestamp member {shape_name} needs a datetime, not {type(value).__name__}")
            return format_timestamp(value)
        if kind == "blob":
            return base64.b64encode(bytes(value)).decode("ascii")
        return str(value)
