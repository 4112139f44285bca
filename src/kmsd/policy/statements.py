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
from kmsd.policy.conditions import CompiledCondition, ConditionError, ContextTest, all_of, compile_condition
from kmsd.policy.context import PrincipalInfo, RequestContext
from kmsd.policy.model import AllowVia, Effect, Statement
from kmsd.policy.principals import CompiledPrincipals, compile_principals
from kmsd.policy.variables import Template, parse_template
from kmsd.policy.wildcard import Token, tokens_from_text


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
        """The lower-cased keys its policy variables read."""
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
        "actions",
        "actions_negated",
        "any_resource",
        "conditions",
        "conditions_by_cost",
        "context_keys",
        "deny",
        "index",
        "principals",
        "principals_negated",
        "request_test",
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
        principal_element = statement.principal if statement.principal is not None else statement.not_principal
        self.principals: CompiledPrincipals | None = (
            compile_principals(principal_element) if principal_element is not None else None
        )
        self.principals_negated = statement.principal is None and statement.not_principal is not None
        try:
            self.conditions: tuple[CompiledCondition, ...] = tuple(
                compile_condition(condition, variables=variables, deny=self.deny) for condition in statement.conditions
            )
        except ConditionError as error:
            raise ConditionError(f"{error} in statement {statement.label}") from None
        # Conditions are ANDed and free of side effects, so the evaluator may try the cheapest first and stop
        # at the first that fails; explain reports them in the document's order.
        self.conditions_by_cost = tuple(sorted(self.conditions, key=lambda condition: condition.cost))
        # Every request key the statement reads (lower-cased), in its conditions and its Resource variables.
        self.context_keys: frozenset[str] = frozenset().union(
            *(condition.context_keys for condition in self.conditions),
            *(pattern.variable_keys for pattern in self.resources),
        )
        # What is left to check per request once action, principal and (without variables) resource match:
        # the resource with its variables resolved, then the conditions; None when nothing is.
        tests: list[ContextTest] = []
        if self.resources_dynamic and not self.any_resource:
            tests.append(self.applies_to_resource)
        tests.extend(condition.holds for condition in self.conditions_by_cost)
        self.request_test: ContextTest | None = all_of(tests) if tests else None

    def applies_to_action(self, folded_action: str) -> bool:
        return any_action_matches(self.actions, folded_action) != self.actions_negated

    def applies_to_resource(self, context: RequestContext) -> bool:
        return self.any_resource or self._match_resources(context, split_arn(context.resource)) is True

    def covers_resource(self, context: RequestContext, parts: SubjectArn | None) -> bool:
        """:meth:`applies_to_resource`, given the request's resource already split by :func:`split_arn`."""
        return self.any_resource or self._match_resources(context, parts) is True

    def _match_resources(self, context: RequestContext, parts: SubjectArn | None) -> bool | None:
        """``None`` when a variable in NotResource cannot be resolved: the statement then does not apply."""
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
        if not self.deny:
            # "NotPrincipal with Allow ... allows all principals except the one named in the NotPrincipal
            # element": a caller that Principal would name (itself, its role, its account) gets nothing here.
            return None if principals.match(principal) is not None else AllowVia.PRINCIPAL
        # "Permissions boundaries for IAM entities": NotPrincipal with Deny always denies a principal that has
        # a permissions boundary, whatever NotPrincipal lists.
        if boundary_present:
            return AllowVia.PRINCIPAL
        # With Deny, a caller is exempted only when every identity it is evaluated as is listed.
        return None if principals.excludes(principal) else AllowVia.PRINCIPAL
