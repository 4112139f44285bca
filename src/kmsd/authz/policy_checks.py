"""KMS's checks for ``kmsd policy check``: what the policy engine alone cannot know about KMS.

Each check is a :data:`~kmsd.policy.lint.PolicyCheck` (the parsed policy in,
findings with paths out) for :func:`kmsd.policy.lint.lint_policy`.  They read
KMS's rules from the tables the authorizer itself uses, so the linter and the
live server cannot disagree: the condition keys of each KMS operation
(:data:`kmsd.authz.permissions.PERMISSIONS`), the keys KMS gives only to IAM
policies (:data:`kmsd.authz.request_context.IAM_ONLY_KEYS`), and the lockout
safety check (:meth:`kmsd.authz.authorizer.KmsAuthorizer.check_lockout`).

Without a store (:func:`offline_checks`):

- a ``kms:`` condition key KMS does not define: ERROR
  ``INVALID_SERVICE_CONDITION_KEY`` (Access Analyzer's check);
- a ``kms:`` condition key that none of the statement's KMS actions carries,
  or an IAM-only key in a key policy: WARNING
  ``KMS_CONDITION_KEY_NOT_IN_REQUEST`` (the condition never sees the key, so
  a positive operator never matches and a negated one always does);
- a plain positive string operator on an enumerated key (``kms:KeySpec``,
  ``kms:KeyUsage``, ``kms:EncryptionAlgorithm``, ``kms:SigningAlgorithm``,
  ``kms:MacAlgorithm``) none of whose values is one KMS gives it (the key
  specs kmsd serves, :data:`kmsd.crypto.key_spec.KEY_SPECS`): WARNING
  ``CONDITION_NEVER_MATCHES``;
- in a key policy, a statement without ``Resource``: ERROR
  ``MISSING_RESOURCE`` (KMS refuses it), and an unconditional ``Allow`` of
  decryption (``kms:Decrypt``, ``kms:ReEncryptFrom``, or a wildcard covering
  them) to every principal: SECURITY_WARNING ``KMS_DECRYPT_BY_ANY_PRINCIPAL``,
  which takes the place of the generic ``PUBLIC_ACCESS``.

With a store (:func:`lockout_check`, :func:`delegation_check`): the key
policy would fail the lockout safety check for the principal who puts it
(ERROR ``KMS_KEY_POLICY_LOCKOUT``, as PutKeyPolicy refuses it), and
identity policies of the key's account name the key for KMS actions that the
key policy does not delegate to the account (WARNING
``KMS_MISSING_IAM_DELEGATION``: those allows have no effect).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from functools import cache

from kmsd.authz.authorizer import LOCKOUT_MESSAGE, KmsAuthorizer
from kmsd.authz.explain import principal_from_arn
from kmsd.authz.permissions import PERMISSIONS
from kmsd.authz.request_context import DEPRECATED_KEYS, IAM_ONLY_KEYS
from kmsd.clock import Clock
from kmsd.crypto.key_spec import ENCRYPTION_ALGORITHMS, KEY_SPECS
from kmsd.errors import AwsError
from kmsd.iam.identity_policies import owned_policies
from kmsd.iam.principal import Caller, Principal
from kmsd.policy import Policy
from kmsd.policy.actions import any_action_matches, compile_actions
from kmsd.policy.arn import arn_matcher, split_arn
from kmsd.policy.findings import Finding, FindingType, condition_path, open_to_everyone
from kmsd.policy.lint import PolicyCheck
from kmsd.policy.locations import index, statement_path, value
from kmsd.policy.model import Condition, Effect, Statement
from kmsd.policy.operators import Family, SetOperator, parse_operator
from kmsd.policy.wildcard import compile_tokens, tokens_from_text
from kmsd.store.base import Store
from kmsd.store.models import Account, KeyRecord

_KEY_POLICIES = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policies.html"
_CONDITION_KEYS = "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html"
_LOCKOUT = "https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-bypass-policy-lockout-safety-check"
_DEFAULT_POLICY = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam"
# What decrypting under a key takes: Decrypt, or ReEncrypt's first half (which decrypts before re-encrypting).
_DECRYPT_ACTIONS = ("kms:decrypt", "kms:reencryptfrom")


def offline_checks(key_policy: bool) -> list[PolicyCheck]:
    """The KMS checks that need no store; ``key_policy`` adds those for key policies."""
    checks: list[PolicyCheck] = [condition_key_check(key_policy), enumerated_value_check]
    if key_policy:
        checks.extend([resource_required_check, open_decrypt_check])
    return checks


# --- condition keys -----------------------------------------------------------------------------------


@cache
def _operation_keys() -> tuple[tuple[str, frozenset[str]], ...]:
    """(folded action, the folded ``kms:`` and ``aws:`` keys of an operation that needs it), for every permission."""
    pairs: list[tuple[str, frozenset[str]]] = []
    for row in PERMISSIONS.values():
        keys = set(row.condition_keys)
        keys.update(old for old, new in DEPRECATED_KEYS.items() if new in keys)
        folded = frozenset(name.lower() for name in keys)
        permissions = (*row.permissions, *(permission for _, permission in row.when_present))
        pairs.extend((permission.action.lower(), folded) for permission in permissions)
    return tuple(pairs)


@cache
def _known_kms_keys() -> frozenset[str]:
    """Every ``kms:`` condition key KMS defines (folded; a trailing ``*`` stands for any suffix)."""
    return frozenset(name for _, keys in _operation_keys() for name in keys if name.startswith("kms:"))


def _covers(pattern: str, key: str) -> bool:
    """Whether the folded key name ``pattern`` (``kms:encryptioncontext:*``) names the folded ``key``."""
    if pattern.endswith("*"):
        return key.startswith(pattern[:-1]) and len(key) > len(pattern) - 1
    return key == pattern


def _carried(key: str, keys: Iterable[str]) -> bool:
    return any(_covers(pattern, key) for pattern in keys)


def condition_key_check(key_policy: bool) -> PolicyCheck:
    """Unknown ``kms:`` keys, and keys the statement's actions never carry (or, in a key policy, IAM-only ones)."""
    iam_only = frozenset(name.lower() for name in IAM_ONLY_KEYS)

    def check(policy: Policy) -> Iterator[Finding]:
        for statement in policy.statements:
            carried = _keys_of_actions(statement)
            for condition in statement.conditions:
                key = condition.key.lower()
                where = (condition_path(statement, condition),)
                if key.startswith("kms:") and not _carried(key, _known_kms_keys()):
                    # Access Analyzer, "Error – Invalid service condition key".
                    yield Finding(
                        FindingType.ERROR,
                        "INVALID_SERVICE_CONDITION_KEY",
                        f"The condition key {condition.key} does not exist in the service kms.",
                        where,
                        _CONDITION_KEYS,
                    )
                elif key_policy and _carried(key, iam_only):
                    yield Finding(
                        FindingType.WARNING,
                        "KMS_CONDITION_KEY_NOT_IN_REQUEST",
                        f"KMS supplies {condition.key} to IAM policies only, never to a key policy: "
                        f"{_outcome(condition)}",
                        where,
                        _CONDITION_KEYS,
                    )
                elif carried is not None and _scoped(key) and not _carried(key, carried):
                    yield Finding(
                        FindingType.WARNING,
                        "KMS_CONDITION_KEY_NOT_IN_REQUEST",
                        f"No action of this statement has {condition.key} in its request context: "
                        f"{_outcome(condition)}",
                        where,
                        _CONDITION_KEYS,
                    )

    return check


def _scoped(key: str) -> bool:
    """Whether the key is one KMS sets per operation (the ``kms:`` keys and the request's tags)."""
    return key.startswith(("kms:", "aws:requesttag/", "aws:resourcetag/")) or key == "aws:tagkeys"


def _keys_of_actions(statement: Statement) -> frozenset[str] | None:
    """The keys some action of ``statement`` carries; None unless every action is a KMS action kmsd knows."""
    if statement.action is None:
        return None
    keys: set[str] = set()
    for pattern in statement.action:
        if not pattern.lower().startswith("kms:"):
            return None
        matchers = compile_actions([pattern])
        matched = [found for action, found in _operation_keys() if any_action_matches(matchers, action)]
        if not matched:
            return None  # no such action: INVALID_ACTION reports it
        for found in matched:
            keys.update(found)
    return frozenset(keys)


def _outcome(condition: Condition) -> str:
    operator = parse_operator(condition.operator)
    if operator is None:
        return "the condition never sees it."
    if operator.base.family is Family.NULL:
        return "the Null condition always finds it absent."
    if operator.if_exists or operator.base.negated or operator.set_operator is SetOperator.FOR_ALL_VALUES:
        return f"{condition.operator} is always true without it, so the condition has no effect."
    return f"{condition.operator} is false without it, so the condition never matches."


# --- enumerated values ------------------------------------------------------------------------------------


@cache
def _enumerations() -> dict[str, frozenset[str]]:
    """The values KMS can give its enumerated keys (folded key name -> values), from the key specs kmsd serves."""
    specs = tuple(KEY_SPECS.values())
    usages = frozenset(usage for spec in specs for usage in spec.key_usages)
    return {
        "kms:keyspec": frozenset(KEY_SPECS),
        "kms:customermasterkeyspec": frozenset(KEY_SPECS),
        "kms:keyusage": usages,
        "kms:customermasterkeyusage": usages,
        "kms:encryptionalgorithm": ENCRYPTION_ALGORITHMS,
        "kms:signingalgorithm": frozenset(name for spec in specs for name in spec.signing_algorithms),
        "kms:macalgorithm": frozenset(name for spec in specs for name in spec.mac_algorithms),
    }


def enumerated_value_check(policy: Policy) -> Iterator[Finding]:
    """A plain positive string condition on an enumerated KMS key whose values name no value KMS can give it."""
    for statement in policy.statements:
        for condition in statement.conditions:
            allowed = _enumerations().get(condition.key.lower())
            operator = parse_operator(condition.operator)
            if allowed is None or operator is None or operator.base.family is not Family.STRING:
                continue
            if operator.set_operator is not None or operator.if_exists or operator.base.negated:
                continue
            if any("${" in text for text in condition.values):
                continue  # a variable may resolve to anything
            if any(
                _may_equal(text, allowed, operator.base.wildcards, operator.base.ignore_case)
                for text in condition.values
            ):
                continue
            yield Finding(
                FindingType.WARNING,
                "CONDITION_NEVER_MATCHES",
                f"No value of {condition.operator} is one KMS gives {condition.key} ({', '.join(sorted(allowed))}), "
                "so the condition never matches.",
                (condition_path(statement, condition),),
                _CONDITION_KEYS,
            )


def _may_equal(text: str, allowed: frozenset[str], wildcards: bool, ignore_case: bool) -> bool:
    if wildcards:
        matcher = compile_tokens(tokens_from_text(text), ignore_case=ignore_case)
        return any(matcher(name) for name in allowed)
    if ignore_case:
        return text.lower() in {name.lower() for name in allowed}
    return text in allowed


# --- key policies --------------------------------------------------------------------------------------


def resource_required_check(policy: Policy) -> Iterator[Finding]:
    """KMS "Key policies": every statement needs Resource; the policy language lets resource policies omit it."""
    for statement in policy.statements:
        if statement.resource is None and statement.not_resource is None:
            yield Finding(
                FindingType.ERROR,
                "MISSING_RESOURCE",
                'Policy statement must contain resources. A key policy statement names its key as "Resource": "*".',
                (statement_path(statement.index),),
                _KEY_POLICIES,
            )


def open_decrypt_check(policy: Policy) -> Iterator[Finding]:
    """An unconditional Allow of decryption to every principal: anyone holding a ciphertext can read it."""
    for statement in policy.statements:
        if statement.effect is not Effect.ALLOW or statement.conditions or not open_to_everyone(statement):
            continue
        entry = _decrypting_entry(statement)
        if entry is None:
            continue
        element, position = entry
        yield Finding(
            FindingType.SECURITY_WARNING,
            "KMS_DECRYPT_BY_ANY_PRINCIPAL",
            "The statement allows every principal, anonymous callers included, to decrypt with this key, without "
            "a condition. We recommend that you name the principals, or add a condition such as kms:CallerAccount "
            "or aws:PrincipalOrgID.",
            (
                statement_path(statement.index, value("Principal")),
                statement_path(statement.index, value(element), *((index(position),) if position >= 0 else ())),
            ),
            _KEY_POLICIES,
            supersedes=("PUBLIC_ACCESS",),
        )


def _decrypting_entry(statement: Statement) -> tuple[str, int] | None:
    """The Action entry that allows decryption (element, index), or (NotAction, -1) when NotAction leaves it in."""
    if statement.action is not None:
        for position, pattern in enumerate(statement.action):
            if any(any_action_matches(compile_actions([pattern]), action) for action in _DECRYPT_ACTIONS):
                return ("Action", position)
        return None
    excluded = compile_actions(statement.not_action or ())
    if all(any_action_matches(excluded, action) for action in _DECRYPT_ACTIONS):
        return None
    return ("NotAction", -1)


# --- checks against a store -----------------------------------------------------------------------------


def lockout_check(
    store: Store,
    clock: Clock,
    *,
    principal: str | None = None,
    key_arn: str | None = None,
    scratch: bool = False,
    caller_principal: Principal | None = None,
) -> PolicyCheck:
    """The lockout safety check of PutKeyPolicy, asked of the live authorizer with the policy as the key's new one.

    The caller is ``principal`` (an ARN :func:`kmsd.authz.explain.principal_from_arn` takes; by default the root
    of the key's account, see :func:`policy_account`); the key is the one ``key_arn`` names, as the store holds
    it, else a symmetric key of that ARN (or of the account, in us-east-1).  ``scratch`` is a throwaway store
    that may be given the account (offline checks, where the root user is the only principal there is);
    a principal the store does not hold raises :class:`~kmsd.authz.explain.ExplainError`.  ``caller_principal``,
    a signed-in caller as the credential resolver knows it (the console's user, session and all), is asked about
    instead of ``principal``.
    """

    def check(policy: Policy) -> Iterator[Finding]:
        account = policy_account(policy, principal, key_arn)
        if scratch and store.get_account(account) is None:
            store.create_account(Account(account, clock.now()))
        asked = caller_principal or principal_from_arn(store, clock, principal or account)
        key = _key_for(store, clock, account, key_arn)
        caller = Caller(principal=asked, region=key.region, request_id="kmsd-policy-check", source_ip="")
        candidate = replace(key, policy=policy.serialize())
        try:
            KmsAuthorizer(store, clock).check_lockout(caller, candidate)
        except AwsError as error:
            if error.message != LOCKOUT_MESSAGE:
                raise
            yield Finding(
                FindingType.ERROR,
                "KMS_KEY_POLICY_LOCKOUT",
                f"{LOCKOUT_MESSAGE} {asked.arn} could not call kms:PutKeyPolicy on the key under this "
                "policy, so CreateKey and PutKeyPolicy refuse it unless BypassPolicyLockoutSafetyCheck is set.",
                ((value("Statement"),),),
                _LOCKOUT,
            )

    return check


_ACCOUNT = re.compile(r"\d{12}")
DEFAULT_ACCOUNT = "000000000000"


def policy_account(policy: Policy, principal: str | None, key_arn: str | None) -> str:
    """The account a key policy is for: the key's, else the principal's, else the first account it names.

    With none of them (a policy naming only services or ``*``), kmsd's default account ``000000000000``.
    """
    for arn in (key_arn, principal):
        if arn is None:
            continue
        if _ACCOUNT.fullmatch(arn):
            return arn
        parts = split_arn(arn)
        if parts is not None and _ACCOUNT.fullmatch(parts[4]):
            return parts[4]
    for statement in policy.statements:
        for element in (statement.principal, statement.not_principal):
            for kind, values in element.entries if element is not None else ():
                for text in values if kind == "AWS" else ():
                    found = text if _ACCOUNT.fullmatch(text) else (split_arn(text) or ("",) * 6)[4]
                    if _ACCOUNT.fullmatch(found):
                        return found
    return DEFAULT_ACCOUNT


# The key a policy is checked for when no existing key is named: KMS's default key (CreateKey's defaults).
_UNNAMED_KEY_ID = "00000000-0000-0000-0000-000000000000"


def _key_for(store: Store, clock: Clock, account: str, key_arn: str | None) -> KeyRecord:
    parts = split_arn(key_arn) if key_arn is not None else None
    region, key_id = "us-east-1", _UNNAMED_KEY_ID
    if parts is not None and parts[5].startswith("key/"):
        region, key_id = parts[3], parts[5][len("key/") :]
        existing = store.get_key(key_id, region)
        if existing is not None and existing.account_id == account:
            return existing
    return KeyRecord(
        key_id=key_id,
        account_id=account,
        region=region,
        description="",
        key_usage="ENCRYPT_DECRYPT",
        key_spec="SYMMETRIC_DEFAULT",
        origin="AWS_KMS",
        key_state="Enabled",
        creation_date=clock.now(),
        policy="",
        current_material_version=1,
    )


def delegation_check(store: Store, *, principal: str | None = None, key_arn: str | None = None) -> PolicyCheck:
    """Identity policies of the key's account that name the key, for actions the key policy keeps from IAM.

    Without ``key_arn``, a statement names "the key" when it names any KMS key of the account (the key's ARN is
    not known yet, as when the policy is written for CreateKey).
    """

    def check(policy: Policy) -> Iterator[Finding]:
        account = policy_account(policy, principal, key_arn)
        references = _identity_references(store, account, key_arn)
        if not references:
            return
        delegated = _delegated_actions(policy, account)
        missing: dict[str, list[str]] = {}
        for policy_name, action in references:
            if action not in delegated:
                missing.setdefault(action, []).append(policy_name)
        if not missing:
            return
        actions = ", ".join(sorted(missing))
        names = ", ".join(sorted({name for found in missing.values() for name in found}))
        yield Finding(
            FindingType.WARNING,
            "KMS_MISSING_IAM_DELEGATION",
            f"Identity policies of account {account} allow {actions} on this key ({names}), but the key policy "
            f"does not allow the account (arn:aws:iam::{account}:root) these actions, so those allows have no "
            'effect. Add a statement such as "Enable IAM User Permissions" to use them.',
            ((value("Statement"),),),
            _DEFAULT_POLICY,
        )

    return check


@cache
def _kms_actions() -> tuple[str, ...]:
    """Every KMS action (folded), from the permissions table."""
    return tuple(sorted({action for action, _ in _operation_keys() if action.startswith("kms:")}))


def _identity_references(store: Store, account: str, key_arn: str | None) -> list[tuple[str, str]]:
    """(policy name, folded KMS action) for each Allow of a KMS action on the key in the account's IAM policies.

    A statement names the key when a ``Resource`` pattern other than a bare ``*`` matches its ARN (or, without
    one, names a KMS key of the account): ``*`` is every resource of every service, not a reference to a key.
    """
    owners = [
        *(("user", user.user_id, user.arn) for user in store.list_users(account)),
        *(("group", group.group_id, group.arn) for group in store.list_groups(account)),
        *(("role", role.role_id, role.arn) for role in store.list_roles(account)),
    ]
    found: list[tuple[str, str]] = []
    for owner_kind, owner_id, owner_arn in owners:
        for policy in owned_policies(store, owner_kind, owner_id, owner_arn):
            for statement in policy.statements:
                if statement.effect is not Effect.ALLOW or statement.action is None or statement.resource is None:
                    continue
                named = any(_names_key(pattern, account, key_arn) for pattern in statement.resource)
                if not named:
                    continue
                matchers = compile_actions(statement.action)
                found.extend(
                    (policy.policy_id, action) for action in _kms_actions() if any_action_matches(matchers, action)
                )
    return found


def _names_key(pattern: str, account: str, key_arn: str | None) -> bool:
    if pattern == "*":
        return False
    if key_arn is not None:
        return arn_matcher(tokens_from_text(pattern)).matches(key_arn, split_arn(key_arn))
    parts = pattern.split(":", 5)
    if len(parts) != 6:
        return False
    service, owner, resource = compile_actions([parts[2], parts[4], parts[5]])
    # A specific key ("key/1234...") or a pattern over keys ("key/*", "*"): either may be the key to come.
    return service("kms") and owner(account) and (parts[5].startswith("key/") or resource("key/x"))


def _delegated_actions(policy: Policy, account: str) -> frozenset[str]:
    """The KMS actions (folded) that an Allow statement of the key policy gives the account itself."""
    names = {account, *(f"arn:{partition}:iam::{account}:root" for partition in ("aws", "aws-cn", "aws-us-gov"))}
    delegated: set[str] = set()
    for statement in policy.statements:
        principal = statement.principal
        if statement.effect is not Effect.ALLOW or principal is None:
            continue
        to_account = principal.everyone or any(
            kind == "AWS" and (names & set(values) or "*" in values) for kind, values in principal.entries
        )
        if not to_account:
            continue
        if statement.action is not None:
            matchers = compile_actions(statement.action)
            delegated.update(action for action in _kms_actions() if any_action_matches(matchers, action))
        else:
            excluded = compile_actions(statement.not_action or ())
            delegated.update(action for action in _kms_actions() if not any_action_matches(excluded, action))
    return frozenset(delegated)
