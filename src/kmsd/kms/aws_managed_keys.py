"""AWS managed keys: the predefined ``alias/aws/...`` aliases, and the key created behind one on its first use.

A new AWS account lists fourteen predefined aliases (``alias/aws/acm`` to
``alias/aws/xray``) before any service has used one: ListAliases shows them
with ``AliasName`` and ``AliasArn`` and no ``TargetKeyId`` ("The response
might also include aliases that have no TargetKeyId field. These are
predefined aliases that AWS has created but has not yet associated with a KMS
key", ListAliases API reference).  The key behind one is created when the
alias is first described: "If you specify a predefined AWS alias (an AWS alias
with no key ID), KMS associates the alias with an AWS managed key and returns
its KeyId and Arn in the response" (DescribeKey, KeyId); AWS services call
DescribeKey for exactly that.  Only DescribeKey does it, and only for the
caller's own account: any other operation naming a predefined alias that has no
key yet answers, as for any unknown alias, NotFoundException.

The key is a symmetric encryption key with ``KeyManager`` AWS, the
description and key policy AWS gives that service's key
(``aws_managed_keys.json``: the policy documents as AWS writes them, with the
account and Region as ``${AccountId}`` and ``${Region}``), and automatic
rotation every 365 days ("AWS managed keys ... rotate automatically every
year").  Customers cannot change or delete it, and nothing in kmsd needs a rule
of its own for that: its key policy lets the account's principals use it only
through the service (``kms:ViaService``, ``kms:CallerAccount``) and read it
(``kms:Describe*``, ``kms:Get*``, ``kms:List*``, and for most services
``kms:RevokeGrant``), so PutKeyPolicy, ScheduleKeyDeletion, DisableKey, the
rotation switches, TagResource, UpdateKeyDescription and pointing an alias at
it are AccessDeniedException "... because no resource-based policy allows the
<action> action", AWS's answer, and PutKeyPolicy cannot make it otherwise.
The ``alias/aws/`` aliases themselves cannot be created, repointed or deleted
(:mod:`kmsd.kms.aliases`).

Resolving writes nothing, so the DescribeKey resolver raises
:class:`AwsManagedKeyNeeded`; the service creates the key in a transaction of
its own and runs the call again (:mod:`kmsd.kms.service`).

Guessed wordings: the descriptions of the keys for EBS, EFS, OpenSearch,
Kinesis Video Streams, Redshift, Glue and X-Ray follow AWS's pattern ("Default
key that protects my <data> when no other key is defined") where no AWS text
for the current wording was found (those for S3, SSM, RDS, DynamoDB, Lambda,
ACM and Secrets Manager are AWS's).  Assumed: a predefined alias without a key
is listed with ``AliasName`` and ``AliasArn`` only (no dates either), and
GetKeyRotationStatus of an AWS managed key shows ``RotationPeriodInDays`` 365.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from types import MappingProxyType
from typing import Any

from kmsd.authz.default_policy import aws_pretty_json
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_id_forms import KeyIdForm, form_of
from kmsd.kms.keys import new_key_id
from kmsd.kms.resolve import Resolved, key_of, parse_key_reference
from kmsd.store.models import AliasRecord, KeyRecord

AWS_KEY_MANAGER = "AWS"
# "AWS managed keys ... rotate automatically every year (approximately 365 days)."
ROTATION_PERIOD_DAYS = 365


@dataclass(frozen=True)
class AwsManagedKeyTemplate:
    """What AWS gives the key behind one predefined alias."""

    description: str
    policy: Mapping[str, Any]  # with ${AccountId} and ${Region} in its strings


def _load() -> Mapping[str, AwsManagedKeyTemplate]:
    text = resources.files("kmsd.kms").joinpath("aws_managed_keys.json").read_text(encoding="utf-8")
    data = json.loads(text)
    return MappingProxyType(
        {alias: AwsManagedKeyTemplate(entry["description"], entry["policy"]) for alias, entry in data.items()}
    )


# Predefined alias name -> its key's description and policy.
PREDEFINED_ALIASES: Mapping[str, AwsManagedKeyTemplate] = _load()


class AwsManagedKeyNeeded(Exception):
    """DescribeKey named a predefined alias of the caller's account that has no key yet: create it, then retry."""

    def __init__(self, account_id: str, region: str, alias_name: str) -> None:
        super().__init__(alias_name)
        self.account_id = account_id
        self.region = region
        self.alias_name = alias_name


def resolve_describe_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """DescribeKey's resolver: the key ``KeyId`` names, any account, after creating an AWS managed key if needed."""
    key_id = str(params["KeyId"])
    if form_of(key_id) in (KeyIdForm.ALIAS_NAME, KeyIdForm.ALIAS_ARN):
        reference = parse_key_reference(caller, key_id)
        name = str(reference.alias_name)
        if (
            name in PREDEFINED_ALIASES
            and reference.account_id == caller.principal.account_id
            and ctx.store.get_alias(reference.account_id, reference.region, name) is None
        ):
            raise AwsManagedKeyNeeded(reference.account_id, reference.region, name)
    return key_of(ctx, caller, params)


def create_aws_managed_key(ctx: KmsContext, account_id: str, region: str, alias_name: str) -> None:
    """Create the AWS managed key behind ``alias_name`` and point the alias at it; the caller holds the transaction.

    Nothing is created when the alias has a key already (another request, or another process, was first).
    """
    if ctx.store.get_alias(account_id, region, alias_name) is not None:
        return
    template = PREDEFINED_ALIASES[alias_name]
    now = ctx.clock.now()
    key = KeyRecord(
        key_id=new_key_id(ctx),
        account_id=account_id,
        region=region,
        description=template.description,
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        key_state="Enabled",
        creation_date=now,
        policy=aws_pretty_json(_rendered(template.policy, account_id, region)),
        current_material_version=1,
        rotation_enabled=True,
        rotation_period_days=ROTATION_PERIOD_DAYS,
        next_rotation_date=now + timedelta(days=ROTATION_PERIOD_DAYS),
        key_manager=AWS_KEY_MANAGER,
    )
    ctx.store.insert_key(key)
    ctx.materials.create_first(key.key_id)
    ctx.store.insert_alias(AliasRecord(account_id, region, alias_name, key.key_id, now, now))


def _rendered(value: Any, account_id: str, region: str) -> Any:
    """The policy template with the key's account and Region in place of ``${AccountId}`` and ``${Region}``."""
    if isinstance(value, str):
        return value.replace("${AccountId}", account_id).replace("${Region}", region)
    if isinstance(value, list):
        return [_rendered(item, account_id, region) for item in value]
    if isinstance(value, Mapping):
        return {name: _rendered(item, account_id, region) for name, item in value.items()}
    return value


def predefined_alias_entries(account_id: str, region: str, stored: set[str]) -> list[dict[str, Any]]:
    """ListAliases entries of the predefined aliases that have no key yet: a name and an ARN, no TargetKeyId."""
    return [
        {"AliasName": name, "AliasArn": f"arn:aws:kms:{region}:{account_id}:{name}"}
        for name in PREDEFINED_ALIASES
        if name not in stored
    ]
