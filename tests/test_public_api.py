"""The public surface: explicit, sorted, complete; one error tree; the emulator stands alone."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import brightmetrics_async as bm
import brightmetrics_async.testing as bmt

PACKAGE = Path(bm.__file__).parent


def test_all_matches_the_real_exports() -> None:
    public = {
        name
        for name, value in vars(bm).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(bm.__all__) == public
    assert list(bm.__all__) == sorted(bm.__all__)
    for name in bm.__all__:
        assert getattr(bm, name) is not None


def test_testing_all_matches_its_exports() -> None:
    public = {
        name
        for name, value in vars(bmt).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(bmt.__all__) == public


def test_every_error_is_in_one_tree() -> None:
    errors = [getattr(bm, n) for n in bm.__all__ if isinstance(getattr(bm, n), type)]
    errors = [e for e in errors if issubclass(e, BaseException)]
    assert len(errors) >= 15
    assert all(issubclass(e, bm.BrightmetricsError) for e in errors)
    assert issubclass(bm.JobExpired, TimeoutError)
    assert issubclass(bm.RequestTimeout, TimeoutError)
    assert issubclass(bm.ConfigurationError, ValueError)
    assert issubclass(bm.FilterError, bm.ConfigurationError)
    for cls in (bm.AuthenticationError, bm.NotFound, bm.RateLimited):
        assert issubclass(cls, bm.ApiError)


def test_public_objects_have_docstrings() -> None:
    for name in bm.__all__:
        obj = getattr(bm, name)
        if callable(obj):
            assert obj.__doc__, f"bm.{name} has no docstring"


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node, except what sits under ``if TYPE_CHECKING:`` (annotations only)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.add("." * node.level + (node.module or ""))
            elif node.module:
                found.add(node.module)
    return found


def test_only_the_transport_imports_aiohttp() -> None:
    users = {
        path.name
        for path in PACKAGE.glob("*.py")
        if any(name == "aiohttp" or name.startswith("aiohttp.") for name in _imports(path))
    }
    assert users <= {"_http.py"}


def test_the_emulator_does_not_import_the_client() -> None:
    for path in (PACKAGE / "testing").glob("*.py"):
        for name in _imports(path):
            assert not name.startswith("brightmetrics_async") or name.startswith(
                "brightmetrics_async.testing"
            ), f"{path.name} imports {name}"
            assert not name.startswith(".."), f"{path.name} imports {name}"
