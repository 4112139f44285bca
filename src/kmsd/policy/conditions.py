"""Compiled conditions: one operator applied to one context key, with AWS's edge cases.

IAM User Guide, "Condition operators" and "Conditions with multiple context
keys or values":

- several policy values for one key are OR; for a negated operator
  (``...Not...``, ``NotIpAddress``) they are NOR;
- a key absent from the request makes a positive operator false and a negated
  one true; ``...IfExists`` makes it true; ``Null`` tests presence itself;
- ``ForAllValues`` is true when the key is absent or empty, ``ForAnyValue`` is
  false;
- an operator without a set prefix used on a multivalued key that holds
  several values is false (it compares single values only);
- a policy variable that cannot be resolved makes the condition false;
- a key the request spelled several ways (``tenant`` and ``TENANT``, see
  :class:`~kmsd.policy.context.Spellings`) is decided once per spelling,
  with the condition's other keys as they are: a condition in an Allow
  statement holds only if it holds for every spelling, one in a Deny
  statement if it holds for any, so the decision never depends on the order
  of the request's members and no spelling passes a condition that another
  would fail.  With several such keys every combination of their spellings
  is tried, up to :data:`MAX_SPELLING_VIEWS`; past that the condition fails
  closed (false in an Allow, true in a Deny).

Policy values are parsed once here, so a malformed number, date, range or
base64 value is a validation error, never a surprise at evaluation time.
"""

from __future__ import annotations

import itertools
import math
import operator as op
from collections.abc import Callable, Sequence
from functools import lru_cache

from kmsd.policy.arn import arn_matcher, split_arn
from kmsd.policy.context import RequestContext
from kmsd.policy.model import Condition
from kmsd.policy.operators import Comparison, Family, Operator, SetOperator, parse_operator
from kmsd.policy.values import (
    IpNetwork,
    parse_binary,
    parse_date,
    parse_ipv4_address,
    parse_network,
    parse_null_flag,
    parse_number,
)
from kmsd.policy.variables import Template, parse_template, variable_value
from kmsd.policy.wildcard import STAR, Token, compile_tokens

# An address or range as integers: (IP version, first address, prefix length).
IntegerRange = tuple[int, int, int]


@lru_cache(maxsize=1024)
def request_range(value: str) -> IntegerRange | None:
    """A request's address or range, parsed once per distinct value: callers repeat, and ipaddress is slow."""
    network = parse_network(value)
    if network is None:
        return None
    return network.version, int(network.network_address), network.prefixlen


# aws:CurrentTime and aws:EpochTime change once a second, so many requests in a row send the same text.
request_date = lru_cache(maxsize=1024)(parse_date)


class ConditionError(ValueError):
    """A condition the parser must reject; the message names the operator, key and value."""


_COMPARE: dict[Comparison, Callable[[float, float], bool]] = {
    Comparison.EQUAL: op.eq,
    Comparison.LESS: op.lt,
    Comparison.LESS_EQUAL: op.le,
    Comparison.GREATER: op.gt,
    Comparison.GREATER_EQUAL: op.ge,
}


Predicate = Callable[[str], bool]
Builder = Callable[[tuple[tuple[Token, ...], ...]], Predicate]


class ValueTest:
    """Compares one request value against all of a condition's policy values (the positive sense).

    ``variable_keys`` are the lower-cased keys its policy variables read.
    """

    variable_keys: frozenset[str] = frozenset()

    def for_request(self, context: RequestContext) -> Predicate | None:
        """The comparison with policy variables resolved; ``None`` when one cannot be resolved."""
        raise TypeError("ValueTest is abstract")


class StaticTest(ValueTest):
    """A test whose policy values hold no variables, so one predicate serves every request."""

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate

    def for_request(self, context: RequestContext) -> Predicate | None:
        return self.predicate


class TemplateTest(ValueTest):
    """A String, Bool or Arn test whose values hold policy variables, rebuilt per request."""

    def __init__(self, templates: tuple[Template, ...], build: Builder) -> None:
        self._templates = templates
        self._build = build
        self._keys = tuple(sorted({key for template in templates for key in template.variable_keys}))
        self._only_key = self._keys[0] if len(self._keys) == 1 else None
        self.variable_keys = frozenset(self._keys)
        # Variable values repeat across requests (one user, one tag value), so predicates are kept per value.
        self._by_values: dict[object, Predicate | None] = {}

    def for_request(self, context: RequestContext) -> Predicate | None:
        signature: object
        only_key = self._only_key
        if only_key is not None:
            # variable_value(), inlined: this runs for every request that reaches the condition.
            name = context.spellings.get(only_key)
            signature = None
            if name is not None:
                found = context.keys[name]
                if isinstance(found, str):
                    signature = found
        else:
            signature = tuple(variable_value(context, key) for key in self._keys)
        cached = self._by_values.get(signature, _uncached)
        if cached is not _uncached:
            return cached
        predicate = self._resolve(context)
        if len(self._by_values) >= _PREDICATE_CACHE:
            self._by_values.clear()
        self._by_values[signature] = predicate
        return predicate

    def _resolve(self, context: RequestContext) -> Predicate | None:
        resolved: list[tuple[Token, ...]] = []
        for template in self._templates:
            tokens = template.resolve(context)
            if tokens is None:
                return None
            resolved.append(tokens)
        return self._build(tuple(resolved))


_PREDICATE_CACHE = 256


def _uncached(value: str) -> bool:
    """Never stored in a predicate cache, so a lookup returning it found nothing (``None`` is a cached answer)."""
    return False


def _text(tokens: tuple[Token, ...]) -> str:
    return "".join(token if isinstance(token, str) else token.value for token in tokens)


def _equals_builder(ignore_case: bool) -> Builder:
    def build(resolved: tuple[tuple[Token, ...], ...]) -> Predicate:
        if ignore_case:
            folded = frozenset(_text(tokens).lower() for tokens in resolved)
            return lambda value: value.lower() in folded
        return frozenset(_text(tokens) for tokens in resolved).__contains__

    return build


def _like(resolved: tuple[tuple[Token, ...], ...]) -> Predicate:
    matchers = tuple(compile_tokens(tokens) for tokens in resolved)
    if len(matchers) == 1:
        return matchers[0]
    return lambda value: any(matcher(value) for matcher in matchers)


def _arn_like(resolved: tuple[tuple[Token, ...], ...]) -> Predicate:
    if any(tokens == (STAR,) for tokens in resolved):
        return _anything
    matchers = tuple(arn_matcher(tokens) for tokens in resolved)

    def matches(value: str) -> bool:
        parts = split_arn(value)
        return any(matcher.matches(value, parts) for matcher in matchers)

    return matches


def _anything(value: str) -> bool:
    return True


def _template_test(templates: tuple[Template, ...], build: Builder) -> ValueTest:
    if any(template.has_variables for template in templates):
        return TemplateTest(templates, build)
    return StaticTest(build(tuple(template.constant_tokens() for template in templates)))


def _ordered_test(bounds: tuple[float, ...], comparison: Comparison, parse: Callable[[str], float | None]) -> ValueTest:
    compare = _COMPARE[comparison]

    def matches(value: str) -> bool:
        parsed = parse(value)
        return parsed is not None and any(compare(parsed, bound) for bound in bounds)

    return StaticTest(matches)


def _binary_test(blobs: frozenset[bytes]) -> ValueTest:
    def matches(value: str) -> bool:
        decoded = parse_binary(value)
        return (decoded if decoded is not None else value.encode("utf-8", "surrogatepass")) in blobs

    return StaticTest(matches)


def _ip_test(networks: tuple[IpNetwork, ...]) -> ValueTest:
    ranges = tuple(
        (network.version, int(network.network_address), network.prefixlen, int(network.netmask)) for network in networks
    )
    ipv4_ranges = tuple((first, mask) for version, first, _, mask in ranges if version == 4)

    def matches(value: str) -> bool:
        single = parse_ipv4_address(value)
        if single is not None:
            # The usual aws:SourceIp, one IPv4 address: inside a range when its network bits match.
            for first, mask in ipv4_ranges:  # noqa: SIM110 - a plain loop: this runs per request
                if single & mask == first:
                    return True
            return False
        address = request_range(value)
        if address is None:
            return False
        version, first, length = address
        for range_version, range_first, range_length, mask in ranges:
            if version == range_version and length >= range_length and first & mask == range_first:
                return True
        return False

    return StaticTest(matches)


# Relative cost of one test, so a statement's conditions run cheapest first and stop at the first that fails.
_FAMILY_COST = {
    Family.NULL: 0,
    Family.BOOL: 1,
    Family.STRING: 1,
    Family.NUMERIC: 2,
    Family.BINARY: 2,
    Family.ARN: 3,
    Family.IP: 3,
    Family.DATE: 3,
}


ContextTest = Callable[[RequestContext], bool]

# Combinations of spellings a condition is decided on at most; past this it fails closed.
MAX_SPELLING_VIEWS = 64


def all_of(tests: Sequence[ContextTest]) -> ContextTest:
    """One test that holds when every one of ``tests`` does, trying them in order and stopping at the first failure."""
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda context: first(context) and second(context)
    chain = tuple(tests)

    def all_hold(context: RequestContext) -> bool:
        for test in chain:  # noqa: SIM110 - a plain loop: this is the evaluator's innermost loop
            if not test(context):
                return False
        return True

    return all_hold


class CompiledCondition:
    """One operator/key pair, ready to evaluate against request contexts.

    ``holds(context)`` is a function chosen when the condition is compiled:
    for the usual shape (a single-value operator without policy variables,
    whose key the request sends as one string) a closure that does only that
    comparison, and otherwise :meth:`evaluate`, which covers every case.
    """

    __slots__ = (
        "_absent",
        "_deny",
        "_for_all",
        "_negated",
        "_null_present",
        "_plain",
        "_static",
        "context_keys",
        "cost",
        "folded_key",
        "holds",
        "key",
        "null_flags",
        "operator",
        "test",
    )

    def __init__(
        self,
        operator: Operator,
        key: str,
        test: ValueTest | None,
        null_flags: frozenset[bool] = frozenset(),
        *,
        deny: bool = False,
    ) -> None:
        self.operator = operator
        # The effect of the statement it belongs to: how a key spelled several ways is decided.
        self._deny = deny
        self.key = key
        self.folded_key = key.lower()
        self.test = test  # None for Null
        # Every key the condition reads (lower-cased): its own and its policy variables'.
        self.context_keys = frozenset({self.folded_key}) | (test.variable_keys if test is not None else frozenset())
        self.null_flags = null_flags
        self._for_all = operator.set_operator is SetOperator.FOR_ALL_VALUES
        self._plain = operator.set_operator is None
        self._negated = operator.base.negated
        # "Null": true tests that the key is absent, false that it is present.
        self._null_present = False in null_flags
        if test is None:
            self._absent = True in null_flags
        else:
            # An absent key: IfExists and ForAllValues hold, ForAnyValue fails, otherwise only negations hold.
            self._absent = operator.if_exists or self._for_all or (self._negated and self._plain)
        self._static = test.predicate if isinstance(test, StaticTest) else None
        base = operator.base
        self.cost = _FAMILY_COST[base.family] + base.wildcards + (not self._plain) + 2 * isinstance(test, TemplateTest)
        # Bound method and closures refer back to this object: a cycle, collected with the compiled policy.
        self.holds: ContextTest = self._single_value_test(test) if self._plain and test is not None else self.evaluate

    def _single_value_test(self, test: ValueTest) -> ContextTest:
        """``holds`` for a single-value operator: one string compared at once, anything else left to evaluate."""
        folded_key = self.folded_key
        absent = self._absent
        negated = self._negated
        evaluate = self.evaluate
        static = self._static
        if static is not None:

            def holds_static(context: RequestContext) -> bool:
                name = context.spellings.get(folded_key)
                if name is None:
                    return absent
                found = context.keys[name]
                if isinstance(found, str):
                    return static(found) != negated
                return evaluate(context)

            return holds_static
        for_request = test.for_request

        def holds_resolved(context: RequestContext) -> bool:
            if context.colliding:
                return evaluate(context)  # a variable may read a key spelled several ways
            name = context.spellings.get(folded_key)
            if name is None:
                return absent
            found = context.keys[name]
            if isinstance(found, str):
                matches = for_request(context)
                return matches is not None and matches(found) != negated
            return evaluate(context)

        return holds_resolved

    def evaluate(self, context: RequestContext) -> bool:
        """Whether the condition holds for ``context``, every operator, key shape and edge case included."""
        if context.colliding and not self.context_keys.isdisjoint(context.colliding):
            return self._over_spellings(context)
        return self._evaluate_one(context)

    def _over_spellings(self, context: RequestContext) -> bool:
        """Decide once per combination of the spellings of the keys read: all must hold (Allow), or any (Deny)."""
        spellings = context.spellings
        names = [spellings[key] for key in sorted(self.context_keys & context.colliding) if key in spellings]
        if not names:
            return self._evaluate_one(context)  # the keys spelled several ways are hidden from this policy
        choices = [context.keys[name] for name in names]
        if math.prod(len(choice) for choice in choices) > MAX_SPELLING_VIEWS:
            return self._deny  # fail closed: no allow, and the deny applies
        views = (
            context.narrowed(dict(zip(names, combination, strict=True))) for combination in itertools.product(*choices)
        )
        if self._deny:
            return any(self._evaluate_one(view) for view in views)
        return all(self._evaluate_one(view) for view in views)

    def _evaluate_one(self, context: RequestContext) -> bool:
        """:meth:`evaluate` for a context whose keys read here are each spelled one way."""
        name = context.spellings.get(self.folded_key)
        if name is None:
            return self._absent
        found = context.keys[name]
        test = self.test
        values: Sequence[str]
        if isinstance(found, str):
            if test is None:
                return self._null_present
            matches = self._static or test.for_request(context)
            if matches is None:
                return False
            if self._plain:
                return matches(found) != self._negated
            values = (found,)
        else:
            if not found:
                return self._absent  # a multivalued key with no values is absent (an empty string is a value)
            if test is None:
                return self._null_present
            if self._plain and len(found) > 1:
                return False  # a single-value operator compares single values only
            matches = self._static or test.for_request(context)
            if matches is None:
                return False
            if self._plain:
                return matches(found[0]) != self._negated
            values = found
        negated = self._negated
        # Plain loops rather than all()/any() over generators: this is the evaluator's innermost loop.
        if self._for_all:
            for value in values:  # noqa: SIM110
                if matches(value) == negated:
                    return False
            return True
        for value in values:  # noqa: SIM110
            if matches(value) != negated:
                return True
        return False


def compile_condition(condition: Condition, *, variables: bool, deny: bool = False) -> CompiledCondition:
    """Compile one condition; raises :class:`ConditionError` for an operator or value IAM rejects.

    ``deny`` is whether the statement is a Deny, which decides how a key spelled several ways is read.
    """
    parsed = parse_operator(condition.operator)
    if parsed is None:
        raise ConditionError(f"unknown condition operator `{condition.operator}`")
    base = parsed.base
    values = condition.values
    family = base.family
    if family is Family.NULL:
        flags = [parse_null_flag(value) for value in values]
        if any(flag is None for flag in flags):
            raise ConditionError(_bad_value(condition, "`true` or `false`"))
        return CompiledCondition(parsed, condition.key, None, frozenset(f for f in flags if f is not None), deny=deny)
    use_variables = variables and base.accepts_variables
    test: ValueTest
    if family in (Family.STRING, Family.BOOL, Family.ARN):
        templates = tuple(parse_template(value, variables=use_variables, wildcards=base.wildcards) for value in values)
        if family is Family.ARN:
            test = _template_test(templates, _arn_like)
        elif base.wildcards:
            test = _template_test(templates, _like)
        else:
            # Bool compares "true"/"false" without regard to case, like StringEqualsIgnoreCase.
            test = _template_test(templates, _equals_builder(base.ignore_case or family is Family.BOOL))
    elif family is Family.NUMERIC:
        numbers = [parse_number(value) for value in values]
        if any(number is None for number in numbers):
            raise ConditionError(_bad_value(condition, "a number"))
        test = _ordered_test(tuple(n for n in numbers if n is not None), base.comparison, parse_number)
    elif family is Family.DATE:
        moments = [parse_date(value) for value in values]
        if any(moment is None for moment in moments):
            raise ConditionError(_bad_value(condition, "an ISO-8601 date or epoch seconds"))
        test = _ordered_test(tuple(m for m in moments if m is not None), base.comparison, request_date)
    elif family is Family.BINARY:
        blobs = [parse_binary(value) for value in values]
        if any(blob is None for blob in blobs):
            raise ConditionError(_bad_value(condition, "base64"))
        test = _binary_test(frozenset(b for b in blobs if b is not None))
    else:
        networks = [parse_network(value) for value in values]
        if any(network is None for network in networks):
            raise ConditionError(_bad_value(condition, "an IPv4 or IPv6 address or CIDR range"))
        test = _ip_test(tuple(n for n in networks if n is not None))
    return CompiledCondition(parsed, condition.key, test, deny=deny)


def _bad_value(condition: Condition, expected: str) -> str:
    shown = ", ".join(f"`{value}`" for value in condition.values)
    return f"`{condition.operator}` on `{condition.key}` needs {expected}, got {shown}"
