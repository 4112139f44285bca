"""Access keys of IAM users (and of the root user): CreateAccessKey, ListAccessKeys, UpdateAccessKey,
DeleteAccessKey and GetAccessKeyLastUsed.

A key's secret is shown once, in the CreateAccessKey answer, and stored only
wrapped under the root key, bound to its access key id exactly as the root
users' keys are (:mod:`kmsd.iam.accounts`).  Without ``UserName`` the
operations act on the caller: the calling IAM user, or the root user's own
keys.  Quota: two access keys per user ("IAM and AWS STS quotas").  An
``Inactive`` key stops authenticating with the next request: the IAM service
tells the credential resolver after every committed write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from kmsd.errors import AwsError
from kmsd.iam.accounts import new_access_key_id, new_secret_access_key, secret_purpose
from kmsd.iam.context import IamContext
from kmsd.iam.entity_kinds import no_such_entity
from kmsd.iam.ids import ACCESS_KEY_ID_PREFIX
from kmsd.iam.lookup import user_or_caller
from kmsd.iam.paging import paginate
from kmsd.iam.principal import Caller
from kmsd.store.models import AccessKeyRecord, IamUser

MAX_ACCESS_KEYS_PER_USER = 2  # "IAM and AWS STS quotas": access keys assigned to an IAM user (and the root user)
NOT_USED = "N/A"  # GetAccessKeyLastUsed: ServiceName and Region of a key that was never used


def _keys_of(ctx: IamContext, account_id: str, user: IamUser | None) -> list[AccessKeyRecord]:
    """The keys of ``user``, or of the account's root user when ``user`` is None."""
    if user is not None:
        return ctx.store.list_user_access_keys(user.user_id)
    root_arn = f"arn:aws:iam::{account_id}:root"
    return [key for key in ctx.store.list_access_keys(account_id) if key.principal_arn == root_arn]


def _key_not_found(access_key_id: str) -> AwsError:
    return no_such_entity(f"The Access Key with id {access_key_id} cannot be found.")


def _owned_key(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> AccessKeyRecord:
    """The key ``AccessKeyId`` names, which must belong to the user the request names (or the caller)."""
    account_id = caller.principal.account_id
    user = user_or_caller(ctx, caller, params.get("UserName"))
    access_key_id = str(params["AccessKeyId"])
    for key in _keys_of(ctx, account_id, user):
        if key.access_key_id == access_key_id:
            return key
    raise _key_not_found(access_key_id)


def _with_user_name(shape: dict[str, Any], user: IamUser | None) -> dict[str, Any]:
    # The root user has no user name; AWS's answers for its keys carry none.
    if user is not None:
        shape["UserName"] = user.user_name
    return shape


def create_access_key(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    user = user_or_caller(ctx, caller, params.get("UserName"))
    if len(_keys_of(ctx, account_id, user)) >= MAX_ACCESS_KEYS_PER_USER:
        raise AwsError("LimitExceeded", f"Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}", 409)
    access_key_id = new_access_key_id(ctx.rng, ACCESS_KEY_ID_PREFIX)
    secret = new_secret_access_key(ctx.rng)
    record = AccessKeyRecord(
        access_key_id=access_key_id,
        account_id=account_id,
        principal_arn=user.arn if user is not None else f"arn:aws:iam::{account_id}:root",
        wrapped_secret=ctx.root_key.wrap(secret.encode("ascii"), secret_purpose(access_key_id)),
        status="Active",
        created_at=ctx.clock.now(),
        user_id=None if user is None else user.user_id,
    )
    ctx.store.put_access_key(record)
    shape = {
        "AccessKeyId": access_key_id,
        "Status": record.status,
        "SecretAccessKey": secret,
        "CreateDate": record.created_at,
    }
    return {"AccessKey": _with_user_name(shape, user)}


def list_access_keys(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    account_id = caller.principal.account_id
    user = user_or_caller(ctx, caller, params.get("UserName"))
    keys = _keys_of(ctx, account_id, user)
    scope = f"access-keys/{user.user_id if user is not None else account_id}"
    page = paginate(keys, lambda key: f"{key.created_at.isoformat()}/{key.access_key_id}", scope, params)
    metadata = [
        _with_user_name({"AccessKeyId": key.access_key_id, "Status": key.status, "CreateDate": key.created_at}, user)
        for key in page.items
    ]
    return {"AccessKeyMetadata": metadata, **page.response_members()}


def update_access_key(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    key = _owned_key(ctx, caller, params)
    status = str(params["Status"])
    if status not in ("Active", "Inactive"):
        # statusType also lists "Expired", which only AWS sets.
        raise AwsError("InvalidInput", f"Invalid status {status}. Must be Active or Inactive.", 400)
    ctx.store.put_access_key(dataclasses.replace(key, status=status))
    return {}


def delete_access_key(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    key = _owned_key(ctx, caller, params)
    ctx.store.delete_access_key(key.access_key_id)
    return {}


def get_access_key_last_used(ctx: IamContext, caller: Caller, params: Mapping[str, Any]) -> dict[str, Any]:
    access_key_id = str(params["AccessKeyId"])
    key = ctx.store.get_access_key(access_key_id)
    if key is None or key.account_id != caller.principal.account_id:
        raise _key_not_found(access_key_id)
    last_used: dict[str, Any]
    if key.last_used_at is None:
        # GetAccessKeyLastUsed: a key that has never been used answers "N/A" for ServiceName and Region.
        last_used = {"ServiceName": NOT_USED, "Region": NOT_USED}
    else:
        last_used = {
            "LastUsedDate": key.last_used_at,
            "ServiceName": key.last_used_service or NOT_USED,
            "Region": key.last_used_region or NOT_USED,
        }
    user = ctx.store.get_user_by_id(key.user_id) if key.user_id is not None else None
    return _with_user_name({"AccessKeyLastUsed": last_used}, user)
