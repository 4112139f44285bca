"""What every IAM and STS operation handler works with: the store, the root key, time and randomness.

:class:`IamContext` is built once by :class:`kmsd.iam.service.IamService` (and
by the STS service) and handed to each handler, so handlers take their
dependencies as arguments instead of reaching for globals, and tests control
time and randomness by building it with a ``ManualClock`` and a
``SeededRandomSource``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kmsd.clock import Clock
    from kmsd.crypto import RandomSource, RootKey
    from kmsd.iam.key_simulation import KeySimulator
    from kmsd.store.base import Store


@dataclass
class IamContext:
    store: Store
    root_key: RootKey
    clock: Clock
    rng: RandomSource
    # KMS-aware policy simulation, injected by the composition root (iam/ cannot import authz/).
    key_simulator: KeySimulator | None = None
