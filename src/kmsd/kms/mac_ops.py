"""The operations of HMAC keys: GenerateMac and VerifyMac.

Run by :mod:`kmsd.kms.service` after the key is resolved (``key_of``: both
work across accounts) and the call decided.  The handler checks the key's
state, its usage (GENERATE_VERIFY_MAC) and the MacAlgorithm against the key's
spec, answers DryRun, then unwraps the key's material (afresh each call) and
computes or checks the MAC with :mod:`kmsd.crypto.mac`.  Messages are at most
4096 bytes, which botocore's model (checked by the API layer) enforces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kmsd.crypto import CryptoError
from kmsd.crypto.key_spec import GENERATE_VERIFY_MAC, key_spec
from kmsd.crypto.mac import generate_mac as compute_mac
from kmsd.crypto.mac import verify_mac as check_mac
from kmsd.errors import AwsError, internal
from kmsd.iam.principal import Caller
from kmsd.kms.asymmetric_ops import answer_dry_run
from kmsd.kms.context import KmsContext
from kmsd.kms.key_checks import require_algorithm, require_usage
from kmsd.kms.key_states import require_state
from kmsd.kms.resolve import Resolved
from kmsd.store.models import KeyRecord


def generate_mac(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key, algorithm = _mac_request(resolved.key(), params, "GenerateMac")
    answer_dry_run(params)
    mac = compute_mac(_material(ctx, key), algorithm, params["Message"])
    return {"Mac": mac, "MacAlgorithm": algorithm, "KeyId": key.arn}


def verify_mac(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key, algorithm = _mac_request(resolved.key(), params, "VerifyMac")
    answer_dry_run(params)
    try:
        check_mac(_material(ctx, key), algorithm, params["Message"], params["Mac"])
    except CryptoError:
        # VerifyMac API reference: "If the HMAC does not verify, the VerifyMac operation fails with a
        # KMSInvalidMacException exception."
        raise AwsError("KMSInvalidMacException") from None
    return {"KeyId": key.arn, "MacValid": True, "MacAlgorithm": algorithm}


def _mac_request(key: KeyRecord, params: Mapping[str, Any], operation: str) -> tuple[KeyRecord, str]:
    require_state(operation, key)
    require_usage(key, GENERATE_VERIFY_MAC, operation)
    algorithm = str(params["MacAlgorithm"])
    require_algorithm(key, algorithm, key_spec(key.key_spec).mac_algorithms)
    return key, algorithm


def _material(ctx: KmsContext, key: KeyRecord) -> bytes:
    try:
        return ctx.materials.plaintext(key.key_id, key.current_material_version)
    except CryptoError:
        raise internal() from None
