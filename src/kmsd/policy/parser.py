"""JSON policy text to a validated, compiled :class:`Policy`, with AWS's MalformedPolicyDocument reasons.

Validation runs in the order IAM's own parser reports problems: JSON syntax
and element shapes ("Syntax errors in policy."), the legacy checks on
``Effect``, condition values and ARNs ("The policy failed legacy parsing"),
then Sid uniqueness and format, actions, principals and resources.  Each
error carries AWS's wording in ``message`` and the element at fault in
``detail``.  Results are cached by the SHA-256 of the document text, kind and
size limit, so a key policy read on every request is parsed and compiled once.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import kmsd.policy.locations as at
from kmsd.policy.compiled import VARIABLES_VERSION, CompiledPolicy
from kmsd.policy.conditions import ConditionError, compile_condition
from kmsd.policy.errors import PolicyValidationError
from kmsd.policy.limits import SizeLimit, size_limit_for
from kmsd.policy.locations import Path, statement_path
from kmsd.policy.model import Condition, Effect, Policy, PolicyDocument, PolicyKind, Principals, Statement
from kmsd.policy.operators import Family, parse_operator
from kmsd.policy.principals import PRINCIPAL_TYPES, principal_value_error

SYNTAX = "Syntax errors in policy."
LEGACY = "The policy failed legacy parsing"
VERSIONS = ("2012-10-17", "2008-10-17")
DEFAULT_VERSION = "2008-10-17"  # "If you do not include a Version element, the value defaults to 2008-10-17"
TOP_ELEMENTS = ("Version", "Id", "Statement")
STATEMENT_ELEMENTS = (
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc"})

# KMS "Key policies": printable ASCII and Latin-1 characters, plus tab, line feed and carriage return.
_KEY_POLICY_FORBIDDEN = re.compile(r"[^\t\n\r\x20-\x7e\xa0-\xff]")
# IAM "Sid": "Statement IDs (SID) must be alpha-numeric"; key policies allow any text (spaces included).
_IAM_SID = re.compile(r"[0-9A-Za-z]*")
_VENDOR = re.compile(r"[a-zA-Z0-9\-.]+")

_CACHE_SIZE = 512
# Server threads share the cache; an OrderedDict's reordering is not safe without a lock.
_cache_lock = threading.Lock()
_cache: OrderedDict[tuple[bytes, PolicyKind, SizeLimit], tuple[PolicyDocument, CompiledPolicy]] = OrderedDict()


def parse_policy(
    document: str | bytes | Mapping[str, Any],
    kind: PolicyKind,
    policy_id: str = "",
    *,
    max_size: SizeLimit | None = None,
) -> Policy:
    """Validate and compile ``document`` as a policy of ``kind``.

    ``policy_id`` names the policy in decisions; it defaults to the document's
    ``Id``, else to the kind's value.  ``max_size`` overrides the kind's
    default limit (see :func:`kmsd.policy.limits.size_limit_for`), e.g.
    ``ROLE_INLINE_POLICY``.  Raises :class:`PolicyValidationError` (or its
    :class:`PolicySizeError`) and nothing else.
    """
    text = _document_text(document)
    limit = max_size if max_size is not None else size_limit_for(kind)
    key = (hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), kind, limit)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
    if cached is None:
        cached = _validate(text, kind, limit)
        with _cache_lock:
            _cache[key] = cached
            if len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    parsed, compiled = cached
    name = policy_id or parsed.id or kind.value
    return Policy(kind, name, parsed, compiled)


def clear_cache() -> None:
    """Forget every compiled document (benchmarks measure cold parses with it)."""
    with _cache_lock:
        _cache.clear()


def _document_text(document: str | bytes | Mapping[str, Any]) -> str:
    if isinstance(document, str):
        return document
    if isinstance(document, bytes | bytearray):
        try:
            return bytes(document).decode("utf-8")
        except UnicodeDecodeError as error:
            raise PolicyValidationError(
                SYNTAX, f"the document is not UTF-8 (byte {error.start})", code="JSON_SYNTAX_ERROR"
            ) from None
    if isinstance(document, Mapping):
        try:
            return json.dumps(document, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as error:
            raise PolicyValidationError(
                SYNTAX, f"the document is not JSON: {error}", code="JSON_SYNTAX_ERROR"
            ) from None
    raise PolicyValidationError(SYNTAX, f"a policy document is JSON text or an object, not {type(document).__name__}")


def _validate(text: str, kind: PolicyKind, limit: SizeLimit) -> tuple[PolicyDocument, CompiledPolicy]:
    limit.check(text)
    if kind is PolicyKind.RESOURCE:
        bad = _KEY_POLICY_FORBIDDEN.search(text)
        if bad is not None:
            raise PolicyValidationError(
                "Policy contains characters that are not allowed.",
                f"U+{ord(bad.group()):04X} at offset {bad.start()}; key policies may contain printable ASCII "
                "and Latin-1 characters, tab, line feed and carriage return",
                code="JSON_SYNTAX_ERROR",
                offset=bad.start(),
            )
    raw = _load_json(text)
    version, policy_id, raw_statements = _check_top_level(raw)
    for index, raw_statement in enumerate(raw_statements):
        _check_statement_shape(index, raw_statement)
    statements = tuple(_legacy_parse(index, raw_statement) for index, raw_statement in enumerate(raw_statements))
    _check_sids(statements, kind)
    for statement in statements:
        _check_semantics(statement, kind)
    document = PolicyDocument(version, statements, policy_id)
    try:
        return document, CompiledPolicy(document)
    except ConditionError as error:
        raise PolicyValidationError(LEGACY, str(error), **_bad_condition(document)) from None


def _load_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=_without_duplicates, parse_constant=_reject_constant)
    except PolicyValidationError:
        raise
    except json.JSONDecodeError as error:
        raise PolicyValidationError(
            SYNTAX, f"the document is not valid JSON: {error}", code="JSON_SYNTAX_ERROR", offset=error.pos
        ) from None
    except (ValueError, RecursionError) as error:
        raise PolicyValidationError(
            SYNTAX, f"the document is not valid JSON: {error}", code="JSON_SYNTAX_ERROR"
        ) from None


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise PolicyValidationError(SYNTAX, f"duplicate key `{name}`", code="JSON_SYNTAX_ERROR")
        result[name] = value
    return result


def _reject_constant(name: str) -> Any:
    raise PolicyValidationError(SYNTAX, f"`{name}` is not a JSON value", code="JSON_SYNTAX_ERROR")


def _check_top_level(raw: Any) -> tuple[str, str | None, list[dict[str, Any]]]:
    if not isinstance(raw, dict):
        raise PolicyValidationError(SYNTAX, "the document must be a JSON object", code="DATA_TYPE_MISMATCH")
    for name in raw:
        if name not in TOP_ELEMENTS:
            raise PolicyValidationError(
                SYNTAX, f"unknown element `{name}`", code="INVALID_POLICY_ELEMENT", path=(at.key(name),)
            )
    version = raw.get("Version", DEFAULT_VERSION)
    if version not in VERSIONS:
        raise PolicyValidationError(
            SYNTAX,
            f"`Version` must be `2012-10-17` or `2008-10-17`, not {_show(version)}",
            code="INVALID_VERSION",
            path=(at.value("Version"),),
        )
    policy_id = raw.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyValidationError(SYNTAX, "`Id` must be a string", code="DATA_TYPE_MISMATCH", path=(at.value("Id"),))
    if "Statement" not in raw:
        raise PolicyValidationError(SYNTAX, "missing `Statement`", code="MISSING_STATEMENT")
    statements = raw["Statement"]
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise PolicyValidationError(
            SYNTAX,
            "`Statement` must be an object or a list of objects",
            code="DATA_TYPE_MISMATCH",
            path=(at.value("Statement"),),
        )
    if not statements:
        raise PolicyValidationError(
            SYNTAX, "`Statement` is an empty list", code="MISSING_STATEMENT", path=(at.value("Statement"),)
        )
    return str(version), policy_id, statements


def _check_statement_shape(position: int, statement: Any) -> None:
    where = f"statement {position}"
    base = statement_path(position)
    if not isinstance(statement, dict):
        raise PolicyValidationError(SYNTAX, f"{where} must be an object", code="DATA_TYPE_MISMATCH", path=base)
    for name in statement:
        if name not in STATEMENT_ELEMENTS:
            raise PolicyValidationError(
                SYNTAX,
                f"unknown element `{name}` in {where}",
                code="INVALID_POLICY_ELEMENT",
                path=(*base, at.key(name)),
            )
    for first, second in (
        ("Action", "NotAction"),
        ("Resource", "NotResource"),
        ("Principal", "NotPrincipal"),
    ):
        if first in statement and second in statement:
            raise PolicyValidationError(
                SYNTAX,
                f"{where} has both `{first}` and `{second}`",
                code="UNSUPPORTED_ELEMENT_COMBINATION",
                path=(*base, at.key(second)),
            )
    if "Effect" not in statement:
        raise PolicyValidationError(SYNTAX, f"{where} is missing `Effect`", code="MISSING_EFFECT", path=base)
    if not isinstance(statement["Effect"], str):
        raise PolicyValidationError(
            SYNTAX, f"`Effect` in {where} must be a string", code="DATA_TYPE_MISMATCH", path=(*base, at.value("Effect"))
        )
    if "Sid" in statement and not isinstance(statement["Sid"], str):
        raise PolicyValidationError(
            SYNTAX, f"`Sid` in {where} must be a string", code="DATA_TYPE_MISMATCH", path=(*base, at.value("Sid"))
        )
    for name in ("Action", "NotAction", "Resource", "NotResource"):
        if name in statement:
            _string_list(statement[name], f"`{name}` in {where}", (*base, at.value(name)))
    for name in ("Principal", "NotPrincipal"):
        if name in statement:
            _check_principal_shape(statement[name], f"`{name}` in {where}", (*base, at.value(name)))
    if "Condition" in statement:
        _check_condition_shape(statement["Condition"], where, (*base, at.value("Condition")))


def _string_list(raw: Any, what: str, path: Path = ()) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list) and all(isinstance(item, str) for item in raw):
        return tuple(raw)
    raise PolicyValidationError(
        SYNTAX, f"{what} must be a string or a list of strings", code="DATA_TYPE_MISMATCH", path=path
    )


def _check_principal_shape(raw: Any, what: str, path: Path) -> None:
    if raw == "*":
        return
    if isinstance(raw, str):
        raise PolicyValidationError(
            f"Invalid principal in policy: {json.dumps(raw)}",
            f"{what} must be `*` or an object",
            code="INVALID_PRINCIPAL_FORMAT",
            path=path,
        )
    if not isinstance(raw, dict):
        raise PolicyValidationError(SYNTAX, f"{what} must be `*` or an object", code="DATA_TYPE_MISMATCH", path=path)
    if not raw:
        raise PolicyValidationError(
            "Invalid principal in policy: {}", f"{what} is empty", code="INVALID_PRINCIPAL_FORMAT", path=path
        )
    for principal_type, names in raw.items():
        if principal_type not in PRINCIPAL_TYPES:
            raise PolicyValidationError(
                f"Invalid principal in policy: {json.dumps({principal_type: names})[1:-1]}",
                f"unknown principal type `{principal_type}` in {what}; expected one of {', '.join(PRINCIPAL_TYPES)}",
                code="INVALID_PRINCIPAL_KEY",
                path=(*path, at.key(principal_type)),
            )
        _string_list(names, f"`{principal_type}` in {what}", (*path, at.value(principal_type)))


def _check_condition_shape(block: Any, where: str, path: Path) -> None:
    if not isinstance(block, dict):
        raise PolicyValidationError(
            SYNTAX, f"`Condition` in {where} must be an object", code="DATA_TYPE_MISMATCH", path=path
        )
    for operator, pairs in block.items():
        here = (*path, at.value(operator))
        if not isinstance(pairs, dict):
            raise PolicyValidationError(
                SYNTAX,
                f"`{operator}` in {where} must map condition keys to values",
                code="DATA_TYPE_MISMATCH",
                path=here,
            )
        if parse_operator(operator) is None and pairs:
            raise PolicyValidationError(
                SYNTAX,
                f"unknown condition operator `{operator}` in {where}",
                code="INVALID_CONDITION_OPERATOR",
                path=(*path, at.key(operator)),
            )
        for name, values in pairs.items():
            if not name:
                raise PolicyValidationError(
                    SYNTAX,
                    f"empty condition key under `{operator}` in {where}",
                    code="INVALID_CONDITION_KEY_FORMAT",
                    path=(*here, at.key(name)),
                )
            items = values if isinstance(values, list) else [values]
            if not items:
                raise PolicyValidationError(
                    SYNTAX,
                    f"`{operator}` `{name}` in {where} has an empty list of values",
                    code="DATA_TYPE_MISMATCH",
                    path=(*here, at.value(name)),
                )
            for position, item in enumerate(items):
                if isinstance(item, dict | list) or item is None:
                    raise PolicyValidationError(
                        SYNTAX,
                        f"`{operator}` `{name}` in {where}: values must be strings, numbers or booleans",
                        code="INVALID_CONDITION_DATA_TYPE",
                        path=(*here, at.value(name), at.index(position)),
                    )


def _condition_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    # JSON booleans and numbers are compared by their JSON text ("true", "10").
    return json.dumps(value)


def _legacy_parse(position: int, raw: dict[str, Any]) -> Statement:
    where = f"statement {position}"
    effect_text = raw["Effect"]
    if effect_text not in ("Allow", "Deny"):
        raise PolicyValidationError(
            LEGACY,
            f"`Effect` in {where} must be `Allow` or `Deny`, not {_show(effect_text)}",
            code="INVALID_EFFECT",
            path=statement_path(position, at.value("Effect")),
        )
    conditions: list[Condition] = []
    for operator, pairs in raw.get("Condition", {}).items():
        if parse_operator(operator) is None:
            continue  # an unknown operator with no keys: IAM ignores it
        for key, values in pairs.items():
            items = values if isinstance(values, list) else [values]
            conditions.append(Condition(operator, key, tuple(_condition_text(item) for item in items)))
    for name in ("Resource", "NotResource"):
        for item, resource in enumerate(_string_list(raw.get(name, []), name)):
            _check_resource_format(resource, where, statement_path(position, at.value(name), at.index(item)))
    return Statement(
        index=position,
        sid=raw.get("Sid"),
        effect=Effect(effect_text),
        principal=_principals(raw["Principal"]) if "Principal" in raw else None,
        not_principal=_principals(raw["NotPrincipal"]) if "NotPrincipal" in raw else None,
        action=_string_list(raw["Action"], "Action") if "Action" in raw else None,
        not_action=_string_list(raw["NotAction"], "NotAction") if "NotAction" in raw else None,
        resource=_string_list(raw["Resource"], "Resource") if "Resource" in raw else None,
        not_resource=_string_list(raw["NotResource"], "NotResource") if "NotResource" in raw else None,
        conditions=tuple(conditions),
    )


def _principals(value: Any) -> Principals:
    if value == "*":
        return Principals(everyone=True)
    return Principals(entries=tuple((kind, _string_list(names, kind)) for kind, names in value.items()))


def _check_resource_format(resource: str, where: str, path: Path) -> None:
    """IAM's resource format rules ("IAM JSON policy elements: Resource"; messages as IAM words them)."""
    if resource == "*":
        return
    parts = resource.split(":", 5)
    if len(parts) < 2 or parts[0] != "arn":
        raise PolicyValidationError(
            f'Resource {resource} must be in ARN format or "*".', f"in {where}", code="INVALID_ARN_PREFIX", path=path
        )
    if parts[1] != "*" and parts[1] not in PARTITIONS:
        padded = parts[2:] + ["*"] * (4 - len(parts[2:]))
        raise PolicyValidationError(
            f'Partition "{parts[1]}" is not valid for resource "arn:{parts[1]}:{":".join(padded)}".',
            f"in {where}",
            code="INVALID_PARTITION",
            path=path,
        )
    if len(parts) < 3 or not parts[2] or "*" in parts[2] or "?" in parts[2]:
        raise PolicyValidationError(
            "Resource vendor must be fully qualified and cannot contain regexes.",
            f"`{resource}` in {where}",
            code="INVALID_SERVICE",
            path=path,
        )
    if len(parts) < 6 and "::" in resource:
        raise PolicyValidationError(
            LEGACY, f"`{resource}` in {where} has too few ARN components", code="MISSING_ARN_FIELD", path=path
        )


def _check_sids(statements: tuple[Statement, ...], kind: PolicyKind) -> None:
    seen: set[str] = set()
    for statement in statements:
        sid = statement.sid
        if not sid:
            continue
        if sid in seen:
            raise PolicyValidationError(
                "Statement IDs (SID) in a single policy must be unique.",
                f"`{sid}` appears more than once",
                code="UNIQUE_SIDS_REQUIRED",
                path=statement_path(statement.index, at.value("Sid")),
            )
        seen.add(sid)
    if kind is PolicyKind.RESOURCE:
        return
    for statement in statements:
        if statement.sid and not _IAM_SID.fullmatch(statement.sid):
            raise PolicyValidationError(
                "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular "
                "expression [0-9A-Za-z]*",
                f"`{statement.sid}` in statement {statement.index}",
                code="UNSUPPORTED_SID",
                path=statement_path(statement.index, at.value("Sid")),
            )


def _check_semantics(statement: Statement, kind: PolicyKind) -> None:
    where = f"statement {statement.label}"
    base = statement_path(statement.index)
    action_element = "Action" if statement.action is not None else "NotAction"
    actions = statement.action if statement.action is not None else statement.not_action
    if not actions:
        raise PolicyValidationError(
            "Policy statement must contain actions.",
            f"{where} has no `Action`",
            code="MISSING_ACTION",
            path=(*base, at.value(action_element)) if actions is not None else base,
        )
    if kind is PolicyKind.RESOURCE:
        if statement.principal is None and statement.not_principal is None:
            # KMS "Key policies": every statement of a key policy names its principal.
            raise PolicyValidationError(
                "Missing required field Principal", f"{where} has no `Principal`", code="MISSING_PRINCIPAL", path=base
            )
    else:
        # Identity-based policies apply to the identity they are attached to: naming a principal is an error.
        for name, element in (("Principal", statement.principal), ("NotPrincipal", statement.not_principal)):
            if element is not None:
                raise PolicyValidationError(
                    f"Has prohibited field {name}",
                    f"{where} of a {kind.value} policy",
                    code="UNSUPPORTED_PRINCIPAL",
                    path=(*base, at.key(name)),
                )
    for name, element in (("Principal", statement.principal), ("NotPrincipal", statement.not_principal)):
        if element is None:
            continue
        for principal_type, values in element.entries:
            here = (*base, at.value(name), at.value(principal_type))
            if not values:
                raise PolicyValidationError(
                    f'Invalid principal in policy: "{principal_type}":[]',
                    f"empty principal list in {where}",
                    code="INVALID_PRINCIPAL_FORMAT",
                    path=here,
                )
            for item, text in enumerate(values):
                problem = principal_value_error(principal_type, text)
                if problem is not None:
                    raise PolicyValidationError(
                        f'Invalid principal in policy: "{principal_type}":"{text}"',
                        f"{problem}, in {where}",
                        code="INVALID_PRINCIPAL_FORMAT",
                        path=(*here, at.index(item)),
                    )
    for item, action in enumerate(actions):
        _check_action(action, where, (*base, at.value(action_element), at.index(item)))
    resources = statement.resource if statement.resource is not None else statement.not_resource
    # A resource-based policy may leave Resource out (role trust policies must): it then covers the resource
    # it is attached to.  Identity-based policies must say which resources they cover.
    if kind is PolicyKind.RESOURCE and statement.resource is None and statement.not_resource is None:
        return
    if not resources:
        raise PolicyValidationError(
            "Policy statement must contain resources.",
            f"{where} has no `Resource`",
            code="MISSING_RESOURCE",
            path=(*base, at.value("Resource" if statement.not_resource is None else "NotResource")),
        )


def _check_action(action: str, where: str, path: Path) -> None:
    if action == "*":
        return
    pieces = action.split(":")
    if len(pieces) == 1:
        raise PolicyValidationError(
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
            f"`{action}` in {where}",
            code="INVALID_ACTION",
            path=path,
        )
    if len(pieces) > 2:
        raise PolicyValidationError(
            "Actions/Condition can contain only one colon.", f"`{action}` in {where}", code="INVALID_ACTION", path=path
        )
    if not _VENDOR.fullmatch(pieces[0]):
        raise PolicyValidationError(
            f"Vendor {pieces[0]} is not valid", f"`{action}` in {where}", code="INVALID_SERVICE_IN_ACTION", path=path
        )


def _show(raw: Any) -> str:
    return f"`{raw}`" if isinstance(raw, str) else json.dumps(raw)


# The issue code of a value a condition operator cannot compare, by the operator's family.
_VALUE_CODES = {
    Family.NULL: "TYPE_MISMATCH_BOOLEAN",
    Family.NUMERIC: "TYPE_MISMATCH_NUMBER",
    Family.DATE: "TYPE_MISMATCH_DATE",
    Family.BINARY: "TYPE_MISMATCH_STRING",
    Family.IP: "TYPE_MISMATCH_IP_RANGE",
}


def _bad_condition(document: PolicyDocument) -> dict[str, Any]:
    """The code and path of the first condition that does not compile (a refusal is rare: look it up again)."""
    variables = document.version == VARIABLES_VERSION
    for statement in document.statements:
        for condition in statement.conditions:
            try:
                compile_condition(condition, variables=variables)
            except ConditionError:
                operator = parse_operator(condition.operator)
                family = operator.base.family if operator is not None else None
                path = statement_path(
                    statement.index, at.value("Condition"), at.value(condition.operator), at.value(condition.key)
                )
                code = _VALUE_CODES.get(family, "INVALID_CONDITION_DATA_TYPE") if family is not None else ""
                return {"code": code, "path": path}
    return {}
