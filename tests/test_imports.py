"""The package's import graph, read with ``ast``: no circles, and the layers keep their place.

* no module of the client imports another in a circle (type-only imports included);
* only the transport (``_http``) imports aiohttp at run time (``test_public_api``);
* the flow modules, which decide every rule, import neither anyio, asyncio nor time: they
  run under any driver (the network one, the dry run, a test feeding recorded answers).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "brightmetrics_async"
FLOW_MODULES = [
    "_fetch",
    "_ops",
    "_job_flow",
    "_bodies",
    "_pager",
    "_polling",
    "_poll_policy",
    "_request",
    "_protocol",
    "_retry",
    "_retry_after",
    "_dry_run",
    "_estimate",
    "_json_array",
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def client_modules() -> dict[str, Path]:
    return {
        module_name(p): p
        for p in PACKAGE.rglob("*.py")
        if "testing" not in p.relative_to(PACKAGE).parts
    }


def imports(path: Path, known: set[str]) -> set[str]:
    """Every module ``path`` imports (absolute names), at run time or for typing."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            subs = {f"{target}.{alias.name}" for alias in node.names} & known
            found.update(subs or {target})
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

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
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_module_of_the_client_imports_another_in_a_circle() -> None:
    modules = client_modules()
    known = set(modules)
    graph = {name: imports(path, known) & known for name, path in modules.items()}
    # The package's __init__ re-exports everything; a module importing the package itself
    # would close a circle through it, so that counts too.
    assert len(graph) > 40
    assert cycles(graph) == []


def test_cycles_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_flow_modules_import_neither_anyio_asyncio_nor_time() -> None:
    modules = client_modules()
    for short in FLOW_MODULES:
        name = f"brightmetrics_async.{short}"
        found = imports(modules[name], set(modules))
        for banned in ("anyio", "asyncio", "time", "aiohttp", "brightmetrics_async._http"):
            hits = {i for i in found if i == banned or i.startswith(banned + ".")}
            assert not hits, f"{short} imports {hits}"
        # Nor the driver, the session or the transport: flows know only commands.
        assert not found & {
            "brightmetrics_async._driver",
            "brightmetrics_async._session",
            "brightmetrics_async._bulk",
        }, short
