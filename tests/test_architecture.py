"""The project's structure, checked: imports point one way, no loops, no giant modules.

Layers, lowest first (README, Architecture):
  0 projects — companies, memberships, permissions, terms
  1 the ERP core in erpsync — models, states, services, selectors, exports, adapters, tasks,
    ops, reconcile
  2 subjobs, invoicing — the kinds of item
  3 approvals — the approvers' tool and emails
  4 any other app (the API, …)
  5 the project shell — erpsync's settings, urls, celery, wsgi/asgi and seed_demo
A module may import only from its own layer or lower ones. Every import counts, including
those inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = {"projects": 0, "erpsync": 1, "subjobs": 2, "invoicing": 2, "jobs": 2, "approvals": 3}
OTHER_APP = 4
SHELL = 5
SHELL_MODULES = {
    "erpsync",  # the package's __init__ loads the Celery app
    "erpsync.settings",
    "erpsync.config",
    "erpsync.urls",
    "erpsync.celery",
    "erpsync.wsgi",
    "erpsync.asgi",
    "erpsync.management.commands.seed_demo",
}
# Not application code: tests, benches, examples, the Tryton build scripts, migrations.
NOT_MODULES = {"tests", "bench", "examples", "tryton", ".venv", "var", "templates", "static"}
MAX_LINES = 600
LAYER_NAMES = {
    0: "projects",
    1: "the ERP core (erpsync)",
    2: "the kinds (subjobs, invoicing)",
    3: "approvals",
    4: "the other apps",
    5: "the project shell",
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the project module it names
    line: int
    runtime: bool  # False under `if TYPE_CHECKING:`


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every Python module of the project's apps (shell included), by dotted name."""
    modules: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if rel.parts[0] in NOT_MODULES or len(rel.parts) < 2 or "migrations" in rel.parts:
            continue
        if not (root / rel.parts[0] / "__init__.py").exists():
            continue
        modules[_module_name(path) if root == ROOT else ".".join(rel.with_suffix("").parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import names: the longest known prefix of `name`."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, runtime: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.body:
                    visit_node(sub, False)
                for sub in child.orelse:
                    visit_node(sub, runtime)
                continue
            visit_node(child, runtime)

    def add(name: str, line: int, runtime: bool) -> None:
        target = _resolve(name, modules)
        if target is not None and target != module:
            found.append(Import(module, target, line, runtime))

    def visit_node(node: ast.AST, runtime: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node.lineno, runtime)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # `from erpsync import ops` names the submodule erpsync.ops when it exists.
                full = f"{base}.{alias.name}"
                add(full if full in modules else base, node.lineno, runtime)
        visit(node, runtime)

    visit(tree, True)
    return found


def layer(module: str) -> int:
    if module in SHELL_MODULES:
        return SHELL
    return APPS.get(module.split(".")[0], OTHER_APP)


def upward_imports(modules: dict[str, Path]) -> list[str]:
    problems = []
    for module, path in modules.items():
        for imp in imports_of(module, path, modules):
            if layer(imp.target) > layer(module):
                problems.append(
                    f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:"
                    f"{imp.line}: {module} ({LAYER_NAMES[layer(module)]}) imports "
                    f"{imp.target} ({LAYER_NAMES[layer(imp.target)]})"
                )
    return problems


def import_cycles(modules: dict[str, Path]) -> list[list[str]]:
    """Strongly connected groups of modules that import each other (Tarjan's algorithm)."""
    graph = {
        m: sorted({i.target for i in imports_of(m, p, modules) if i.runtime})
        for m, p in modules.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, []):
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in graph:
        if node not in index:
            connect(node)
    return cycles


def long_modules(modules: dict[str, Path]) -> list[str]:
    return [
        f"{module}: {n} lines"
        for module, path in modules.items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    ]


# ----- the rules, on the real tree -----------------------------------------------------------

MODULES = project_modules()


def test_the_tree_is_found() -> None:
    for expected in ("projects.models", "erpsync.services", "subjobs.models", "approvals.views"):
        assert expected in MODULES


def test_no_module_imports_from_a_higher_layer() -> None:
    assert upward_imports(MODULES) == []


def test_no_import_loops() -> None:
    assert import_cycles(MODULES) == []


def test_no_module_is_over_600_lines() -> None:
    assert long_modules(MODULES) == []


# ----- the checker itself fails on what it must catch ----------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in ("projects", "erpsync", "approvals"):
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    return tmp_path


def test_checker_catches_an_upward_import_inside_a_function(tree: Path) -> None:
    (tree / "erpsync" / "services.py").write_text(
        "def f():\n    from approvals.emails import send\n    return send\n"
    )
    (tree / "approvals" / "emails.py").write_text("from erpsync.services import f\n")
    modules = project_modules(tree)
    problems = upward_imports(modules)
    assert len(problems) == 1
    assert "erpsync.services (the ERP core (erpsync)) imports approvals.emails" in problems[0]
    assert import_cycles(modules) == [["approvals.emails", "erpsync.services"]]


def test_checker_catches_an_upward_import_under_type_checking(tree: Path) -> None:
    (tree / "projects" / "models.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from erpsync import models\n"
    )
    (tree / "erpsync" / "models.py").write_text("")
    assert len(upward_imports(project_modules(tree))) == 1


def test_checker_catches_a_loop_and_a_long_module(tree: Path) -> None:
    (tree / "erpsync" / "a.py").write_text("from erpsync import b\n" + "x = 1\n" * 601)
    (tree / "erpsync" / "b.py").write_text("from . import a\n")
    modules = project_modules(tree)
    assert import_cycles(modules) == [["erpsync.a", "erpsync.b"]]
    assert long_modules(modules) == ["erpsync.a: 602 lines"]
