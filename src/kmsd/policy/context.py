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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

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


_NO_KEYS: Mapping[str, str | Sequence[str]] = MappingProxyType({})

# Lower-cased key name -> the spelling the caller used, per distinct tuple of key names.  Emptied when full.
_SPELLINGS_LIMIT = 1024
# Threads share it without a lock: each dictionary operation is atomic, and a lost entry is only recomputed.
_spellings: dict[tuple[str, ...], dict[str, str]] = {}


def _fold_names(names: tuple[str, ...]) -> dict[str, str]:
    # In order, so that of two spellings of one key the later wins, as when folding a dict.
    found = {name.lower(): name for name in names}
    if len(_spellings) >= _SPELLINGS_LIMIT:
        _spellings.clear()
    _spellings[names] = found
    return found


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
    derived when the context is built.  ``keys`` is read, not copied: do not
    change the mapping once the context is built.
    """

    action: str
    resource: str
    principal: PrincipalInfo
    keys: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    resource_account: str | None = None
    folded_action: str = field(init=False, repr=False, compare=False)
    same_account: bool = field(init=False, repr=False, compare=False)
    spellings: Mapping[str, str] = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        action: str,
        resource: str,
        principal: PrincipalInfo,
        keys: Mapping[str, str | Sequence[str]] = _NO_KEYS,
        resource_account: str | None = None,
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
        spellings = _spellings.get(names)
        if spellings is None:
            spellings = _fold_names(names)
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

    def value(self, folded_name: str) -> KeyValue | None:
        """The value of the key whose lower-cased name is ``folded_name``, or ``None`` when the request lacks it."""
        name = self.spellings.get(folded_name)
        if name is None:
            return None
        found = self.keys[name]
        return found if isinstance(found, str) else tuple(found)
