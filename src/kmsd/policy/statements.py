"""One statement compiled into matchers: actions, resources, principals and conditions.

A :class:`CompiledStatement` holds compiled action patterns, resource ARN
patterns (pre-split, wildcards compiled, variables kept as templates to
resolve per request), the principal sets and the compiled conditions, and
answers one element at a time.  It does not depend on ``policy_id``, so one
compiled document serves every policy that shares its text.
"""

from __future__ import annotations

from kmsd.policy.actions import any_action_matches, compile_actions
from kmsd.policy.arn import ArnMatcher, SubjectArn, arn_matcher, split_arn
from kmsd.policy.conditions import CompiledCondition, ConditionError, compile_condition
from kmsd.policy.context import PrincipalInfo, RequestContext
from kmsd.policy.decision import AllowVia
from kmsd.policy.model import Effect, Statement
from kmsd.policy.principals import CompiledPrincipals, compile_principals
from kmsd.policy.variables import Template, parse_template
from kmsd.policy.wildcard import Token, tokens_from_text

_CACHE_LIMIT = 1024


class ResourcePattern:
    """One ``Resource``/``NotResource`` entry.

    Variables may appear only in the resource component, after the fifth
    colon (IAM User Guide, "Variables and tags": "You can't use a variable to
    replace parts of the ARN before the fifth colon").
    """

    __slots__ = ("_everything", "_prefix", "_resource", "_static", "text")

    def __init__(self, text: str, *, variables: bool) -> None:
        self.text = text
        self._everything = text == "*"
        self._static: ArnMatcher | None = None
        self._prefix: tuple[Token, ...] = ()
        self._resource: Template | None = None
        if self._everything:
            return
        head = text.split(":", 5)
        resource_text = head[5] if len(head) == 6 else None
        template = (
            parse_template(resource_text, variables=variables, wildcards=True) if resource_text is not None else None
        )
        if template is None or not template.has_variables:
            self._static = arn_matcher(tokens_from_text(text) if template is None else _joined(head, template))
            return
        prefix: list[Token] = []
        for segment in head[:5]:
            prefix.extend(tokens_from_text(segment))
            prefix.append(":")
        self._prefix = tuple(prefix)
        self._resource = template

    @property
    def has_variables(self) -> bool:
        return self._resource is not None

    @property
    def variable_keys(self) -> frozenset[str]:
        return self._resource.variable_keys if self._resource is not None else frozenset()

    def matches(self, context: RequestContext, parts: SubjectArn | None) -> bool | None:
        """Whether the request's resource matches; ``None`` when a variable cannot be resolved."""
        if self._everything:
            return True
        subject = context.resource
        if self._static is not None:
            return self._static.matches(subject, parts)
        assert self._resource is not None
        tokens = self._resource.resolve(context)
        if tokens is None:
            return None
        return arn_matcher(self._prefix + tokens).matches(subject, parts)


def _joined(head: list[str], template: Template) -> tuple[Token, ...]:
    tokens: list[Token] = []
    for segment in head[:5]:
        tokens.extend(tokens_from_text(segment))
        tokens.append(":")
    tokens.extend(template.constant_tokens())
    return tuple(tokens)


class CompiledStatement:
    """One statement as matchers; ``applies_*`` methods answer one element each."""

    __slots__ = (
        "_resource_cache",
        "actions",
        "actions_negated",
        "any_resource",
        "conditions",
        "deny",
        "index",
        "principals",
        "principals_negated",
        "resources",
        "resources_dynamic",
        "resources_negated",
        "statement",
    )

    def __init__(self, statement: Statement, *, variables: bool) -> None:
        self.statement = statement
        self.index = statement.index
        self.deny = statement.effect is Effect.DENY
        action_patterns = statement.action if statement.action is not None else statement.not_action or ()
        self.actions = compile_actions(action_patterns)
        self.actions_negated = statement.action is None
        resource_patterns = statement.resource if statement.resource is not None else statement.not_resource or ()
        self.resources = tuple(ResourcePattern(text, variables=variables) for text in resource_patterns)
        self.resources_negated = statement.resource is None
        self.resources_dynamic = any(pattern.has_variables for pattern in self.resources)
        # `"Resource": "*"` (every key policy statement) needs no check at all.
        # So does a resource-based policy statement without Resource: it covers the resource it is attached to.
        self.any_resource = (resource_patterns == ("*",) and not self.resources_negated) or (
            statement.resource is None and statement.not_resource is None
        )
        self._resource_cache: dict[str, bool] = {}
        principal_element = statement.principal if statement.principal is not None else statement.not_principal
        self.principals: CompiledPrincipals | None = (
            compile_principals(principal_element) if principal_element is not None else None
        )
        self.principals_negated = statement.principal is None and statement.not_principal is not None
        try:
            self.conditions: tuple[CompiledCondition, ...] = tuple(
                compile_condition(condition, variables=variables) for condition in statement.conditions
            )
        except ConditionError as error:
            raise ConditionError(f"{error} in statement {statement.label}") from None

    def applies_to_action(self, folded_action: str) -> bool:
        return any_action_matches(self.actions, folded_action) != self.actions_negated

    def applies_to_resource(self, context: RequestContext) -> bool:
        if self.any_resource:
            return True
        if not self.resources_dynamic:
            cached = self._resource_cache.get(context.resource)
            if cached is None:
                cached = self._match_resources(context) is True
                if len(self._resource_cache) >= _CACHE_LIMIT:
                    self._resource_cache.clear()
                self._resource_cache[context.resource] = cached
            return cached
        return self._match_resources(context) is True

    def _match_resources(self, context: RequestContext) -> bool | None:
        """``None`` when a variable in NotResource cannot be resolved: the statement then does not apply."""
        parts = split_arn(context.resource)
        unresolved = False
        for pattern in self.resources:
            matched = pattern.matches(context, parts)
            if matched is None:
                unresolved = True
            elif matched:
                return not self.resources_negated
        if self.resources_negated:
            return None if unresolved else True
        return False

    def principal_via(self, principal: PrincipalInfo, boundary_present: bool) -> AllowVia | None:
        """How Principal/NotPrincipal reaches the caller; ``None`` when it does not.

        A statement without either element (identity-based policies) reaches its caller directly.
        """
        principals = self.principals
        if principals is None:
            return AllowVia.PRINCIPAL
        if not self.principals_negated:
            return principals.match(principal)
        # "Permissions boundaries for IAM entities": NotPrincipal with Deny always denies a principal that has
        # a permissions boundary, whatever NotPrincipal lists.
        if self.deny and boundary_present:
            return AllowVia.PRINCIPAL
        return None if principals.excludes(principal) else AllowVia.PRINCIPAL
