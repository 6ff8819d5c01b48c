"""The package's layers: imports go down only (envs <- agents <- train), with no cycle anywhere."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"motorgym": REPO / "motorgym", "motorgym.envs": REPO / "envs", "motorgym.agents": REPO / "agents"}
FOLDERS["motorgym.train"] = REPO / "train"


def modules() -> dict[str, Path]:
    found = {"motorgym": FOLDERS["motorgym"] / "__init__.py"}
    for package, folder in FOLDERS.items():
        if package == "motorgym":
            continue
        for path in folder.rglob("*.py"):
            parts = [p for p in path.relative_to(folder).with_suffix("").parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def imports(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """The motorgym modules a module imports anywhere in it (inside functions too; not under
    ``if TYPE_CHECKING``), each resolved to the deepest known module."""
    tree = ast.parse(path.read_text())
    type_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.unparse(branch.test)
        for node in ast.walk(branch)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names}
    resolved = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            resolved.add(target)
    return resolved


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, name, known) for name, path in known.items()}


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    edges = graph()
    assert len(edges) > 40 and "motorgym.train.kinds" in edges["motorgym.train.ppo"]
    assert cycle(edges) is None, " -> ".join(cycle(edges) or [])


def test_imports_go_down_the_layers() -> None:
    for name, targets in graph().items():
        if name.startswith("motorgym.envs"):
            assert not {t for t in targets if t.startswith(("motorgym.agents", "motorgym.train"))}, name
        if name.startswith("motorgym.agents"):
            assert not {t for t in targets if t.startswith("motorgym.train")}, name
    physics = ("arm", "batched", "sensors", "task", "config")
    for module in physics:
        assert "motorgym.envs.rendering" not in graph()[f"motorgym.envs.{module}"], module


def test_functions_in_train_are_short() -> None:
    for path in FOLDERS["motorgym.train"].rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno < 80, f"{path.name}:{node.lineno} {node.name}"
