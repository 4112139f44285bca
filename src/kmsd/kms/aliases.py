"""Aliases: CreateAlias, UpdateAlias, DeleteAlias and ListAliases, with AWS's alias rules.

The rules ("Aliases in AWS KMS", CreateAlias API reference): a name starts
with ``alias/`` and matches ``^alias/[a-zA-Z0-9/_-]+$`` within 256
characters; ``alias/aws/`` is reserved for AWS managed keys and callers can
neither create, change nor delete such aliases; a name is unique within an
account and Region; an alias points at a customer managed key of the same
account and Region, named by key id or key ARN (never by another alias); and
UpdateAlias may only move an alias between keys of the same type and key
usage.  An alias disappears with its key when the key is deleted.  ListAliases
also lists the predefined ``alias/aws/`` aliases that have no AWS managed key
yet (:mod:`kmsd.kms.aws_managed_keys`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from kmsd.authz.authorizer import NamedKey
from kmsd.authz.permissions import Target
from kmsd.crypto.key_spec import key_spec
from kmsd.errors import AwsError, ValidationError, already_exists, constraint_violation, internal, not_found
from kmsd.iam.principal import Caller
from kmsd.kms.aws_managed_keys import predefined_alias_entries
from kmsd.kms.context import KmsContext
from kmsd.kms.expiry import purge_expired_keys
from kmsd.kms.key_states import require_state
from kmsd.kms.paging import paginate
from kmsd.kms.resolve import Resolved, find_alias_key, find_own_key, parse_key_reference
from kmsd.policy.service_rules import is_reserved_alias
from kmsd.store.models import AliasRecord, KeyRecord

ALIAS_PREFIX = "alias/"
_ALIAS_NAME = re.compile(r"^alias/[a-zA-Z0-9/_-]+$")


def _alias_name(params: Mapping[str, Any]) -> str:
    name = str(params["AliasName"])
    if not name.startswith(ALIAS_PREFIX):
        raise ValidationError(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if ":" in name:
        # The model's pattern admits ':' (for alias ARNs elsewhere); an alias name may not contain one.
        raise ValidationError(f"{name} contains invalid characters for an alias")
    if _ALIAS_NAME.match(name) is None:
        raise ValidationError(
            [
                constraint_violation(
                    name,
                    "aliasName",
                    f"Member must satisfy regular expression pattern: {_ALIAS_NAME.pattern}",
                )
            ]
        )
    return name


def _refuse_reserved(name: str) -> None:
    # "alias/aws/" names AWS managed keys; callers may not create or repoint them.
    if is_reserved_alias(name):
        raise AwsError("NotAuthorizedException", "")


def _alias_arn(caller: Caller, name: str) -> str:
    return f"arn:aws:kms:{caller.region}:{caller.principal.account_id}:{name}"


def _target_key(ctx: KmsContext, caller: Caller, target_key_id: str) -> NamedKey:
    """The key an alias is to point at: a key of the caller's account and Region, by key id or key ARN."""
    reference = parse_key_reference(caller, target_key_id)
    if reference.alias_name is not None:
        raise ValidationError("Aliases must refer to keys. Not aliases")
    return find_own_key(ctx, caller, target_key_id)


def resolve_create_alias(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    name = _alias_name(params)
    _refuse_reserved(name)
    return Resolved(params, {Target.TARGET_KEY: _target_key(ctx, caller, str(params["TargetKeyId"]))})


def create_alias(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    name = str(params["AliasName"])
    key = resolved.key(Target.TARGET_KEY)
    require_state("CreateAlias", key)
    account_id, region = caller.principal.account_id, caller.region
    if ctx.store.get_alias(account_id, region, name) is not None:
        raise already_exists(f"An alias with the name {_alias_arn(caller, name)} already exists")
    now = ctx.clock.now()
    ctx.store.insert_alias(AliasRecord(account_id, region, name, key.key_id, now, now))
    return {}


def _same_kind(current: KeyRecord, new: KeyRecord) -> bool:
    same_type = key_spec(current.key_spec).same_kind(key_spec(new.key_spec))
    return same_type and current.key_usage == new.key_usage


def resolve_update_alias(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The alias, the key it is to point at (whose state is checked at once, as AWS does) and its current key."""
    name = _alias_name(params)
    _refuse_reserved(name)
    alias = _existing_alias(ctx, caller, name)
    new_key = _target_key(ctx, caller, str(params["TargetKeyId"]))
    require_state("UpdateAlias", new_key.key)
    keys = {Target.TARGET_KEY: new_key}
    current = find_alias_key(ctx, alias)
    if current is not None:
        keys[Target.ALIAS_KEY] = current
    return Resolved(params, keys, alias)


def update_alias(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    name = str(params["AliasName"])
    alias = resolved.alias
    if alias is None:
        raise internal()
    new_key = resolved.key(Target.TARGET_KEY)
    current = resolved.maybe_key(Target.ALIAS_KEY)
    # UpdateAlias: "The current and new KMS key must be the same type ... and ... the same key usage."
    if current is not None and not _same_kind(current, new_key):
        raise ValidationError(
            f"Alias {name} is associated with a {current.key_spec} key with usage {current.key_usage}; "
            f"it cannot point at a {new_key.key_spec} key with usage {new_key.key_usage}."
        )
    ctx.store.update_alias(replace(alias, target_key_id=new_key.key_id, last_updated_date=ctx.clock.now()))
    return {}


def resolve_delete_alias(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    name = _alias_name(params)
    if is_reserved_alias(name):
        raise AwsError("KMSInvalidStateException", f"The alias {name} is a AWS managed alias and cannot be deleted.")
    alias = _existing_alias(ctx, caller, name)
    # DeleteAlias needs kms:DeleteAlias on the key the alias points at, too ("Controlling access to aliases").
    current = find_alias_key(ctx, alias)
    return Resolved(params, {} if current is None else {Target.ALIAS_KEY: current}, alias)


def delete_alias(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    ctx.store.delete_alias(caller.principal.account_id, caller.region, str(params["AliasName"]))
    return {}


def _existing_alias(ctx: KmsContext, caller: Caller, name: str) -> AliasRecord:
    alias = ctx.store.get_alias(caller.principal.account_id, caller.region, name)
    if alias is None:
        raise not_found(f"Alias {_alias_arn(caller, name)} is not found.")
    return alias


def resolve_list_aliases(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The key whose aliases to list, when ``KeyId`` names one (its own permission is on ``*``)."""
    key_id = params.get("KeyId")
    if key_id is None:
        return Resolved(params)
    if parse_key_reference(caller, str(key_id)).alias_name is not None:
        # ListAliases: KeyId is a key id or key ARN; an alias cannot filter aliases.
        raise ValidationError("Aliases must refer to keys. Not aliases")
    return Resolved(params, {Target.KEY: find_own_key(ctx, caller, str(key_id))})


def list_aliases(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    # Aliases of keys whose deletion window has ended are gone even if the sweep has not run yet.
    purge_expired_keys(ctx)
    account_id, region = caller.principal.account_id, caller.region
    key = resolved.maybe_key()
    if key is None:
        aliases = ctx.store.list_aliases(account_id, region)
        entries = [_entry(alias) for alias in aliases]
        # The predefined AWS aliases are listed, without TargetKeyId, until their AWS managed key exists.
        entries += predefined_alias_entries(account_id, region, {alias.alias_name for alias in aliases})
        entries.sort(key=_entry_name)
        scope = "aliases"
    else:
        entries = [_entry(alias) for alias in ctx.store.list_aliases(key.account_id, key.region, key.key_id)]
        scope = f"aliases:{key.key_id}"
    # ListAliases API reference: Limit "between 1 and 100 ... defaults to 50".
    page = paginate(entries, _entry_name, scope, params, default=50, maximum=100)
    return {"Aliases": list(page.items), **page.response_members()}


def _entry(alias: AliasRecord) -> dict[str, Any]:
    return {
        "AliasName": alias.alias_name,
        "AliasArn": alias.arn,
        "TargetKeyId": alias.target_key_id,
        "CreationDate": alias.creation_date,
        "LastUpdatedDate": alias.last_updated_date,
    }


def _entry_name(entry: Mapping[str, Any]) -> str:
    return str(entry["AliasName"])
