"""Request ids as AWS writes them: a fresh random UUID (version 4) per request.

An id built from a counter would tell any caller how many requests the server has answered between two of its
own (issue 9, item 19), so every id is 122 bits from the operating system's CSPRNG (:func:`kmsd.uuids.random_uuid`).
"""

from __future__ import annotations

from kmsd.uuids import random_uuid

new_request_id = random_uuid
