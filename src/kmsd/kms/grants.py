"""Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant and RevokeGrant, with AWS's grant rules.

What a grant allows and who may retire it are pure rules in
:mod:`kmsd.authz.grants`, shared with the authorizer; this module validates
requests against the rest of AWS's rules and reads and writes the store.
The rules (KMS API reference for the five operations; Developer Guide,
"Grants in AWS KMS", "Creating grants", "Managing grants", "Quotas"):

- grants name a key by key id or key ARN, never by alias (AWS answers an
  alias with ``InvalidArnException`` "Key Aliases are not supported for this
  operation."), and may name a key of another account by its ARN;
- the grantee and retiring principals are ARNs of existing principals of any
  account: an account (root), IAM user, IAM role, assumed-role session or
  federated user; anything else is ``InvalidArnException`` "ARN does not refer
  to a valid principal: <ARN>".  kmsd stores the principal's canonical ARN (IAM
  names ignore case), and ``kms:GranteePrincipal`` / ``kms:RetiringPrincipal``
  are that ARN too; once the user or role is deleted, the grant names its
  unique id (:mod:`kmsd.store.sql.principal_references`), and ListGrants
  shows that id;
- the operations must be grant operations the key supports, and not
  CreateGrant alone; one encryption-context constraint at most, with up to 8
  pairs and 384 characters, on symmetric encryption keys only;
- a request with a ``Name`` identical to an existing grant's in every
  property is a retry: the existing grant id comes back with a new token;
- 50,000 grants per key, 500 per grantee principal per key;
- the key must be enabled for CreateGrant; listing, retiring and revoking
  work in every key state;
- RetireGrant identifies the grant by token, or by key and grant id, and is
  decided by the grant (:func:`kmsd.authz.grants.can_retire`); RevokeGrant
  by key and grant id only, and is decided by policies (the authorizer's).

kmsd has no AWS service principals, so ``GranteeServicePrincipal``,
``RetiringServicePrincipal`` and the ``SourceArn`` constraint that goes with
them are refused as unsupported, and filtering a list by a service principal
finds nothing.  Messages that AWS documents are AWS's; where AWS documents
only the error code, the message is the exception's own description.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from kmsd.authz.authorizer import NamedKey
from kmsd.authz.grants import (
    EQUALS,
    GRANT_OPERATIONS,
    SUBSET,
    can_retire,
    grant_id_from_token,
    grant_ids_from_tokens,
    invalid_grant_token,
    is_grant_id,
    new_grant_id,
    new_grant_token,
    operations_for_key,
    retire_delegating_accounts,
)
from kmsd.authz.permissions import Target
from kmsd.crypto.key_spec import key_spec
from kmsd.errors import AwsError, ValidationError, constraint_violation, invalid_arn, not_found
from kmsd.iam.principal import Caller
from kmsd.kms.context import KmsContext
from kmsd.kms.key_states import require_state
from kmsd.kms.paging import paginate
from kmsd.kms.resolve import KeyReference, Resolved, find_key, parse_key_reference
from kmsd.store.models import GrantRecord, KeyRecord

# "Quotas" (KMS Developer Guide): grants per KMS key, and grants for a given principal per KMS key.
GRANTS_PER_KEY = 50_000
GRANTS_PER_PRINCIPAL_PER_KEY = 500

# "Using grant constraints": "Each grant constraint value can include up to 8 encryption context
# pairs.  The encryption context value in each grant constraint cannot exceed 384 characters."
MAX_CONSTRAINT_PAIRS = 8
MAX_CONSTRAINT_CHARACTERS = 384

# ListGrants / ListRetirableGrants "Limit": "between 1 and 100, inclusive ... it defaults to 50."
_DEFAULT_LIMIT = 50
_MAX_LIMIT = 100

_DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."
_PRINCIPAL_ARN = re.compile(r"^arn:aws:(iam|sts)::(\d{12}):([\w+=,.@/-]+)$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")
_FEDERATED_NAME = re.compile(r"^[\w+=,.@-]{2,32}$")


# --- the operations ------------------------------------------------------------------------------------


def resolve_create_grant(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The key, and the request with each principal spelled as the entity it names is stored.

    The decision sees the resolved request: kms:GranteePrincipal and kms:RetiringPrincipal must be the
    stored ARNs, or a Deny on `user/admin` would not see `user/ADMIN`, which names the same user.
    The constraint's size limits come first: its encryption context feeds kms:EncryptionContext:* in the
    decision, whose cost grows with it.  The principals are looked up before the key, as before.
    """
    _check_constraint_size(params)
    key_account = _grant_reference(caller, params["KeyId"]).account_id
    grantee, retiring = params.get("GranteePrincipal"), params.get("RetiringPrincipal")
    grantee_arn = None if grantee is None else existing_principal_arn(ctx, caller, key_account, str(grantee))
    retiring_arn = None if retiring is None else existing_principal_arn(ctx, caller, key_account, str(retiring))
    resolved_params = _with_principals(params, grantee_arn, retiring_arn)
    key = _grant_key(ctx, caller, resolved_params["KeyId"])
    principals = {"GranteePrincipal": grantee_arn, "RetiringPrincipal": retiring_arn}
    return Resolved(resolved_params, {Target.KEY: key}, principals=principals)


def create_grant(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    # ``params`` is the request as resolved: a principal that names an existing entity reads as its ARN.
    grantee, retiring = params.get("GranteePrincipal"), params.get("RetiringPrincipal")
    grantee_arn, retiring_arn = (
        resolved.principals.get("GranteePrincipal"),
        resolved.principals.get("RetiringPrincipal"),
    )
    key = resolved.key()
    require_state("CreateGrant", key)
    _refuse_service_principals(params)
    grant_ids_from_tokens(params.get("GrantTokens") or [])
    operations = _operations(params, key)
    equals, subset = _constraint(params, key)
    if grantee is None:
        raise ValidationError([constraint_violation(None, "granteePrincipal", "Member must not be null")])
    if grantee_arn is None:
        raise invalid_principal(str(grantee))
    if retiring is not None and retiring_arn is None:
        raise invalid_principal(str(retiring))
    name = None if params.get("Name") is None else str(params["Name"])
    grant = GrantRecord(
        grant_id=new_grant_id(ctx.rng),
        key_id=key.key_id,
        region=key.region,
        grantee_principal=grantee_arn,
        operations=operations,
        issuing_account=f"arn:aws:iam::{key.account_id}:root",
        created_at=ctx.clock.now(),
        name=name,
        retiring_principal=retiring_arn,
        encryption_context_equals=equals,
        encryption_context_subset=subset,
    )
    existing = ctx.store.list_grants(key.key_id, key.region)
    retried = None if name is None else next((old for old in existing if _same_grant(old, grant)), None)
    if retried is None:
        check_grant_quotas(existing, grantee_arn, key)
    _answer_dry_run(params)
    if retried is not None:
        # CreateGrant "Name": "if the grant already exists, the original GrantId is returned without
        # creating a new grant.  Note that the returned grant token is unique with every CreateGrant request".
        return {"GrantToken": new_grant_token(retried.grant_id, ctx.rng), "GrantId": retried.grant_id}
    ctx.store.insert_grant(grant)
    return {"GrantToken": new_grant_token(grant.grant_id, ctx.rng), "GrantId": grant.grant_id}


def list_grants(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    key = resolved.key()
    grants = ctx.store.list_grants(key.key_id, key.region)
    grant_id = params.get("GrantId")
    if grant_id is not None:
        wanted = _grant_id(grant_id)
        grants = [grant for grant in grants if grant.grant_id == wanted]
    grantee = params.get("GranteePrincipal")
    if grantee is not None:
        grants = [grant for grant in grants if grant.grantee_principal == grantee]
    if params.get("GranteeServicePrincipal") is not None:
        grants = []  # no grant in kmsd names a service principal
    page = paginate(grants, _sort_key, f"grants:{key.key_id}", params, default=_DEFAULT_LIMIT, maximum=_MAX_LIMIT)
    return {"Grants": [grant_entry(grant, key) for grant in page.items], **page.response_members()}


def list_retirable_grants(
    ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved
) -> dict[str, Any]:
    # ListRetirableGrants: "Returns information about all grants in the AWS account and Region that
    # have the specified retiring principal", including grants on other accounts' keys.  Whether the
    # caller may ask about this principal is the authorizer's question (the resource is the principal).
    retiring = params.get("RetiringPrincipal")
    if params.get("RetiringServicePrincipal") is not None:
        grants: list[GrantRecord] = []
    elif retiring is None:
        raise ValidationError([constraint_violation(None, "retiringPrincipal", "Member must not be null")])
    else:
        grants = ctx.store.list_grants_retirable_by(str(retiring))
    keys: dict[str, KeyRecord | None] = {}
    visible = []
    for grant in grants:
        if grant.region != caller.region:
            continue
        if grant.key_id not in keys:
            keys[grant.key_id] = ctx.store.get_key(grant.key_id, grant.region)
        key = keys[grant.key_id]
        if key is not None:
            visible.append((grant, key))
    page = paginate(
        visible, lambda item: _sort_key(item[0]), f"retirable:{retiring}", params, _DEFAULT_LIMIT, _MAX_LIMIT
    )
    return {"Grants": [grant_entry(grant, key) for grant, key in page.items], **page.response_members()}


def retire_grant(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    # RetireGrant is decided by the grant, not by a policy of its key: the decision has read the grant already
    # (kmsd.authz.authorizer), and the key is looked up here only to check the request against it.
    token, key_id, grant_id = params.get("GrantToken"), params.get("KeyId"), params.get("GrantId")
    if token is not None:
        from_token = grant_id_from_token(str(token))
        if from_token is None:
            raise invalid_grant_token()
        if grant_id is not None and _grant_id(grant_id) != from_token:
            raise invalid_grant_id()
        wanted = from_token
    elif key_id is not None and grant_id is not None:
        wanted = _grant_id(grant_id)
    else:
        # RetireGrant: "Identify the grant to retire by its grant token or by its grant ID and the key ARN."
        raise ValidationError("Either the grant token, or the key ARN and the grant ID, must be specified.")
    grant = ctx.store.get_grant(wanted)
    if key_id is not None:
        key = _grant_key(ctx, caller, key_id).key
        if grant is None or (grant.key_id, grant.region) != (key.key_id, key.region):
            raise grant_not_found(wanted)
    else:
        if grant is None:
            raise grant_not_found(wanted)
        found = ctx.store.get_key(grant.key_id, grant.region)
        if found is None or found.region != caller.region:
            raise grant_not_found(wanted)
        key = found
    _authorize_retire(caller, grant, key)
    _answer_dry_run(params)
    ctx.store.delete_grant(grant.grant_id)
    return {}


def revoke_grant(ctx: KmsContext, caller: Caller, params: Mapping[str, Any], resolved: Resolved) -> dict[str, Any]:
    # "Managing grants": RevokeGrant is authorized by key policies and IAM policies like most
    # operations, and "doesn't accept a grant token".
    key = resolved.key()
    wanted = _grant_id(params["GrantId"])
    grant = ctx.store.get_grant(wanted)
    if grant is None or (grant.key_id, grant.region) != (key.key_id, key.region):
        raise grant_not_found(wanted)
    _answer_dry_run(params)
    ctx.store.delete_grant(grant.grant_id)
    return {}


# --- what the operations share -----------------------------------------------------------------------


def invalid_grant_id() -> AwsError:
    return AwsError("InvalidGrantIdException", "The request was rejected because the specified GrantId is not valid.")


def grant_not_found(grant_id: str) -> AwsError:
    return not_found(f"Grant ID {grant_id} not found")


def grant_entry(grant: GrantRecord, key: KeyRecord) -> dict[str, Any]:
    """One ``GrantListEntry`` as ListGrants and ListRetirableGrants return it.

    AWS's examples ("Managing grants", "Creating grants") show ``"Name": ""`` for a
    grant created without a name and leave out ``RetiringPrincipal`` and
    ``Constraints`` when the grant has none.
    """
    entry: dict[str, Any] = {
        "KeyId": key.arn,
        "GrantId": grant.grant_id,
        "Name": grant.name or "",
        "CreationDate": grant.created_at,
        "GranteePrincipal": grant.grantee_principal,
        "IssuingAccount": grant.issuing_account,
        "Operations": list(grant.operations),
    }
    if grant.retiring_principal is not None:
        entry["RetiringPrincipal"] = grant.retiring_principal
    if grant.encryption_context_equals is not None:
        entry["Constraints"] = {EQUALS: dict(grant.encryption_context_equals)}
    elif grant.encryption_context_subset is not None:
        entry["Constraints"] = {SUBSET: dict(grant.encryption_context_subset)}
    return entry


def check_grant_quotas(
    existing: Sequence[GrantRecord],
    grantee_arn: str,
    key: KeyRecord,
    per_key: int = GRANTS_PER_KEY,
    per_principal: int = GRANTS_PER_PRINCIPAL_PER_KEY,
) -> None:
    """LimitExceededException when one more grant for ``grantee_arn`` on ``key`` would pass a quota."""
    if len(existing) >= per_key:
        raise AwsError(
            "LimitExceededException",
            f"The request was rejected because {key.arn} already has the maximum of {per_key} grants.",
        )
    if sum(1 for grant in existing if grant.grantee_principal == grantee_arn) >= per_principal:
        raise AwsError(
            "LimitExceededException",
            f"The request was rejected because {key.arn} already has the maximum of {per_principal} "
            f"grants for {grantee_arn}.",
        )


def existing_principal_arn(ctx: KmsContext, caller: Caller, key_account: str, value: str) -> str | None:
    """The ARN, as stored, of the existing principal ``value`` names (IAM names ignore case), or None.

    CreateGrant "GranteePrincipal": "Valid principals include Amazon Web Services accounts,
    IAM users, IAM roles, federated users, and assumed role users"; "the grantee principal
    cannot be a service principal, an IAM group, or an AWS organization" (Grants in AWS KMS).
    ``key_account`` is the account of the key the grant is for: its root is always a valid principal.
    """
    match = _PRINCIPAL_ARN.match(value)
    if match is None:
        return None
    service, account_id, resource = match.groups()
    return _existing_principal(ctx, caller, key_account, service, account_id, resource)


def invalid_principal(value: str) -> AwsError:
    return invalid_arn(f"ARN does not refer to a valid principal: {value}")


def _with_principals(params: Mapping[str, Any], grantee: str | None, retiring: str | None) -> Mapping[str, Any]:
    """``params`` with the principals that name an existing entity spelled as stored, for the authorization."""
    resolved = dict(params)
    if grantee is not None:
        resolved["GranteePrincipal"] = grantee
    if retiring is not None:
        resolved["RetiringPrincipal"] = retiring
    return resolved


def _existing_principal(
    ctx: KmsContext, caller: Caller, key_account: str, service: str, account_id: str, resource: str
) -> str | None:
    kind, _, rest = resource.partition("/")
    if service == "iam" and resource == "root":
        known = account_id in (caller.principal.account_id, key_account) or ctx.store.get_account(account_id)
        return f"arn:aws:iam::{account_id}:root" if known else None
    if service == "iam" and kind in ("user", "role"):
        path, _, name = f"/{rest}".rpartition("/")
        entity = ctx.store.get_user(account_id, name) if kind == "user" else ctx.store.get_role(account_id, name)
        return entity.arn if entity is not None and entity.path == f"{path}/" else None
    if service == "sts" and kind == "assumed-role":
        role_name, _, session = rest.partition("/")
        role = ctx.store.get_role(account_id, role_name)
        if role is None or _SESSION_NAME.match(session) is None:
            return None
        return f"arn:aws:sts::{account_id}:assumed-role/{role.role_name}/{session}"
    if service == "sts" and kind == "federated-user" and _FEDERATED_NAME.match(rest) is not None:
        return f"arn:aws:sts::{account_id}:federated-user/{rest}" if ctx.store.get_account(account_id) else None
    return None


def _grant_reference(caller: Caller, key_id: object) -> KeyReference:
    reference = parse_key_reference(caller, str(key_id))
    if reference.alias_name is not None:
        # The grant operations take a key id or key ARN; AWS answers an alias with this error.
        raise invalid_arn("Key Aliases are not supported for this operation.")
    return reference


def _grant_key(ctx: KmsContext, caller: Caller, key_id: object) -> NamedKey:
    _grant_reference(caller, key_id)
    return find_key(ctx, caller, str(key_id))


def resolve_grant_key(ctx: KmsContext, caller: Caller, params: Mapping[str, Any]) -> Resolved:
    """The resolver of ListGrants and RevokeGrant: the key, named by key id or key ARN (never an alias)."""
    return Resolved(params, {Target.KEY: _grant_key(ctx, caller, params["KeyId"])})


def _grant_id(value: object) -> str:
    text = str(value)
    if not is_grant_id(text):
        raise invalid_grant_id()
    return text


def _refuse_service_principals(params: Mapping[str, Any]) -> None:
    constraints = params.get("Constraints") or {}
    if (
        params.get("GranteeServicePrincipal") is not None
        or params.get("RetiringServicePrincipal") is not None
        or constraints.get("SourceArn") is not None
    ):
        raise AwsError(
            "UnsupportedOperationException",
            "Grants for AWS service principals (GranteeServicePrincipal, RetiringServicePrincipal, "
            "SourceArn) are not supported by kmsd.",
        )


def _operations(params: Mapping[str, Any], key: KeyRecord) -> tuple[str, ...]:
    requested = [str(operation) for operation in params["Operations"]]
    operations = tuple(dict.fromkeys(requested))  # a repeated operation is allowed once
    shown = "[" + ", ".join(requested) + "]"
    if not operations:
        raise ValidationError(
            [constraint_violation(shown, "operations", "Member must have length greater than or equal to 1")]
        )
    unknown = [operation for operation in operations if operation not in GRANT_OPERATIONS]
    if unknown:
        enum = "[" + ", ".join(sorted(GRANT_OPERATIONS)) + "]"
        raise ValidationError(
            [
                constraint_violation(
                    shown, "operations", f"Member must satisfy constraint: [Member must satisfy enum value set: {enum}]"
                )
            ]
        )
    # "Grant operations": "The grant operations that you allow must be supported by the KMS key in the
    # grant.  If you specify an unsupported operation, the CreateGrant request fails with a ValidationError".
    supported = operations_for_key(key.key_spec, key.key_usage)
    unsupported = [operation for operation in operations if operation not in supported]
    if unsupported:
        raise ValidationError(
            f"Grant operations [{', '.join(unsupported)}] are not supported for a KMS key with KeySpec "
            f"{key.key_spec} and KeyUsage {key.key_usage}."
        )
    if operations == ("CreateGrant",):
        # AWS's answer to a grant whose only operation is CreateGrant.
        raise ValidationError("Grants must not contain only the CreateGrant operation.")
    return operations


def _constraint(params: Mapping[str, Any], key: KeyRecord) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """The request's (EncryptionContextEquals, EncryptionContextSubset); at most one is set."""
    constraints = params.get("Constraints") or {}
    equals, subset = constraints.get(EQUALS), constraints.get(SUBSET)
    if equals is not None and subset is not None:
        # kms:GrantConstraintType: "The grant constraint can be one of two types:
        # EncryptionContextEquals or EncryptionContextSubset."
        raise ValidationError(
            "A grant can have only one constraint: EncryptionContextEquals or EncryptionContextSubset."
        )
    pairs = equals if equals is not None else subset
    if pairs is None:
        return None, None
    if not key_spec(key.key_spec).is_symmetric_encryption:
        # "Using grant constraints": "You cannot use encryption context grant constraints in a grant for
        # an asymmetric KMS key"; HMAC keys take no encryption context either.
        raise ValidationError(
            f"Encryption context grant constraints are not supported for a KMS key with KeySpec {key.key_spec}."
        )
    context = {str(name): str(value) for name, value in pairs.items()}
    return (context, None) if equals is not None else (None, context)


def _check_constraint_size(params: Mapping[str, Any]) -> None:
    """AWS's limits on a constraint's encryption context: MAX_CONSTRAINT_PAIRS pairs, MAX_CONSTRAINT_CHARACTERS."""
    constraints = params.get("Constraints") or {}
    for pairs in (constraints.get(EQUALS), constraints.get(SUBSET)):
        if pairs is None:
            continue
        if len(pairs) > MAX_CONSTRAINT_PAIRS:
            raise ValidationError(
                f"A grant constraint can include up to {MAX_CONSTRAINT_PAIRS} encryption context pairs; "
                f"{len(pairs)} were given."
            )
        if sum(len(str(name)) + len(str(value)) for name, value in pairs.items()) > MAX_CONSTRAINT_CHARACTERS:
            raise ValidationError(
                f"The encryption context in a grant constraint cannot exceed {MAX_CONSTRAINT_CHARACTERS} characters."
            )


def _same_grant(old: GrantRecord, new: GrantRecord) -> bool:
    """Whether ``new`` repeats ``old``: "a CreateGrant request for a grant with the same properties as an
    existing grant, including the name" is a retry ("Creating grants")."""
    return (
        old.name == new.name
        and old.grantee_principal == new.grantee_principal
        and old.retiring_principal == new.retiring_principal
        and set(old.operations) == set(new.operations)
        and old.encryption_context_equals == new.encryption_context_equals
        and old.encryption_context_subset == new.encryption_context_subset
    )


def _authorize_retire(caller: Caller, grant: GrantRecord, key: KeyRecord) -> None:
    # "Retiring and revoking grants": the grant determines who can retire it.  Its retiring principal,
    # its grantee (when it allows RetireGrant) and the root of the account it was created in may; an
    # IAM principal of an account in retire_delegating_accounts may when an identity policy allows
    # kms:RetireGrant, which the authorizer decides before this handler runs.  Nobody else can.
    principal = caller.principal
    if can_retire(grant, principal) or principal.account_id in retire_delegating_accounts(grant):
        return
    raise AwsError(
        "AccessDeniedException",
        f"User: {principal.arn} is not authorized to perform: kms:RetireGrant on resource: {key.arn} "
        "because no resource-based policy allows the kms:RetireGrant action",
    )


def _answer_dry_run(params: Mapping[str, Any]) -> None:
    # KMS Developer Guide, "Testing your permissions": a DryRun request that would have succeeded
    # fails with DryRunOperationException and changes nothing.
    if params.get("DryRun"):
        raise AwsError("DryRunOperationException", _DRY_RUN_MESSAGE)


def _sort_key(grant: GrantRecord) -> str:
    # The store's order (creation time, then grant id) as one string that sorts the same way.
    return f"{grant.created_at.astimezone(UTC).isoformat(timespec='microseconds')} {grant.grant_id}"
