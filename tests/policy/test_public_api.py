"""The package's public names are exactly the intended ones, and it imports only the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import kmsd.policy

PACKAGE = Path(kmsd.policy.__file__).parent


def test_public_names() -> None:
    assert sorted(kmsd.policy.__all__) == [
        "AllowVia",
        "Condition",
        "ConditionTrace",
        "Decision",
        "Effect",
        "KindMatch",
        "KindVerdict",
        "Mismatch",
        "Outcome",
        "Policy",
        "PolicyDocument",
        "PolicyKind",
        "PolicySizeError",
        "PolicyValidationError",
        "PrincipalInfo",
        "Principals",
        "RequestContext",
        "SizeLimit",
        "Statement",
        "StatementMatch",
        "StatementTrace",
        "evaluate",
        "parse_policy",
        "size_limit_for",
    ]
    for name in kmsd.policy.__all__:
        assert hasattr(kmsd.policy, name)


def test_required_values() -> None:
    from kmsd.policy import Outcome, PolicyKind, PolicySizeError, PolicyValidationError

    assert [kind.value for kind in PolicyKind] == ["identity", "resource", "permissions_boundary", "session"]
    assert [outcome.value for outcome in Outcome] == ["Allow", "ExplicitDeny", "ImplicitDeny"]
    assert issubclass(PolicySizeError, PolicyValidationError)
    assert issubclass(PolicyValidationError, ValueError)


def test_only_the_standard_library_and_the_package_itself_are_imported() -> None:
    allowed = set(sys.stdlib_module_names) | {"kmsd"}
    for path in PACKAGE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
                if name.startswith("kmsd"):
                    assert name == "kmsd.policy" or name.startswith("kmsd.policy."), f"{path.name} imports {name}"
