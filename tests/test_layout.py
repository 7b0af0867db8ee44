"""The package's shape, checked from its source: imports point one way.

Every `import` of a credtune module counts, including those inside functions (credtune imports
torch and friends lazily, so most real edges live there). Orchestrators (`runs/`) and the front
ends (`api`, `cli`) may import steps; steps never import them, nothing imports `cli`, and no
module imports a private name of another or grows past ~400 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "credtune"
FRONT = ("credtune.runs", "credtune.api", "credtune.cli", "credtune.__main__")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> list[tuple[str, str]]:
    """(module imported, name imported) for every credtune import in module `name`."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                found.append((full if full in MODULES else target, alias.name))
        elif isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
    return [(target, item) for target, item in found if target.split(".")[0] == "credtune"]


def edges() -> dict[str, set[str]]:
    return {
        name: {t for t, _ in imports_of(name) if t in MODULES and t != name and t != "credtune"}
        for name in MODULES
    }


def is_front(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FRONT)


def test_no_import_cycles() -> None:
    graph = {k: {v for v in vs if MODULES[v].name != "__init__.py"} for k, vs in edges().items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*stack[stack.index(nxt) :], nxt]))
            elif not state.get(nxt):
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if not state.get(name):
            visit(name, [])
    assert not cycles, cycles


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not is_front(n)))
def test_steps_never_import_orchestrators(name: str) -> None:
    upward = sorted(t for t in edges()[name] if is_front(t))
    assert not upward, f"{name} imports {upward}: steps must not know who calls them"


def test_nothing_imports_the_cli() -> None:
    users = [n for n, targets in edges().items() if "credtune.cli" in targets]
    assert users == ["credtune.__main__"]  # `python -m credtune`


def test_no_private_names_across_modules() -> None:
    private = [
        f"{name}: {item} from {target}"
        for name in MODULES
        for target, item in imports_of(name)
        if item.startswith("_") and not item.startswith("__") and target != name
    ]
    assert not private, private


def test_modules_stay_readable() -> None:
    long = {n: p.read_text().count("\n") for n, p in MODULES.items()}
    assert {n: c for n, c in long.items() if c > MAX_LINES} == {}


def test_the_serializer_and_contract_import_no_model_code() -> None:
    for name in ("credtune.serialize", "credtune.config", "credtune.files.reading"):
        assert not {"credtune.modeling", "credtune.training"} & edges()[name]
