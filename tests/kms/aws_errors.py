"""``aws_error(code, message)``: assert that a block raises AWS's error with exactly that code and message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kmsd.errors import AwsError


@contextmanager
def aws_error(code: str, message: str | None = None) -> Iterator[None]:
    with pytest.raises(AwsError) as raised:
        yield
    assert raised.value.code == code, raised.value
    if message is not None:
        assert raised.value.message == message
