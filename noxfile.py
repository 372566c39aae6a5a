"""Development sessions: ``nox`` runs tests (every Python 3.11-3.13 found), the suite without
the optional orjson (``tests_minimal``), lint and typing.

``nox -s bench`` runs the benchmarks and rewrites ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os

import nox

nox.options.sessions = ["tests", "tests_minimal", "lint", "typing"]
nox.options.error_on_missing_interpreters = False
nox.options.reuse_existing_virtualenvs = True
# uv makes the environments (seconds instead of a minute each) when it is installed, as
# `.ci/run` does; virtualenv otherwise. Never download a Python: a missing one is skipped.
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.download_python = "never"

PYTHONS = ["3.11", "3.12", "3.13"]


def pytest_args(session: nox.Session) -> list[str]:
    """pytest on every core with pytest-xdist (at most 4 workers; ``PYTEST_XDIST_AUTO_NUM_WORKERS``
    sets the count). Each worker is a test session of its own: its own temp dirs, emulators on
    port 0 and redis-server. The posargs come last: ``nox -s tests -- -n 0`` runs in one process.
    """
    workers = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS") or str(min(4, os.cpu_count() or 1))
    return ["-n", workers, "--dist", "worksteal", *session.posargs]


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole test suite, against the emulator over loopback and a real redis-server."""
    session.install("-e", ".[test]")
    session.run("pytest", *pytest_args(session))


@nox.session(python="3.11")
def tests_minimal(session: nox.Session) -> None:
    """The suite without the optional extras' speed-up: no orjson, the standard json decoder."""
    session.install("-e", ".[test-minimal]")
    session.run("python", "-c", "import importlib.util as u; assert not u.find_spec('orjson')")
    session.run("pytest", *pytest_args(session))


@nox.session(python="3.11")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python="3.11")
def typing(session: nox.Session) -> None:
    """mypy --strict on the package, the tests and the examples."""
    session.install("-e", ".[test]", "mypy>=1.10")
    session.run("mypy", "--strict", "brightmetrics_async", "tests", "examples")


@nox.session(python="3.11")
def bench(session: nox.Session) -> None:
    """The benchmarks: ratios against baselines measured in the same run."""
    session.install("-e", ".[test]", "requests>=2.31")
    session.run("python", "-m", "benchmarks", *session.posargs)
