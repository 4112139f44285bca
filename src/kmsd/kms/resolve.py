"""Turning a ``KeyId`` request member into the key it names, with AWS's errors when it names none.

KMS knows four spellings of a key: the key id (a UUID), the key ARN, an alias
name (``alias/x``) and an alias ARN; which of them an operation accepts is
checked before it resolves anything (:mod:`kmsd.kms.key_id_forms`).
Without an ARN the key is looked up in the caller's own account and region;
an ARN may name another account (the authorizer decides whether the caller
may use it) but must name the caller's region, because a KMS key lives in one
region only.  A key whose deletion window has ended is gone on first sight,
even if the periodic sweep has not run yet.

The resolve phase of a call (:mod:`kmsd.kms.service`) runs each
operation's resolver, which uses these lookups and returns a
:class:`Resolved`: the keys the request names, each under the role it plays
(``target``: the key, ReEncrypt's source or destination, an alias's current
or new key) with the alias name the request used for it, and whatever else it
found on the way (the alias, the decoded ciphertext blob, the request with
its principals resolved).  Resolving writes nothing: a key whose deletion
window has ended is reported with :class:`~kmsd.kms.expiry.KeyDeleted`, and
the service purges it.  A key of another account is only reachable by ARN,
and only for the operations AWS allows across accounts ("Cross-account use:
Yes"); the others report it as not existing in the caller's own account.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from kmsd.authz.authorizer import NamedKey
from kmsd.authz.permissions import Target
from kmsd.crypto import CiphertextBlob
from kmsd.errors import AwsError, invalid_arn, invalid_ciphertext, not_found
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.expiry import KeyDeleted, deletion_window_ended, refuse_if_material_expired
from kmsd.kms.key_states import require_state
from kmsd.store.models import AliasRecord, KeyRecord

# A key id is a UUID, or "mrk-" and 32 hex digits for a multi-Region key ("Multi-Region key identifiers").
_KEY_ID = re.compile(
    r"^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|mrk-[0-9a-fA-F]{32})$"
)
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b"})
_NO_KEYS: Mapping[Target, NamedKey] = MappingProxyType({})
_NO_PRINCIPALS: Mapping[str, str | None] = MappingProxyType({})


class Resolved(NamedTuple):
    """What the resolve phase found for one call, handed to the decision and then to the handler.

    ``keys`` are the keys the request names, by the role they play; the
    handler can reach a key only through :meth:`key`, so a key that was not
    resolved (and so not authorized) cannot be acted on.  ``params`` is the
    request as resolved (CreateGrant: its principals as the stored ARNs);
    ``alias`` is the alias an alias operation names, when it exists; ``blob``
    the ciphertext blob, when resolving needed to decode it.  A named tuple
    rather than a dataclass: one is built per call.
    """

    params: Mapping[str, Any]
    keys: Mapping[Target, NamedKey] = _NO_KEYS
    alias: AliasRecord | None = None
    blob: CiphertextBlob | None = None
    # The AWS service the call came through (kms:ViaService), for the question the handler asks the
    # authorizer itself: the lockout safety check of CreateKey and PutKeyPolicy.  Set by the service.
    via_service: str | None = None
    # CreateGrant: each principal member -> the stored ARN of the entity it names, or None if it names none.
    principals: Mapping[str, str | None] = _NO_PRINCIPALS

    def key(self, target: Target = Target.KEY) -> KeyRecord:
        """The key resolved as ``target``; fail closed when the resolver did not resolve one."""
        named = self.keys.get(target)
        if named is None:
            raise AwsError("KMSInternalException", "", 500)
        return named.key

    def maybe_key(self, target: Target = Target.KEY) -> KeyRecord | None:
        """The key resolved as ``target``, for members that may name none (ListAliases' KeyId)."""
        named = self.keys.get(target)
        return None if named is None else named.key


@dataclass(frozen=True)
class KeyReference:
    """A parsed ``KeyId``: exactly one of ``key_id`` and ``alias_name`` is set."""

    account_id: str
    region: str
    key_id: str | None = None
    alias_name: str | None = None

    @property
    def arn(self) -> str:
        resource = f"key/{self.key_id}" if self.key_id is not None else str(self.alias_name)
        return f"arn:aws:kms:{self.region}:{self.account_id}:{resource}"


def is_key_id(value: str) -> bool:
    return _KEY_ID.match(value) is not None


def parse_key_reference(caller: Caller, key_id: str) -> KeyReference:
    """Parse the four spellings of ``KeyId``; the account and region default to the caller's."""
    if key_id.startswith("arn:"):
        return _parse_arn(caller, key_id)
    account, region = caller.principal.account_id, caller.region
    if key_id.startswith("alias/"):
        return KeyReference(account, region, alias_name=key_id)
    if not is_key_id(key_id):
        # AWS answers a KeyId that is neither a UUID, an ARN nor an alias with NotFoundException.
        raise not_found(f"Invalid keyId '{key_id}'")
    return KeyReference(account, region, key_id=key_id.lower())


def _parse_arn(caller: Caller, arn: str) -> KeyReference:
    parts = arn.split(":", 5)
    if (
        len(parts) != 6
        or parts[1] not in _PARTITIONS
        or parts[2] != "kms"
        or _REGION.match(parts[3]) is None
        or _ACCOUNT_ID.match(parts[4]) is None
    ):
        raise invalid_arn(f"Invalid arn {arn}")
    region, account, resource = parts[3], parts[4], parts[5]
    if resource.startswith("key/") and is_key_id(resource[4:]):
        reference = KeyReference(account, region, key_id=resource[4:].lower())
    elif resource.startswith("alias/") and len(resource) > len("alias/"):
        reference = KeyReference(account, region, alias_name=resource)
    else:
        raise invalid_arn(f"Invalid arn {arn}")
    if region != caller.region:
        # A KMS key is a regional resource: a request in one region never reaches a key in another.
        raise not_found(f"Invalid arn {region}")
    return reference


def find_key(ctx: KmsContext, caller: Caller, key_id: str) -> NamedKey:
    """The key ``key_id`` names, in any state, and the alias name it used; NotFoundException when there is none.

    ``kms:RequestAlias``: "the value of the KeyId parameter in the request must be a matching alias name
    or alias ARN"; the condition value is the alias name either way.
    """
    key, alias_name = _lookup(ctx, caller, key_id)
    return NamedKey(key, alias_name)


def find_own_key(ctx: KmsContext, caller: Caller, key_id: str) -> NamedKey:
    """Like :func:`find_key`, for operations AWS marks "Cross-account use: No".

    A key of another account is reported as not existing in the caller's
    account, so those operations neither act on nor reveal other accounts' keys.
    """
    key, alias_name = _lookup(ctx, caller, key_id)
    if key.account_id != caller.principal.account_id:
        own = KeyReference(caller.principal.account_id, caller.region, key_id=key.key_id)
        raise not_found(f"Key '{own.arn}' does not exist")
    return NamedKey(key, alias_name)


def _lookup(ctx: KmsContext, caller: Caller, key_id: str) -> tuple[KeyRecord, str | None]:
    """The key ``key_id`` names and the alias name it used, if any."""
    if _KEY_ID.match(key_id) is not None:
        # A bare key id (what SDKs send most): the caller's own account and region, no alias, so the
        # KeyReference objects of the general path are not needed to say so.
        key = ctx.store.get_key(key_id.lower(), caller.region)
        if key is None or key.account_id != caller.principal.account_id:
            own = f"arn:aws:kms:{caller.region}:{caller.principal.account_id}:key/{key_id.lower()}"
            raise not_found(f"Key '{own}' does not exist")
        _refuse_if_deletion_ended(ctx, key)
        return key, None
    reference = parse_key_reference(caller, key_id)
    if reference.alias_name is not None:
        alias = ctx.store.get_alias(reference.account_id, reference.region, reference.alias_name)
        if alias is None:
            raise not_found(f"Alias {reference.arn} is not found.")
        target_reference = KeyReference(reference.account_id, reference.region, key_id=alias.target_key_id)
        key = ctx.store.get_key(alias.target_key_id, alias.region)
    else:
        target_reference = reference
        key = ctx.store.get_key(str(reference.key_id), reference.region)
    if key is None or key.account_id != target_reference.account_id:
        raise not_found(f"Key '{target_reference.arn}' does not exist")
    _refuse_if_deletion_ended(ctx, key)
    return key, reference.alias_name


def _refuse_if_deletion_ended(ctx: KmsContext, key: KeyRecord) -> None:
    """A key whose deletion window has ended no longer exists: :class:`KeyDeleted`, which the service purges."""
    # Only a key pending deletion has a window to end: the others need not read the clock.
    if key.key_state == "PendingDeletion" and deletion_window_ended(key, ctx.clock.now()):
        raise KeyDeleted(key)
    refuse_if_material_expired(ctx, key)


def find_key_for_ciphertext(ctx: KmsContext, caller: Caller, key_id: str) -> NamedKey:
    """The key a ciphertext blob names (Decrypt and ReEncrypt without a key id), in any account of the region.

    A blob whose key is not here (never was, deleted, another region) cannot be decrypted, and the
    answer does not say why: InvalidCiphertextException.
    """
    key = ctx.store.get_key(key_id, caller.region)
    if key is None:
        raise invalid_ciphertext()
    if key.key_state == "PendingDeletion" and deletion_window_ended(key, ctx.clock.now()):
        raise KeyDeleted(key, invalid_ciphertext())
    refuse_if_material_expired(ctx, key)
    return NamedKey(key)


def find_alias_key(ctx: KmsContext, alias: AliasRecord) -> NamedKey | None:
    """The key an alias points at now (DeleteAlias, UpdateAlias); None if it is gone."""
    key = ctx.store.get_key(alias.target_key_id, alias.region)
    return None if key is None else NamedKey(key)


def require_enabled(key: KeyRecord) -> None:
    """For cryptographic operations: the key must be Enabled (AWS "Key states of AWS KMS keys").

    DisabledException "<key ARN> is disabled." for a disabled key,
    KMSInvalidStateException "<key ARN> is pending deletion." for a key pending deletion.
    """
    require_state("Encrypt", key)


def key_of(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The resolver of most operations: the key ``KeyId`` names, in any account (cross-account operations)."""
    return Resolved(params, {Target.KEY: find_key(ctx, caller, str(params["KeyId"]))})


def own_key_of(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The resolver of the operations on a key of the caller's own account ("Cross-account use: No")."""
    return Resolved(params, {Target.KEY: find_own_key(ctx, caller, str(params["KeyId"]))})


def nothing(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The resolver of the operations that name no key (CreateKey aside: ListKeys, GenerateRandom, ...)."""
    return Resolved(params)
