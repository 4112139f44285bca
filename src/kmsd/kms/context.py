"""What every KMS operation handler works with: store, root key, time, randomness, key material, authorizer, tokens.

:class:`KmsContext` is built once by :class:`kmsd.kms.service.KmsService` and
passed to each handler, so handlers take their dependencies as arguments
instead of reaching for globals, and tests control time and randomness by
building the context with a ``ManualClock`` and a ``SeededRandomSource``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kmsd.crypto.attestation import TrustRoot

if TYPE_CHECKING:
    from kmsd.authz.authorizer import KmsAuthorizer
    from kmsd.clock import Clock
    from kmsd.crypto import RandomSource, RootKey
    from kmsd.hsm import TokenDirectory
    from kmsd.kms.materials import KeyMaterials
    from kmsd.store.base import Store


@dataclass
class KmsContext:
    store: Store
    root_key: RootKey
    clock: Clock
    rng: RandomSource
    materials: KeyMaterials
    authorizer: KmsAuthorizer
    tokens: TokenDirectory  # the PKCS#11 tokens of custom key stores this process has logged in to
    # The root that Recipient's attestation documents must chain to (kmsd serve --attestation-root).
    attestation_root: TrustRoot = field(default_factory=TrustRoot.aws_nitro_enclaves)
    # Whether this server answers for a Region (ReplicateKey's ReplicaRegion); the API sets it from
    # ``kmsd serve --regions``.  Without it every Region name the model's pattern accepts is served.
    serves_region: Callable[[str], bool] = field(default=lambda region: True)
