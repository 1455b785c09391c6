"""The import rules of DESIGN.md §2, read from the source: families (alphazero, nnue, lc0, tfimport) never import
each other, ``core/`` and ``train/`` import no family, ``core/`` does not import ``train/``, and no two modules
import each other, directly or around a loop (function-level imports count too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "boardnet"
FAMILIES = {"alphazero", "nnue", "lc0", "tfimport"}


def module_name(path: Path) -> str:
    """``src/boardnet/nnue/data/bin.py`` -> ``boardnet.nnue.data.bin`` (packages by their ``__init__``)."""
    parts = ("boardnet", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """boardnet modules ``path`` imports anywhere in its body (``from X import y`` counts X, and X.y if a module)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("boardnet"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found & known


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    return {name: imported_modules(path, known) - {name} for name, path in files.items()}


def test_layers_point_down(graph: dict[str, set[str]]) -> None:
    breaks = []
    for src, deps in graph.items():
        for dst in deps:
            a, b = layer(src), layer(dst)
            if (a in FAMILIES and b in FAMILIES and a != b) or (a in ("core", "train") and b in FAMILIES) \
                    or (a == "core" and b == "train"):
                breaks.append(f"{src} -> {dst}")
    assert not breaks, "imports against DESIGN §2: " + "; ".join(sorted(breaks))


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    """Tarjan's strongly connected components: any component of more than one module is a cycle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_every_family_registers_its_verbs(graph: dict[str, set[str]]) -> None:
    """The top-level CLI knows no family module: it gathers ``boardnet.<family>.cli`` by name."""
    assert not {layer(m) for m in graph["boardnet.cli"]} & FAMILIES
    for family in ("train", "core", "alphazero", "nnue", "lc0"):
        assert f"boardnet.{family}.cli" in graph
