"""The refusals for a key used outside what it is for: the wrong KeyUsage for the operation, or an algorithm its
key spec does not list.

Every cryptographic operation makes these two checks (Encrypt and its kin with
ENCRYPT_DECRYPT, Sign/Verify with SIGN_VERIFY, GenerateMac/VerifyMac with
GENERATE_VERIFY_MAC, DeriveSharedSecret with KEY_AGREEMENT, Encapsulate and
Decapsulate with ENCAPSULATE_DECAPSULATE), and AWS words each refusal the same
way for all of them, so they live here once: both are
``InvalidKeyUsageException``, naming the key's usage and the operation
("<arn> key usage is SIGN_VERIFY which is not valid for Encrypt.") or the
algorithm and the key spec ("Algorithm X is incompatible with key spec Y.").
"""

from __future__ import annotations

from collections.abc import Container

from kmsd.errors import AwsError
from kmsd.store.models import KeyRecord


def require_usage(key: KeyRecord, usage: str, operation: str) -> None:
    """Refuse ``operation`` on a key whose KeyUsage is not ``usage``."""
    if key.key_usage != usage:
        raise AwsError(
            "InvalidKeyUsageException", f"{key.arn} key usage is {key.key_usage} which is not valid for {operation}."
        )


def require_algorithm(key: KeyRecord, algorithm: str, supported: Container[str]) -> None:
    """Refuse an ``algorithm`` that is not among those the key's spec ``supported``."""
    if algorithm not in supported:
        raise AwsError(
            "InvalidKeyUsageException", f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}."
        )
