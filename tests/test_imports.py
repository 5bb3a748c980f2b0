"""The package's modules import one another without a circle, counting every import: at the top,
inside a function, or only for type checking (a circle hidden in a function is still one)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import budgetml

PACKAGE = Path(budgetml.__file__).parent


def modules(root: Path) -> dict[str, Path]:
    """Every module of the package under `root` by dotted name (the tasks' scripts are not)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[1:2] == ("tasks",):
            continue
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The package's modules that `name` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" for alias in node.names]  # a submodule, or a name
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


def import_graph(root: Path) -> dict[str, list[str]]:
    """Each module of the package under `root`, with the package's modules it imports."""
    known = modules(root)
    return {name: sorted(set(imported(name, path, known))) for name, path in known.items()}


def circles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Groups of modules that reach one another through imports (strongly connected, > 1)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(name: str) -> None:  # Tarjan's algorithm
        order[name] = low[name] = len(order)
        stack.append(name)
        for other in graph[name]:
            if other not in order:
                visit(other)
                low[name] = min(low[name], low[other])
            elif other in stack:
                low[name] = min(low[name], order[other])
        if low[name] == order[name]:
            group = []
            while not group or group[-1] != name:
                group.append(stack.pop())
            if len(group) > 1:
                groups.append(sorted(group))

    for name in graph:
        if name not in order:
            visit(name)
    return groups


def test_no_module_imports_itself_through_a_circle_of_imports() -> None:
    graph = import_graph(PACKAGE)
    found = circles(graph)
    imports = [f"{a} → {b}" for group in found for a in group for b in graph[a] if b in group]
    assert found == [], "imports that close a circle: " + "; ".join(imports)


def test_the_circle_check_sees_a_function_level_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("def thing():\n    from pkg import a\n    return a\n")
    assert circles(import_graph(package)) == [["pkg.a", "pkg.b"]]
