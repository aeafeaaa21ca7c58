"""The packages' import structure, read from the source with ``ast`` (nothing is imported):
no import cycle among the modules of ``jobs/`` and ``pipelines/``, and ``pipelines`` imports
nothing from ``jobs``.

Every import counts, at module level or inside a function or class: a function-level import
that dodges a cycle is still a cycle. ``from X import Y`` is an import of the module ``X.Y``
when ``Y`` is a submodule, else of ``X``. Imports under ``if TYPE_CHECKING:`` never run and
make no cycle (they still count as a dependency of ``pipelines`` on ``jobs``). A package's
import of its own submodules counts like any other: the types its submodules share live in a
module of their own (``jobs.sinks.base``, ``jobs.engines.task``), so no submodule imports its
package back.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("jobs", "pipelines")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (ours)
    where: str  # path:line of the import statement
    typing_only: bool  # under ``if TYPE_CHECKING:``

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.where})"


def modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Dotted name -> file of every module of ``packages`` under ``root`` (a package is its ``__init__``)."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST, typing_only: bool = False):
    """(import statement, under TYPE_CHECKING) for every import anywhere in ``tree``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, typing_only
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from _statements(ast.Module(body=[child], type_ignores=[]), True)
            for child in node.orelse:
                yield from _statements(ast.Module(body=[child], type_ignores=[]), typing_only)
        else:
            yield from _statements(node, typing_only)


def imports(root: Path, packages=PACKAGES) -> list[Import]:
    """Every import, by any module of ``packages``, of a module of ``packages``."""
    known = modules(root, packages)
    found = []
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        where = path.relative_to(root)
        for node, typing_only in _statements(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:  # relative: from the package of this module, up level - 1
                    package = name.split(".") if is_package else name.split(".")[:-1]
                    package = package[: len(package) - (node.level - 1)]
                    base = ".".join([*package, *([base] if base else [])])
                for alias in node.names:
                    submodule = f"{base}.{alias.name}"
                    targets.append(submodule if submodule in known else base)
            for target in targets:
                # ``import jobs.db.adbc`` of a module that does not exist: its nearest package.
                while target and target not in known:
                    target = target.rpartition(".")[0]
                edge = Import(name, target, f"{where}:{node.lineno}", typing_only)
                if target and target.split(".")[0] in packages and target != name and edge not in found:
                    found.append(edge)
    return found


def cycles(edges: list[Import]) -> list[list[Import]]:
    """One cycle (as its imports, in order) for each group of modules that import each other."""
    graph: dict[str, list[Import]] = {}
    for edge in edges:
        if not edge.typing_only:
            graph.setdefault(edge.source, []).append(edge)
            graph.setdefault(edge.target, [])
    # Tarjan's strongly connected components, iteratively (no recursion limit to meet).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            edge = next(children, None)
            if edge is not None:
                child = edge.target
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    found = []
    for group in groups:
        # A shortest way back to the group's first module, through the group only.
        first = min(group)
        paths = {first: []}
        frontier = [first]
        cycle = None
        while frontier and cycle is None:
            following = []
            for node in frontier:
                for edge in sorted(graph[node], key=lambda e: e.target):
                    if edge.target == first:
                        cycle = [*paths[node], edge]
                        break
                    if edge.target in group and edge.target not in paths:
                        paths[edge.target] = [*paths[node], edge]
                        following.append(edge.target)
                if cycle:
                    break
            frontier = following
        found.append(cycle)
    return found


def describe(cycle: list[Import]) -> str:
    names = " -> ".join([cycle[0].source, *(edge.target for edge in cycle)])
    return names + "\n" + "\n".join(f"    {edge}" for edge in cycle)


def test_the_walk_sees_every_module_and_their_imports():
    found = modules(REPO)
    assert {"jobs", "jobs.cli", "jobs.runner", "pipelines", "pipelines.registry"} <= set(found)
    edges = imports(REPO)
    assert any(e.source == "jobs.runner" and e.target == "jobs.ledger" for e in edges)
    assert {e.source for e in edges} <= set(found) and {e.target for e in edges} <= set(found)


def test_no_import_cycle_among_the_modules_of_jobs_and_pipelines():
    found = cycles(imports(REPO))
    message = "\n".join(describe(cycle) for cycle in found)
    print(message)
    assert not found, f"{len(found)} import cycle(s):\n{message}"


def test_pipelines_import_nothing_from_jobs():
    wrong = [e for e in imports(REPO) if e.source.split(".")[0] == "pipelines" and e.target.split(".")[0] == "jobs"]
    message = "\n".join(map(str, wrong))
    print(message)
    assert not wrong, f"pipelines imports from jobs:\n{message}"


# --- the walk itself, on a made-up tree ----------------------------------------------------

def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_through_a_function_level_import_and_a_submodule_named_by_from_is_found(tmp_path):
    root = _tree(tmp_path, {
        "jobs/__init__.py": "",
        "jobs/a.py": "from jobs.sub import b\n",  # b: a submodule, not a name of jobs.sub
        "jobs/sub/__init__.py": "",
        "jobs/sub/b.py": "def f():\n    import jobs.c\n",
        "jobs/c.py": "from jobs import a as again\nimport os\n",
        "jobs/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from jobs import a\n",
        "jobs/e.py": "from . import d\nfrom .sub.b import f\n",
        "pipelines/__init__.py": "",
        "pipelines/p.py": "import json\n",
    })
    (cycle,) = cycles(imports(root))
    assert describe(cycle).splitlines()[0] == "jobs.a -> jobs.sub.b -> jobs.c -> jobs.a"
    assert [e.where for e in cycle] == ["jobs/a.py:1", "jobs/sub/b.py:2", "jobs/c.py:1"]
    targets = {(e.source, e.target) for e in imports(root)}
    assert {("jobs.e", "jobs.d"), ("jobs.e", "jobs.sub.b"), ("jobs.d", "jobs.a")} <= targets  # relative, typing-only
    # The same tree without the function's import has no cycle.
    _tree(root, {"jobs/sub/b.py": "def f():\n    pass\n"})
    assert cycles(imports(root)) == []


def test_a_package_and_a_submodule_importing_each_other_is_a_cycle_even_from_a_function(tmp_path):
    root = _tree(tmp_path, {
        "jobs/__init__.py": "",
        "jobs/sinks/__init__.py": "class Sink: ...\ndef open_sink():\n    from jobs.sinks.sql import SqlSink\n",
        "jobs/sinks/sql.py": "from jobs.sinks import Sink\nclass SqlSink(Sink): ...\n",
    })
    (cycle,) = cycles(imports(root))
    assert describe(cycle).splitlines()[0] == "jobs.sinks -> jobs.sinks.sql -> jobs.sinks"
    # The shared type in a module of its own: no cycle.
    _tree(root, {
        "jobs/sinks/base.py": "class Sink: ...\n",
        "jobs/sinks/__init__.py": "from jobs.sinks.sql import SqlSink\n",
        "jobs/sinks/sql.py": "from jobs.sinks.base import Sink\nclass SqlSink(Sink): ...\n",
    })
    assert cycles(imports(root)) == []


def test_a_pipelines_module_importing_jobs_is_found(tmp_path):
    root = _tree(tmp_path, {
        "jobs/__init__.py": "",
        "jobs/errors.py": "",
        "pipelines/__init__.py": "",
        "pipelines/p.py": "def f():\n    from jobs.errors import ScoringError\n",
    })
    edges = imports(root)
    assert [(e.source, e.target, e.where) for e in edges] == [("pipelines.p", "jobs.errors", "pipelines/p.py:2")]


# --- the floors of docs/architecture.md ------------------------------------------------------

ARCHITECTURE = REPO / "docs" / "architecture.md"


def floors(text: str) -> list[tuple[str, list[str]]]:
    """The table of ``docs/architecture.md`` under "Packages and what each may import": each
    floor's name and the module names it places (backticked names of jobs or pipelines), lowest
    floor first."""
    section = text.split("## Packages and what each may import", 1)[1].split("\n## ", 1)[0]
    found = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("floor", "") or set(cells[0]) <= {"-"}:
            continue
        names = [name for name in re.findall(r"`([\w.]+)`", cells[1]) if name.split(".")[0] in PACKAGES]
        found.append((cells[0], names))
    return found


def placed(module: str, table: list[tuple[str, list[str]]]) -> tuple[int, int] | None:
    """(floor, rank of the name within it) of the longest name of ``table`` that is ``module`` or
    a package holding it; None when no name places it."""
    best = None
    for level, (_, names) in enumerate(table):
        for rank, name in enumerate(names):
            if (module == name or module.startswith(name + ".")) and (best is None or len(name) > best[2]):
                best = (level, rank, len(name))
    return best[:2] if best else None


def upward(edges: list[Import], table: list[tuple[str, list[str]]]) -> list[str]:
    """Imports that go up a floor, or (among ``pipelines``) to a module listed after the importer."""
    wrong = []
    for edge in edges:
        source, target = placed(edge.source, table), placed(edge.target, table)
        if source is None or target is None:
            continue
        pipelines = table[source[0]][0] == "pipelines" and source[0] == target[0]
        if target[0] > source[0] or (pipelines and target[1] > source[1]):
            wrong.append(f"{edge}: {table[source[0]][0]} imports {table[target[0]][0]}")
    return wrong


def test_every_module_is_on_a_floor_of_the_architecture_and_imports_nothing_above_it():
    table = floors(ARCHITECTURE.read_text())
    assert [name for name, _ in table] == ["pipelines", "ground", "config and state", "edges", "engines", "composition", "face"]
    unplaced = [name for name in modules(REPO) if name not in PACKAGES and placed(name, table) is None]
    assert not unplaced, f"modules docs/architecture.md places on no floor: {unplaced}"
    wrong = upward(imports(REPO), table)
    print("\n".join(wrong))
    assert not wrong, "imports up a floor:\n" + "\n".join(wrong)


def test_an_import_up_a_floor_or_up_the_pipelines_order_is_found(tmp_path):
    table = [("pipelines", ["pipelines.a", "pipelines.b"]), ("ground", ["jobs.errors"]), ("face", ["jobs.cli", "jobs.cli.quiet"])]
    root = _tree(tmp_path, {
        "jobs/__init__.py": "",
        "jobs/errors.py": "from jobs.cli import main\nfrom pipelines import b\n",
        "jobs/cli/__init__.py": "from jobs import errors\nmain = 1\n",
        "jobs/cli/quiet.py": "from jobs import errors\n",
        "pipelines/__init__.py": "",
        "pipelines/a.py": "from pipelines import b\n",
        "pipelines/b.py": "",
    })
    assert upward(imports(root), table) == [
        "jobs.errors -> jobs.cli (jobs/errors.py:1): ground imports face",
        "pipelines.a -> pipelines.b (pipelines/a.py:1): pipelines imports pipelines",
    ]
    assert placed("jobs.cli.quiet", table) == (2, 1) and placed("jobs.cli.parser", table) == (2, 0) and placed("jobs.db", table) is None
