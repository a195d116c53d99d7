"""The shape of the product code (devloop/, tasks.py, app/devserver/): no import loop, no class over
150 lines, no function over 40; a room that grows past them is split before it is lived in."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.harness import ROOT

MAX_CLASS, MAX_FUNCTION = 150, 40


def product_files() -> dict[str, Path]:
    """The product's modules by dotted name (app/devserver is imported as `devserver`)."""
    files = [ROOT / "tasks.py", *sorted((ROOT / "devloop").rglob("*.py")), *sorted((ROOT / "app/devserver").glob("*.py"))]
    found = {}
    for path in files:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        parts = parts[1:] if parts[0] == "app" else parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, modules: set[str]) -> set[str]:
    """The product modules one module imports (those only for type checking included)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            candidates = [f"{target}.{alias.name}" for alias in node.names] + [target]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                found.add(candidate)
    return found


def loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return each import loop once (as the path that closes it)."""
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            found.append([*path[path.index(module) :], module])
            return
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return found


def test_no_module_imports_one_that_imports_it_back() -> None:
    files = product_files()
    graph = {name: imports(name, path, set(files)) for name, path in files.items()}
    assert sum(len(targets) for targets in graph.values()) > len(graph), "the import graph was not read"
    assert loops(graph) == []


def test_no_class_over_150_lines_and_no_function_over_40() -> None:
    too_big = []
    for path in product_files().values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            limit = MAX_CLASS if isinstance(node, ast.ClassDef) else MAX_FUNCTION if isinstance(node, ast.FunctionDef) else 0
            if limit and node.end_lineno - node.lineno + 1 > limit:  # type: ignore[operator]
                too_big.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)")  # type: ignore[operator]
    assert too_big == []


def test_the_loop_finder_finds_a_loop() -> None:
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
