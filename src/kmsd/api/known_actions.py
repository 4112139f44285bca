"""The IAM actions of the services kmsd speaks, read from the botocore models it vendors.

``kmsd policy check`` warns about actions that do not exist
(:mod:`kmsd.policy.action_names`).  An action is, with a few exceptions, an
API operation of the service (the Service Authorization Reference lists them
per service), so the operation names in ``kmsd/api/models/*.json`` are the
list; the exceptions are written out below, each a documented action with no
operation of its own (or an operation authorized by other actions).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

SERVICES = ("kms", "iam", "sts")

# Service Authorization Reference: actions that are permissions only, with no API operation of that name.
_PERMISSION_ONLY = {
    # "AWS KMS permissions": ReEncrypt is authorized by ReEncryptFrom on the source key and ReEncryptTo on the
    # destination; SynchronizeMultiRegionKey is KMS's own action for replica keys.
    "kms": ("ReEncryptFrom", "ReEncryptTo", "SynchronizeMultiRegionKey"),
    "iam": ("PassRole",),
    # "Passing session tags", "Monitor and control actions taken with assumed roles", "Set context".
    "sts": ("TagSession", "SetSourceIdentity", "SetContext"),
}
# Operations that are not actions themselves (see _PERMISSION_ONLY).
_NOT_ACTIONS = {"kms": ("ReEncrypt",)}


@cache
def known_actions() -> dict[str, frozenset[str]]:
    """Service prefix → the action names of that service."""
    models = resources.files("kmsd.api").joinpath("models")
    actions: dict[str, frozenset[str]] = {}
    for service in SERVICES:
        operations = set(json.loads(models.joinpath(f"{service}.json").read_text("utf-8"))["operations"])
        operations.difference_update(_NOT_ACTIONS.get(service, ()))
        actions[service] = frozenset(operations | set(_PERMISSION_ONLY.get(service, ())))
    return actions
