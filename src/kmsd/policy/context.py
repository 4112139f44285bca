"""The request a policy set is evaluated against: who asks, which action, which resource, which keys.

The authorizer builds one :class:`RequestContext` per call, so building one
costs a few attribute stores and dictionary lookups: the keys mapping is kept
as given, not copied.  Condition key names are case-insensitive (IAM User
Guide, "IAM JSON policy elements: Condition": "Condition key names are not
case-sensitive"); the lower-cased names are worked out once per distinct set
of key names, not once per request, since an authorizer sends the same names
call after call, and a lookup goes from the lower-cased name to the caller's
spelling.  A key given as a ``str`` is single-valued; one given as a list or
tuple is multivalued, even with one element.

Some keys exist only for IAM policies.  AWS KMS supplies ``kms:ResourceAliases``
("You can use this condition key only in IAM policies", KMS Developer Guide,
"Condition keys for AWS KMS") and ``aws:ResourceTag/*`` ("supported only in
IAM policies. It isn't supported in key policies", "Use tags to control access
to KMS keys") when it evaluates identity-based policies, permissions
boundaries and session policies, not the key policy.  A context names such
keys in ``iam_only_keys`` (a name, or a prefix ending in ``*``:
``aws:ResourceTag/*``), and :meth:`RequestContext.for_resource_policies` is the
context a resource-based policy sees: the same request with those keys absent,
so a positive operator on one is false, a negated one true, ``...IfExists``
true, ``Null: true`` holds, and a policy variable ``${...}`` that reads one is
unresolved.  The engine reads keys only through ``spellings`` (never
``keys`` directly), so that view is built by leaving the hidden names out of
``spellings`` (``resource_spellings``), worked out once per distinct set of key
names.

Two spellings of one key (``{"tenant": "b", "TENANT": "a"}`` as an
encryption context, tags ``env`` and ``ENV``) are one condition key to a
policy, since key names ignore case ("kms:EncryptionContext:context-key":
"the condition key is not case sensitive").  Which value it has must not
depend on the order of the request's members, so the context keeps them
all: the key's value becomes a :class:`Spellings`, one value per spelling,
listed in the order of the spellings' sorted names, under the first of those
names; ``colliding`` holds the lower-cased names of such keys.  A condition
that reads one is decided once per spelling (see
:mod:`kmsd.policy.conditions`): an Allow needs it to hold for every
spelling, a Deny for any, so no spelling can pass a condition that another
would fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

PRINCIPAL_KINDS = frozenset({"root", "user", "role", "assumed-role", "service", "federated", "anonymous"})


@dataclass(frozen=True, init=False)
class PrincipalInfo:
    """The caller as policies see it.

    ``kind`` is one of ``root``, ``user``, ``role``, ``assumed-role``,
    ``service``, ``federated`` or ``anonymous``.  For ``service`` and
    ``federated`` the ``arn`` is the service name or the identity provider.
    ``role_arn`` is the role (with its path) behind an assumed-role session.
    """

    arn: str
    account_id: str
    kind: str
    role_arn: str | None = None

    def __init__(self, arn: str, account_id: str, kind: str, role_arn: str | None = None) -> None:
        if kind not in PRINCIPAL_KINDS:
            raise ValueError(f"unknown principal kind `{kind}`")
        # Direct stores into the instance dictionary instead of the frozen dataclass's object.__setattr__
        # per field: one principal is built per request.
        attributes = self.__dict__
        attributes["arn"] = arn
        attributes["account_id"] = account_id
        attributes["kind"] = kind
        attributes["role_arn"] = role_arn


# A condition key's value as the engine reads it: a ``str`` is single-valued, a tuple multivalued.
KeyValue = str | tuple[str, ...]


class Spellings(tuple[str | tuple[str, ...], ...]):
    """The values of one key the request spelled several ways, one per spelling (in sorted-name order).

    Not a multivalued key: each element is what the key would hold had the
    request used only that spelling.
    """

    __slots__ = ()


_NO_KEYS: Mapping[str, str | Sequence[str]] = MappingProxyType({})

# Lower-cased key name -> the spelling the caller used, per distinct tuple of key names.  Emptied when full.
_SPELLINGS_LIMIT = 1024
# Threads share it without a lock: each dictionary operation is atomic, and a lost entry is only recomputed.
_spellings: dict[tuple[str, ...], dict[str, str]] = {}


# Per (key names, IAM-only keys): the spellings every policy sees, and those a resource-based policy sees (the
# same mapping when no IAM-only key is present).  One lookup serves both.  Emptied when full.
_spelling_pairs: dict[tuple[tuple[str, ...], frozenset[str]], tuple[dict[str, str], dict[str, str]]] = {}
_NONE_HIDDEN: frozenset[str] = frozenset()


def hidden_names(folded_names: Iterable[str], hidden: frozenset[str]) -> frozenset[str]:
    """Those of ``folded_names`` (lower-cased) that ``hidden`` names, exactly or by a prefix ending in ``*``."""
    exact = frozenset(entry.lower() for entry in hidden if not entry.endswith("*"))
    prefixes = tuple(entry[:-1].lower() for entry in hidden if entry.endswith("*"))
    return frozenset(name for name in folded_names if name in exact or name.startswith(prefixes))


def _fold_pair(names: tuple[str, ...], hidden: frozenset[str]) -> tuple[dict[str, str], dict[str, str]]:
    spellings = _spellings.get(names)
    if spellings is None:
        spellings = _fold_names(names)
    left_out = hidden_names(spellings, hidden)
    visible = {folded: name for folded, name in spellings.items() if folded not in left_out}
    # Nothing hidden is present: the same mapping, so that identity tells the view is the context itself.
    pair = (spellings, spellings if len(visible) == len(spellings) else visible)
    if len(_spelling_pairs) >= _SPELLINGS_LIMIT:
        _spelling_pairs.clear()
    _spelling_pairs[(names, hidden)] = pair
    return pair


def _fold_names(names: tuple[str, ...]) -> dict[str, str]:
    found = {name.lower(): name for name in names}
    if len(found) != len(names):
        # Spellings that differ only in case: the least name stands for all, whatever the members' order.
        groups = _group_spellings(names)
        for folded, group in groups.items():
            found[folded] = group[0]
        if len(_collisions) >= _SPELLINGS_LIMIT:
            _collisions.clear()
        _collisions[names] = groups
    if len(_spellings) >= _SPELLINGS_LIMIT:
        _spellings.clear()
    _spellings[names] = found
    return found


# Per tuple of key names that spells a key several ways: lower-cased name -> its spellings, sorted.
_collisions: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = {}


def _group_spellings(names: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(name.lower(), []).append(name)
    return {folded: tuple(sorted(group)) for folded, group in groups.items() if len(group) > 1}


def _merge_spellings(
    names: tuple[str, ...], keys: Mapping[str, str | Sequence[str]]
) -> tuple[dict[str, str | Sequence[str]], frozenset[str]]:
    """``keys`` with each key spelled several ways held once, as a :class:`Spellings` under its least name."""
    groups = _collisions.get(names)
    if groups is None:
        groups = _group_spellings(names)
    # Typed as the mapping a context holds: a Spellings is a tuple too, and the engine tells them apart by
    # ``context.colliding`` before it reads one.
    merged: dict[str, Any] = dict(keys)
    for group in groups.values():
        values = tuple(merged.pop(name) for name in group)
        merged[group[0]] = Spellings(value if isinstance(value, str) else tuple(value) for value in values)
    return merged, frozenset(groups)


# Per distinct action and resource text: its lower-cased form, its account field ("" for `*` or an ARN without
# one).  Authorizers repeat both call after call; a lookup costs less than splitting an ARN.  Emptied when full.
_DERIVED_LIMIT = 4096
_folded_actions: dict[str, str] = {}
_resource_accounts: dict[str, str] = {}


def _fold_action(action: str) -> str:
    folded = action.lower()
    if len(_folded_actions) >= _DERIVED_LIMIT:
        _folded_actions.clear()
    _folded_actions[action] = folded
    return folded


def _account_field(resource: str) -> str:
    account = ""
    if resource.startswith("arn:"):
        parts = resource.split(":", 5)
        if len(parts) == 6:
            account = parts[4]
    if len(_resource_accounts) >= _DERIVED_LIMIT:
        _resource_accounts.clear()
    _resource_accounts[resource] = account
    return account


@dataclass(frozen=True, init=False)
class RequestContext:
    """One request: ``action`` (``kms:Encrypt``), ``resource`` (an ARN or ``*``), the principal, the keys.

    ``resource_account`` defaults to the account field of the resource ARN; a
    ``*`` resource (CreateKey, ListKeys, ...) or one without an account
    belongs to the caller's account.  ``folded_action``, ``same_account`` and
    ``spellings`` (each key's lower-cased name -> its name in ``keys``) are
    derived when the context is built, and so is ``resource_spellings``, the
    same without ``iam_only_keys``.  ``keys`` is read, not copied: do not
    change the mapping once the context is built.  ``iam_only_keys`` names the
    keys resource-based policies do not see (see the module docstring and
    :meth:`for_resource_policies`); matching ignores case.
    """

    action: str
    resource: str
    principal: PrincipalInfo
    keys: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    resource_account: str | None = None
    iam_only_keys: frozenset[str] = frozenset()
    folded_action: str = field(init=False, repr=False, compare=False)
    same_account: bool = field(init=False, repr=False, compare=False)
    spellings: Mapping[str, str] = field(init=False, repr=False, compare=False)
    resource_spellings: Mapping[str, str] = field(init=False, repr=False, compare=False)
    colliding: frozenset[str] = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        action: str,
        resource: str,
        principal: PrincipalInfo,
        keys: Mapping[str, str | Sequence[str]] = _NO_KEYS,
        resource_account: str | None = None,
        iam_only_keys: frozenset[str] = frozenset(),
    ) -> None:
        if resource_account is None:
            account = _resource_accounts.get(resource)
            if account is None:
                account = _account_field(resource)
            same_account = not account or account == principal.account_id
        else:
            same_account = resource_account == principal.account_id
        folded_action = _folded_actions.get(action)
        if folded_action is None:
            folded_action = _fold_action(action)
        names = tuple(keys)
        if iam_only_keys:
            pair = _spelling_pairs.get((names, iam_only_keys))
            if pair is None:
                pair = _fold_pair(names, iam_only_keys)
            spellings, resource_spellings = pair
        else:
            folded = _spellings.get(names)
            spellings = resource_spellings = folded if folded is not None else _fold_names(names)
        colliding = _NONE_HIDDEN
        if len(spellings) != len(names):
            # Rare: the request spelled a key several ways.  Its value becomes their Spellings.
            keys, colliding = _merge_spellings(names, keys)
        # Direct stores into the instance dictionary, as in PrincipalInfo: a context is built per request.
        attributes = self.__dict__
        attributes["action"] = action
        attributes["resource"] = resource
        attributes["principal"] = principal
        attributes["keys"] = keys
        attributes["resource_account"] = resource_account
        attributes["folded_action"] = folded_action
        attributes["same_account"] = same_account
        attributes["spellings"] = spellings
        attributes["resource_spellings"] = resource_spellings
        attributes["iam_only_keys"] = iam_only_keys
        attributes["colliding"] = colliding

    def narrowed(self, values: Mapping[str, KeyValue]) -> RequestContext:
        """The same request with the keys named in ``values`` (by their names in ``keys``) set to one spelling each."""
        found = object.__new__(RequestContext)
        view = found.__dict__
        view.update(self.__dict__)
        view.pop("_resource_view", None)
        keys = dict(self.keys)
        keys.update(values)
        view["keys"] = keys
        view["colliding"] = self.colliding - {name.lower() for name in values}
        return found

    def for_resource_policies(self) -> RequestContext:
        """The request as a resource-based policy sees it: ``iam_only_keys`` absent; ``self`` when none is present.

        Built on first use and kept with the context.  The view shares
        ``keys`` and differs only in ``spellings`` (it is this context's
        ``resource_spellings``), which every lookup goes through; its own
        ``iam_only_keys`` is empty.
        """
        attributes = self.__dict__
        found: RequestContext | None = attributes.get("_resource_view")
        if found is not None:
            return found
        visible = self.resource_spellings
        if visible is self.spellings:
            return self
        found = object.__new__(RequestContext)
        view = found.__dict__
        view.update(attributes)
        view["spellings"] = visible
        view["iam_only_keys"] = _NONE_HIDDEN
        attributes["_resource_view"] = found
        return found

    def value(self, folded_name: str) -> KeyValue | None:
        """The value of the key whose lower-cased name is ``folded_name``, or ``None`` when the request lacks it."""
        name = self.spellings.get(folded_name)
        if name is None:
            return None
        found = self.keys[name]
        return found if isinstance(found, str) else tuple(found)
