"""The authorization of one KMS call in progress: what it still needs, checked as its resources become known.

:class:`kmsd.kms.service.KmsService` opens a :class:`CallAuthorization` for
every call, before the handler runs:

- permissions on no key (CreateKey, ListKeys, GenerateRandom, the alias of an
  alias operation) are checked at once;
- permissions on keys are checked when the handler resolves the keys the
  request names (``kmsd.kms.resolve`` reports each key with its role: the key,
  ReEncrypt's source or destination, an alias's current or new key; CreateKey
  reports the key it is about to write, for the ``kms:TagResource`` that Tags
  need), once all the keys of the operation are known -- so
  ``kms:ReEncryptOnSameKey`` can be set -- and before the handler uses any of
  them;
- when the handler returns, :meth:`CallAuthorization.verify_complete` fails
  the call (and rolls its writes back) if a permission was never checked, so
  a handler that forgot to resolve a key through ``resolve`` fails closed.

Grant-decided permissions (RetireGrant) are left to the grant handler.  The
scope lives in a context variable, so handlers keep their signatures and the
grant handlers need no knowledge of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from kmsd.authz.authorizer import CheckResult, KmsAuthorizer, KmsCall, NamedKey, explanation, required_permissions
from kmsd.authz.denial import AccessDeniedError
from kmsd.authz.grants import grant_ids_from_tokens
from kmsd.authz.permissions import Permission, Target, permissions_for
from kmsd.errors import AwsError
from kmsd.iam.principal import Caller
from kmsd.store.models import KeyRecord

_current: ContextVar[CallAuthorization | None] = ContextVar("kmsd_call_authorization", default=None)


class CallAuthorization:
    def __init__(
        self,
        authorizer: KmsAuthorizer,
        operation: str,
        caller: Caller,
        params: Mapping[str, Any],
        via_service: str | None = None,
    ) -> None:
        self.authorizer = authorizer
        self.operation = operation
        self.caller = caller
        self.params = params
        self.via_service = via_service
        self.row = permissions_for(operation)
        self.required = required_permissions(self.row, params)
        if self.required is self.row.permissions:
            self.key_targets = self.row.key_targets
        else:
            self.key_targets = frozenset(permission.target for permission in self.required if permission.on_key)
        alias_name = params.get("AliasName")
        self.alias_arn: str | None = None
        if alias_name is not None:
            # Alias operations act on an alias of the caller's own account and Region ("Cross-account use: No").
            self.alias_arn = f"arn:aws:kms:{caller.region}:{caller.principal.account_id}:{alias_name}"
        self.keys: dict[Target, NamedKey] = {}
        self.results: list[CheckResult] = []
        # The permissions checked so far, by identity: they are the table's own objects, and hashing one
        # would hash its enums on every call.
        self._checked: set[int] = set()

    def call(self) -> KmsCall:
        """The call as the authorizer sees it, with the keys known so far."""
        return KmsCall(self.operation, self.caller, self.params, dict(self.keys), self.alias_arn, self.via_service)

    def resolve_params(self, params: Mapping[str, Any]) -> None:
        """The request as the handler resolved it (CreateGrant: each principal as the stored entity's ARN).

        Every check from now on sees these values in its condition keys, so a policy is evaluated
        against what the call will act on, not against another spelling of it.  Only before any key
        check: a permission checked already would have seen the request as sent.
        """
        if self.keys:
            raise AwsError("KMSInternalException", "", 500)
        self.params = params

    def authorize_keyless(self) -> None:
        """Check every permission that needs no key: those on ``*``, aliases and principals, and grant-decided ones."""
        tokens = self.params.get("GrantTokens")
        if tokens:
            # A malformed grant token fails the request whatever else would allow it.
            grant_ids_from_tokens(tokens)
        for permission in self.required:
            if not permission.on_key:
                self._check(permission)

    def key_resolved(self, target: Target, key: KeyRecord, request_alias: str | None = None) -> None:
        """A key the request names is known; once all of them are, check the permissions on them."""
        if target not in self.key_targets or target in self.keys:
            return
        self.keys[target] = NamedKey(key, request_alias)
        if len(self.keys) < len(self.key_targets):
            return
        for permission in self.required:
            if permission.on_key:
                self._check(permission)

    def verify_complete(self) -> None:
        """Fail closed when the handler finished without every permission having been checked."""
        if len(self._checked) != len(self.required):
            raise AwsError("KMSInternalException", "", 500)

    def _check(self, permission: Permission) -> None:
        if id(permission) in self._checked:
            return
        call = self.call()
        result = self.authorizer.check(call, self.row, permission)
        self.results.append(result)
        self._checked.add(id(permission))
        if not result.allowed:
            results = list(self.results)
            raise AccessDeniedError(result.message(self.caller.principal.arn), lambda: explanation(call, results))


class authorizing:
    """``with authorizing(scope):`` makes ``scope`` the authorization of the call that runs inside the block.

    A class rather than a generator-based context manager: it is entered on every KMS call.
    """

    __slots__ = ("_scope", "_token")

    def __init__(self, scope: CallAuthorization) -> None:
        self._scope = scope

    def __enter__(self) -> CallAuthorization:
        self._token = _current.set(self._scope)
        return self._scope

    def __exit__(self, *exc_info: object) -> None:
        _current.reset(self._token)


def current_call() -> CallAuthorization | None:
    """The authorization of the call in progress, or None outside any call (the periodic sweep, tests)."""
    return _current.get()


def key_resolved(target: Target, key: KeyRecord, request_alias: str | None = None) -> None:
    """Report a key the request names to the call in progress, if there is one."""
    scope = _current.get()
    if scope is not None:
        scope.key_resolved(target, key, request_alias)
