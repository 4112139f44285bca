"""The condition operator names IAM accepts, and how each one is spelled apart.

IAM User Guide, "IAM JSON policy elements: Condition operators": the String,
Numeric, Date, Bool, BinaryEquals, IpAddress/NotIpAddress, Arn and Null
families; ``IfExists`` may be appended to every operator except ``Null``;
``ForAllValues:``/``ForAnyValue:`` may be prefixed for multivalued keys.
Operator names are matched exactly as AWS spells them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Family(enum.Enum):
    STRING = "String"
    NUMERIC = "Numeric"
    DATE = "Date"
    BOOL = "Bool"
    BINARY = "Binary"
    IP = "IpAddress"
    ARN = "Arn"
    NULL = "Null"


class Comparison(enum.Enum):
    EQUAL = "eq"
    LESS = "lt"
    LESS_EQUAL = "le"
    GREATER = "gt"
    GREATER_EQUAL = "ge"


class SetOperator(enum.Enum):
    FOR_ALL_VALUES = "ForAllValues"
    FOR_ANY_VALUE = "ForAnyValue"


@dataclass(frozen=True)
class BaseOperator:
    name: str
    family: Family
    negated: bool = False
    comparison: Comparison = Comparison.EQUAL
    ignore_case: bool = False
    wildcards: bool = False

    @property
    def accepts_variables(self) -> bool:
        # "IAM policy elements: Variables and tags": variables only in String, Arn (and Bool) comparisons.
        return self.family in (Family.STRING, Family.ARN, Family.BOOL)


def _ordered(family: Family, prefix: str) -> list[BaseOperator]:
    return [
        BaseOperator(f"{prefix}Equals", family),
        BaseOperator(f"{prefix}NotEquals", family, negated=True),
        BaseOperator(f"{prefix}LessThan", family, comparison=Comparison.LESS),
        BaseOperator(f"{prefix}LessThanEquals", family, comparison=Comparison.LESS_EQUAL),
        BaseOperator(f"{prefix}GreaterThan", family, comparison=Comparison.GREATER),
        BaseOperator(f"{prefix}GreaterThanEquals", family, comparison=Comparison.GREATER_EQUAL),
    ]


BASE_OPERATORS: dict[str, BaseOperator] = {
    operator.name: operator
    for operator in [
        BaseOperator("StringEquals", Family.STRING),
        BaseOperator("StringNotEquals", Family.STRING, negated=True),
        BaseOperator("StringEqualsIgnoreCase", Family.STRING, ignore_case=True),
        BaseOperator("StringNotEqualsIgnoreCase", Family.STRING, negated=True, ignore_case=True),
        BaseOperator("StringLike", Family.STRING, wildcards=True),
        BaseOperator("StringNotLike", Family.STRING, negated=True, wildcards=True),
        *_ordered(Family.NUMERIC, "Numeric"),
        *_ordered(Family.DATE, "Date"),
        BaseOperator("Bool", Family.BOOL),
        BaseOperator("BinaryEquals", Family.BINARY),
        BaseOperator("IpAddress", Family.IP),
        BaseOperator("NotIpAddress", Family.IP, negated=True),
        # "ArnEquals and ArnLike behave identically": both match per component with wildcards.
        BaseOperator("ArnEquals", Family.ARN, wildcards=True),
        BaseOperator("ArnLike", Family.ARN, wildcards=True),
        BaseOperator("ArnNotEquals", Family.ARN, negated=True, wildcards=True),
        BaseOperator("ArnNotLike", Family.ARN, negated=True, wildcards=True),
        BaseOperator("Null", Family.NULL),
    ]
}


@dataclass(frozen=True)
class Operator:
    """A full operator: optional set prefix, base operator, optional ``IfExists``."""

    base: BaseOperator
    set_operator: SetOperator | None = None
    if_exists: bool = False

    @property
    def name(self) -> str:
        prefix = f"{self.set_operator.value}:" if self.set_operator is not None else ""
        suffix = "IfExists" if self.if_exists else ""
        return f"{prefix}{self.base.name}{suffix}"


def parse_operator(text: str) -> Operator | None:
    """The operator spelled ``text``, or ``None`` when IAM has no such operator."""
    set_operator: SetOperator | None = None
    name = text
    for candidate in SetOperator:
        if name.startswith(candidate.value + ":"):
            set_operator = candidate
            name = name[len(candidate.value) + 1 :]
            break
    if_exists = name.endswith("IfExists")
    if if_exists:
        name = name[: -len("IfExists")]
    base = BASE_OPERATORS.get(name)
    if base is None:
        return None
    if base.family is Family.NULL and (if_exists or set_operator is not None):
        # "You can add IfExists to the end of any condition operator name except the Null condition."
        return None
    return Operator(base, set_operator, if_exists)
