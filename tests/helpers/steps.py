"""The request ids of a scenario's boto3 calls by step name, so that a test can find each call's audit record."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError


class Steps:
    """A mixin for a scenario's dataclass, which declares ``requests`` (step -> request id) and ``errors`` (step ->
    the AWS error of a step that failed: ``Code`` and ``Message``)."""

    requests: dict[str, str]
    errors: dict[str, dict[str, str]]

    def did(self, step: str, response: dict[str, Any]) -> dict[str, Any]:
        """Note the request id of a call that succeeded; its answer, as boto3 gave it."""
        self.requests[step] = response["ResponseMetadata"]["RequestId"]
        return response

    def failed(self, step: str, call: Any, **params: Any) -> str:
        """Make a call that must fail, noting its request id and error; the error's code."""
        with pytest.raises(ClientError) as raised:
            call(**params)
        self.requests[step] = raised.value.response["ResponseMetadata"]["RequestId"]
        self.errors[step] = dict(raised.value.response["Error"])
        return str(raised.value.response["Error"]["Code"])
