"""Facts about the code's shape that anyone can check (and `make test` does):

    python scripts/check_structure.py        # prints each problem; exit 1 if there is one

1. No import cycle among the modules of ``rlhf_env`` and ``agents`` (module-level imports;
   imports inside functions and under ``if TYPE_CHECKING:`` are deferred, so they are not
   edges).
2. ``rlhf_env`` never imports ``agents``, at module level or inside a function (the
   learners it runs — benchmark algorithms, the demos — are found through entry points).
3. No module in ``rlhf_env/text/`` is over :data:`MAX_TEXT_MODULE_LINES` lines.
4. Every package folder (one with an ``__init__.py``) under ``rlhf_env/`` and ``agents/`` has
   a test folder of the same path under ``tests/`` (``rlhf_env/X`` → ``tests/X``,
   ``agents/X`` → ``tests/agents/X``).

It reads the source as text (``ast``): nothing is imported, so it runs in a second.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rlhf_env", "agents")
MAX_TEXT_MODULE_LINES = 500
ALLOWED_AGENT_IMPORTS: set[tuple[str, str]] = set()
"""(importing module, imported module) pairs of ``rlhf_env`` → ``agents`` that are allowed:
none."""


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the packages under ``root``, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            found[module_name(path, root)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(body: list[ast.stmt], module: str, is_package: bool, top_level: bool
             ) -> Iterator[tuple[str, bool]]:
    """(imported name, at module level) for every import in ``body``, recursively."""
    for node in body:
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from _imports(node.orelse, module, is_package, top_level)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, top_level
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            for alias in node.names:
                yield f"{base}.{alias.name}", top_level
        nested_top = top_level and not isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for field in ("body", "orelse", "finalbody", "handlers"):
            child = getattr(node, field, None)
            if isinstance(child, list) and child and isinstance(child[0], (ast.stmt,
                                                                           ast.excepthandler)):
                yield from _imports(child, module, is_package, nested_top)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    base = ".".join(parts[:keep])
    return f"{base}.{node.module}" if node.module else base


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` (``pkg.mod`` or ``pkg.mod.attr``) names."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(known: dict[str, Path]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module-level edges, all edges including deferred ones) between known modules."""
    top: dict[str, set[str]] = {m: set() for m in known}
    every: dict[str, set[str]] = {m: set() for m in known}
    for name, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for imported, at_top in _imports(tree.body, name, path.name == "__init__.py", True):
            target = _resolve(imported, known)
            if target is None or target == name:
                continue
            every[name].add(target)
            if at_top:
                top[name].add(target)
    return top, every


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def problems(root: Path = ROOT) -> list[str]:
    known = modules(root)
    top, every = import_graph(known)
    found = [f"import cycle: {' ↔ '.join(c)}" for c in cycles(top)]
    for name, targets in every.items():
        if not name.startswith("rlhf_env"):
            continue
        for target in sorted(targets):
            allowed = any(name == a and target.startswith(b) for a, b in ALLOWED_AGENT_IMPORTS)
            if target.startswith("agents") and not allowed:
                found.append(f"{name} imports {target}: rlhf_env must never import agents "
                             f"(learners register through entry points instead)")
    for name, path in known.items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if name.startswith("rlhf_env.text") and lines > MAX_TEXT_MODULE_LINES:
            found.append(f"{path.relative_to(root)} has {lines} lines "
                         f"(rlhf_env/text/ modules stay ≤ {MAX_TEXT_MODULE_LINES})")
    for path in known.values():
        if path.name != "__init__.py":
            continue
        rel = path.parent.relative_to(root)
        tests = root / "tests" / Path(*rel.parts[1:]) if rel.parts[0] == "rlhf_env" else (
            root / "tests" / rel)
        if not tests.is_dir():
            found.append(f"package {rel}/ has no test folder {tests.relative_to(root)}/")
    return found


def main() -> int:
    found = problems()
    for line in found:
        print(line)
    print(f"{len(modules())} modules checked: "
          + ("no problems" if not found else f"{len(found)} problem(s)"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
