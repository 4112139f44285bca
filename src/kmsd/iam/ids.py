"""AWS's IAM identifiers: unique ids (``AIDA…``, ``AGPA…``, ``AROA…``, ``ANPA…``) and paths.

Unique ids follow the format of the "IAM identifiers" page: a four-character
prefix naming the kind of entity, then characters of the upper-case base32
alphabet (``A``-``Z``, ``2``-``7``), 21 characters in all.  Paths are the
``/division/team/`` prefixes of users, groups, roles and policies; the same
page and the API reference (``pathType``) define their pattern and length.
"""

from __future__ import annotations

import re

from kmsd.crypto import RandomSource
from kmsd.errors import AwsError

USER_ID_PREFIX = "AIDA"
GROUP_ID_PREFIX = "AGPA"
ROLE_ID_PREFIX = "AROA"
POLICY_ID_PREFIX = "ANPA"
ACCESS_KEY_ID_PREFIX = "AKIA"
SESSION_KEY_ID_PREFIX = "ASIA"

# "IAM identifiers" → Unique identifiers: e.g. AIDAJQABLZS4A3QDU576Q — the prefix plus 17 characters.
UNIQUE_ID_SUFFIX_LENGTH = 17
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

# IAM API reference, pathType: "(\u002F)|(\u002F[\u0021-\u007E]+\u002F)", length 1..512.
MAX_PATH_LENGTH = 512
_PATH = re.compile(r"(/)|(/[\u0021-\u007E]+/)")


def new_unique_id(rng: RandomSource, prefix: str) -> str:
    """A new unique id: ``prefix`` followed by 17 base32 characters drawn from ``rng``."""
    return prefix + "".join(_ALPHABET[b % 32] for b in rng.bytes(UNIQUE_ID_SUFFIX_LENGTH))


def validate_path(path: str, member: str = "path") -> None:
    """Refuse a path that is not AWS's ``pathType`` with IAM's ``ValidationError`` wording.

    The API layer checks the model's pattern first; this keeps the rule true for
    any caller of the handlers.  ``member`` is the request member named in the
    message (``path``, ``newPath``).
    """
    if len(path) > MAX_PATH_LENGTH:
        raise AwsError(
            "ValidationError",
            f"1 validation error detected: Value at '{member}' failed to satisfy constraint: "
            f"Member must have length less than or equal to {MAX_PATH_LENGTH}",
            400,
        )
    if _PATH.fullmatch(path) is None:
        raise AwsError(
            "ValidationError",
            f"The specified value for {member} is invalid. It must begin and end with / and contain only "
            "alphanumeric characters and/or / characters.",
            400,
        )


def path_matches(path: str, prefix: str) -> bool:
    """Whether an entity with ``path`` is listed for ``PathPrefix=prefix`` (plain string prefix, as AWS does)."""
    return path.startswith(prefix)
