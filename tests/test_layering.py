"""The layering of ``src/kmsd``: every import goes the way the package table in docs/architecture.md allows.

The table ("Packages and the way imports go") lists each package and
top-level module in dependency order with what it may import.  These tests
read that table, parse every module with :mod:`ast` (imports inside functions
and under ``TYPE_CHECKING`` count as much as those at the top: each one is a
dependency a reader has to follow), and fail on any import of another part of
kmsd, or of an outside library, that its row does not allow.  They also keep
the table honest (every module has a row, a row only looks up) and check that
no two modules of kmsd import each other, directly or round a longer loop.
The tests have a layering of their own: a test module imports what it shares
from ``tests/helpers/``, a conftest or ``tests/integration/server.py``, never
from another ``test_*.py`` module.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "kmsd"
TESTS = ROOT / "tests"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
HEADER = "| package | its one job | may import |"
EVERY_ROW_ABOVE = "every row above"


@dataclass(frozen=True)
class Row:
    """One row of the table: a package (``policy/``) or top-level module (``clock.py``) and what it may import."""

    unit: str
    units: frozenset[str]  # the rows of kmsd it may import
    libraries: frozenset[str]  # the outside libraries it may import, by top-level import name


@dataclass(frozen=True)
class Import:
    path: Path
    line: int
    module: str  # absolute, as Python resolves it: "kmsd.store.base", "cryptography.hazmat"


def read_table(text: str) -> list[Row]:
    """The rows of the package table, in order; "every row above" stands for the units of the rows before."""
    lines = text.splitlines()
    start = lines.index(HEADER) + 2  # past the header and its --- line
    rows: list[Row] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        (unit,) = re.findall(r"`([^`]+)`", cells[0])
        may = cells[-1]
        named = re.findall(r"`([^`]+)`", may)
        units = {name for name in named if name.endswith(("/", ".py"))}
        if EVERY_ROW_ABOVE in may:
            units |= {row.unit for row in rows}
        libraries = {name for name in named if name not in units}
        rows.append(Row(unit, frozenset(units), frozenset(libraries)))
    return rows


def unit_of_path(path: Path, source: Path) -> str:
    """The row a file of ``source`` belongs to: its top folder (``policy/``) or its own name (``clock.py``)."""
    first = path.relative_to(source).parts[0]
    return first if first.endswith(".py") else f"{first}/"


def unit_of_module(module: str, source: Path) -> str:
    """The row a ``kmsd.…`` module belongs to; ``kmsd`` itself is the package's ``__init__.py``."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__.py"
    return f"{parts[1]}/" if (source / parts[1]).is_dir() else f"{parts[1]}.py"


def module_name(path: Path, source: Path) -> str:
    parts = list(path.relative_to(source.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(path: Path, source: Path) -> Iterator[Import]:
    """Every import statement of one module, wherever it stands, with relative imports resolved."""
    package = module_name(path, source)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield Import(path, node.lineno, module)


def modules(source: Path) -> list[Path]:
    return sorted(path for path in source.rglob("*.py") if "__pycache__" not in path.parts)


def wrong_way_imports(source: Path, rows: list[Row]) -> list[str]:
    """Every import under ``source`` that its row does not allow, as ``path:line: unit imports module``."""
    by_unit = {row.unit: row for row in rows}
    found: list[str] = []
    for path in modules(source):
        unit = unit_of_path(path, source)
        row = by_unit.get(unit)
        for imported in imports_in(path, source):
            if not allowed(unit, row, imported.module, source):
                where = path.relative_to(source.parent)
                found.append(f"{where}:{imported.line}: {unit} imports {imported.module}")
    return found


def allowed(unit: str, row: Row | None, module: str, source: Path) -> bool:
    """Whether ``unit`` (with its ``row``, if it has one) may import ``module``."""
    top = module.split(".")[0]
    if top == "kmsd":
        target = unit_of_module(module, source)
        return target == unit or (row is not None and target in row.units)
    if top in sys.stdlib_module_names or top == "__future__":
        return True
    return row is not None and top in row.libraries


def import_loops(source: Path) -> list[list[str]]:
    """Every loop of modules under ``source`` that import each other, each as the modules round it."""
    graph: dict[str, set[str]] = {}
    for path in modules(source):
        graph[module_name(path, source)] = {
            imported.module for imported in imports_in(path, source) if imported.module.split(".")[0] == "kmsd"
        }
    loops: list[list[str]] = []
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            loops.append([*trail[trail.index(module) :], module])
            return
        if module in done or module not in graph:
            return
        for target in sorted(graph[module]):
            visit(target, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return loops


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return read_table(ARCHITECTURE.read_text(encoding="utf-8"))


def test_every_import_goes_the_way_the_table_allows(rows: list[Row]) -> None:
    assert wrong_way_imports(SOURCE, rows) == []


def test_every_package_and_top_level_module_has_a_row(rows: list[Row]) -> None:
    on_disk = {unit_of_path(path, SOURCE) for path in modules(SOURCE)} - {"__init__.py"}
    assert on_disk == {row.unit for row in rows}


def test_a_row_only_imports_rows_above_it(rows: list[Row]) -> None:
    # Listing the rows in dependency order is what makes "imports go one way" hold: a loop would need a row
    # that names one below it.
    above: set[str] = set()
    for row in rows:
        assert row.units <= above, f"{row.unit} may import {sorted(row.units - above)}, which stand below it"
        above.add(row.unit)


def test_the_table_says_what_design_requires_of_the_lowest_layers(rows: list[Row]) -> None:
    by_unit = {row.unit: row for row in rows}
    # The policy engine is a pure library on the standard library; crypto adds `cryptography` for every primitive,
    # and two encoding libraries for the attestation documents and the CMS of Recipient (cbor2, asn1crypto).
    assert by_unit["policy/"] == Row("policy/", frozenset(), frozenset())
    assert by_unit["crypto/"] == Row("crypto/", frozenset(), frozenset({"cryptography", "cbor2", "asn1crypto"}))
    assert by_unit["store/"].units == {"policy/"}


def test_the_package_itself_imports_nothing_of_kmsd() -> None:
    # kmsd/__init__.py has no row: importing any part of kmsd runs it, so it must not pull the rest in.
    assert [imported.module for imported in imports_in(SOURCE / "__init__.py", SOURCE)] == []


def test_no_modules_import_each_other() -> None:
    assert import_loops(SOURCE) == []


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_the_check_finds_wrong_way_imports_wherever_they_stand(tmp_path: Path) -> None:
    source = tmp_path / "kmsd"
    write(source, "__init__.py", "")
    write(source, "errors.py", "")
    write(source, "policy/__init__.py", "from kmsd.policy.model import Policy\n")
    write(source, "policy/model.py", "import json\n\nclass Policy: ...\n")
    write(source, "store/__init__.py", "")
    # A function-local import and one under TYPE_CHECKING are found like those at the top.
    write(
        source,
        "policy/explain.py",
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from kmsd.store import Store\n"
        "def trace() -> None:\n    from kmsd.errors import AwsError\n",
    )
    write(source, "store/base.py", "from ..policy import model\nimport cryptography\nfrom . import helpers\n")
    rows = read_table(
        f"{HEADER}\n| --- | --- | --- |\n"
        "| `errors.py` | errors | nothing |\n"
        "| `policy/` | policies | nothing |\n"
        "| `store/` | persistence | `policy/` |\n"
    )
    assert wrong_way_imports(source, rows) == [
        "kmsd/policy/explain.py:3: policy/ imports kmsd.store",
        "kmsd/policy/explain.py:5: policy/ imports kmsd.errors",
        "kmsd/store/base.py:2: store/ imports cryptography",
    ]


def test_every_row_above_stands_for_the_rows_before() -> None:
    rows = read_table(
        f"{HEADER}\n| --- | --- | --- |\n"
        "| `errors.py` | errors | nothing |\n"
        "| `policy/` | policies | nothing |\n"
        "| `server.py` | serving | every row above, and `uvicorn` |\n"
        "\nafter the table\n"
    )
    assert rows[-1] == Row("server.py", frozenset({"errors.py", "policy/"}), frozenset({"uvicorn"}))


def test_the_check_finds_modules_that_import_each_other(tmp_path: Path) -> None:
    source = tmp_path / "kmsd"
    write(source, "__init__.py", "")
    write(source, "policy/__init__.py", "")
    write(source, "policy/decision.py", "from kmsd.policy.model import Policy\n")
    # The import that closes the loop stands in a function, as decision.py's import of explain once did.
    write(source, "policy/explain.py", "from kmsd.policy.decision import Decision\n")
    write(source, "policy/model.py", "def trace() -> None:\n    from kmsd.policy.explain import trace\n")
    assert import_loops(source) == [
        ["kmsd.policy.decision", "kmsd.policy.model", "kmsd.policy.explain", "kmsd.policy.decision"]
    ]


def test_no_test_module_imports_another() -> None:
    # A test file can then be moved, renamed or run on its own without breaking another.
    found = [
        f"{imported.path.relative_to(ROOT)}:{imported.line}: imports {imported.module}"
        for path in modules(TESTS)
        for imported in imports_in(path, TESTS)
        if imported.module.split(".")[0] == "tests" and imported.module.rsplit(".", 1)[-1].startswith("test_")
    ]
    assert found == []
