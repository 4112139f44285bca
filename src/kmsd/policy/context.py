"""The request a policy set is evaluated against: who asks, which action, which resource, which keys.

The authorizer builds one :class:`RequestContext` per call.  Condition key
names are case-insensitive (IAM User Guide, "IAM JSON policy elements:
Condition": "Condition key names are not case-sensitive"), so the context
exposes them folded to lower case once, however many statements read them.
A key given as a ``str`` is single-valued; one given as a list or tuple is
multivalued, even with one element.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

PRINCIPAL_KINDS = frozenset({"root", "user", "role", "assumed-role", "service", "federated", "anonymous"})


@dataclass(frozen=True)
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

    def __post_init__(self) -> None:
        if self.kind not in PRINCIPAL_KINDS:
            raise ValueError(f"unknown principal kind `{self.kind}`")


# A condition key's value as the engine reads it: a ``str`` is single-valued, a tuple multivalued.
KeyValue = str | tuple[str, ...]


_NO_KEYS: Mapping[str, str | Sequence[str]] = MappingProxyType({})


@dataclass(frozen=True, init=False)
class RequestContext:
    """One request: ``action`` (``kms:Encrypt``), ``resource`` (an ARN or ``*``), the principal, the keys.

    ``resource_account`` defaults to the account field of the resource ARN; a
    ``*`` resource (CreateKey, ListKeys, ...) or one without an account
    belongs to the caller's account.  ``folded_action``, ``folded_keys`` and
    ``same_account`` are derived once, when the context is built.
    """

    action: str
    resource: str
    principal: PrincipalInfo
    keys: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    resource_account: str | None = None
    folded_action: str = field(init=False, repr=False, compare=False)
    folded_keys: Mapping[str, KeyValue] = field(init=False, repr=False, compare=False)
    same_account: bool = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        action: str,
        resource: str,
        principal: PrincipalInfo,
        keys: Mapping[str, str | Sequence[str]] = _NO_KEYS,
        resource_account: str | None = None,
    ) -> None:
        folded: dict[str, KeyValue] = {
            name.lower(): value if isinstance(value, str) else tuple(value) for name, value in keys.items()
        }
        account = resource_account
        if account is None:
            account = principal.account_id
            if resource.startswith("arn:"):
                parts = resource.split(":", 5)
                if len(parts) == 6 and parts[4]:
                    account = parts[4]
        # One update of the instance dictionary instead of the frozen dataclass's field-by-field
        # object.__setattr__: a context is built for every request.
        self.__dict__.update(
            action=action,
            resource=resource,
            principal=principal,
            keys=keys,
            resource_account=resource_account,
            folded_action=action.lower(),
            folded_keys=folded,
            same_account=account == principal.account_id,
        )
