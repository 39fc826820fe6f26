"""Facts about the layout anyone can check: no import cycle, commands are leaves, seven stages.

The import graph is read from the source (every ``import`` statement, also those inside functions, so a
lazy import cannot hide a cycle) over the packages ``streams``, ``models`` and ``backtest``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("streams", "models", "backtest")
STAGES = {"market", "features", "regime", "news", "edge", "governance", "trader"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``module`` imports (``from pkg import sub`` counts as ``pkg.sub``)."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_pkg else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            resolved = _resolve(target, modules)
            if resolved and resolved != module:
                found.add(resolved)
    return found


def import_graph() -> dict[str, set[str]]:
    """Map each module of the packages to the project modules it imports."""
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    tarjan = _Tarjan(graph)
    for root in sorted(graph):
        if root not in tarjan.index:
            tarjan.visit(root)
    return tarjan.components


class _Tarjan:
    def __init__(self, graph: dict[str, set[str]]) -> None:
        self.graph = graph
        self.index: dict[str, int] = {}
        self.low: dict[str, int] = {}
        self.stack: list[str] = []
        self.on_stack: set[str] = set()
        self.components: list[list[str]] = []

    def _enter(self, node: str) -> tuple[str, Iterator[str]]:
        self.index[node] = self.low[node] = len(self.index)
        self.stack.append(node)
        self.on_stack.add(node)
        return node, iter(sorted(self.graph.get(node, ())))

    def visit(self, root: str) -> None:
        work = [self._enter(root)]
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    self.low[work[-1][0]] = min(self.low[work[-1][0]], self.low[node])
                self._close(node)
            elif child not in self.index:
                work.append(self._enter(child))
            elif child in self.on_stack:
                self.low[node] = min(self.low[node], self.index[child])

    def _close(self, node: str) -> None:
        if self.low[node] != self.index[node]:
            return
        component = []
        while True:
            top = self.stack.pop()
            self.on_stack.discard(top)
            component.append(top)
            if top == node:
                break
        if len(component) > 1:
            self.components.append(sorted(component))


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 120, "the walk found too few modules"
    assert _cycles(graph) == []


def test_nothing_outside_the_cli_imports_it() -> None:
    offenders = {
        m: sorted(t for t in targets if t == "streams.cli" or t.startswith("streams.cli."))
        for m, targets in import_graph().items()
        if not (m == "streams.cli" or m.startswith("streams.cli."))
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_models_are_estimators_below_the_pipeline() -> None:
    graph = import_graph()
    allowed = ("models", "streams.core.units", "streams.core.moved")
    upward = {m: sorted(t for t in ts if not t.startswith(allowed)) for m, ts in graph.items()}
    assert {m: t for m, t in upward.items() if m.startswith("models") and t} == {}


def test_the_api_depends_down_on_storage_only() -> None:
    # the HTTP service reads what the pipeline stored (PostgreSQL, Redis); it never reaches into the
    # stages, the binding (Kafka) or the commands
    allowed = ("streams.api", "streams.storage", "streams.settings", "streams.core")
    graph = import_graph()
    api = {
        m: sorted(t for t in ts if not t.startswith(allowed))
        for m, ts in graph.items()
        if m.startswith("streams.api")
    }
    assert len(api) >= 6
    assert {m: t for m, t in api.items() if t} == {}


def _environment_uses(path: Path) -> list[int]:
    """Lines that read or write ``os.environ`` / ``os.getenv`` (handing a copy to a child process is allowed
    in ``CHILD_ENV_OK``)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("environ", "getenv", "putenv")
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            lines.append(node.lineno)
    return lines


CHILD_ENV_OK = {"streams.binding.workers"}  # builds a subprocess's environment, reads no variable


def test_the_environment_is_read_only_in_settings() -> None:
    uses = {
        m: _environment_uses(p) for m, p in _modules().items() if m not in ("streams.settings", *CHILD_ENV_OK)
    }
    assert {m: lines for m, lines in uses.items() if lines} == {}


READS = ("open", "read_text", "read_bytes", "load", "read_meta", "load_artifact", "read_calendar_file")


def test_stages_read_no_file() -> None:
    """Model artifacts and the calendar are injected by the DAG factories (streams/dag.py)."""
    calls, graph = {}, import_graph()
    for module, path in _modules().items():
        if not module.startswith("streams.stages."):
            continue
        tree = ast.parse(path.read_text(), str(path))
        names = [
            n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
        ]
        hits = sorted({n for n in names if n in READS})
        io_imports = sorted(t for t in graph[module] if t in ("models.artifacts", "streams.data.calendar"))
        if hits or io_imports:
            calls[module] = hits + io_imports
    assert calls == {}


def test_the_stage_folder_lists_the_seven_stages() -> None:
    folder = ROOT / "streams" / "stages"
    entries = {
        p.stem if p.suffix == ".py" else p.name
        for p in folder.iterdir()
        if p.name != "__init__.py"
        and not p.name.startswith((".", "__pycache__"))
        and (p.suffix == ".py" or (p / "__init__.py").exists())
    }
    assert entries == STAGES
