"""Keeping the password of a store URL out of messages and logs.

Its own module, not :mod:`kmsd.store.urls`: the PostgreSQL store needs it too, and ``urls`` imports that store.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

# A URL's password: after the user name (``scheme://user:password@host``) or as libpq's ``password`` parameter.
# Up to the first ``@`` whatever it holds: a ``/`` the user forgot to escape must not end the password early
# (at worst, a URL without a password but with ``@`` further on loses its host in messages).
_USER_PASSWORD = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*:)([^@]*)@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)([^&#]*)")


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return _QUERY_PASSWORD.sub(r"\1***", _USER_PASSWORD.sub(r"\1***@", url, count=1))


def without_password(text: str, url: str) -> str:
    """``text`` with the password of ``url``, as written and percent-decoded, replaced by ``***``.

    For a driver's message about the URL: libpq quotes the part of a URL it cannot read, the password included.
    """
    for pattern in (_USER_PASSWORD, _QUERY_PASSWORD):
        for match in pattern.finditer(url):
            password = match.group(2)
            for form in sorted({password, unquote(password)} - {""}, key=len, reverse=True):
                text = text.replace(form, "***")
    return text
