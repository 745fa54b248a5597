"""Dependency groups: the runtime dependencies (what the Lambdas import) are all that `signals`, `validate`,
`backtest` and `data` need; `run` and `positions` need the `local` group (moto, PyYAML) and, without it,
say so in one line. A runtime-only install (`uv sync --no-dev`) is checked through the module graph: every
import the command's modules can reach, function-level ones included, is walked statically."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.infra.wiring import REPO
from the_alchemiser.local import LOCAL_GROUP_MODULES

RUNTIME_ONLY_COMMANDS = ("signals", "validate", "backtest", "data")
LOCAL_COMMANDS = ("run", "positions")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def _lock() -> dict[str, dict[str, object]]:
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    return {p["name"]: p for p in lock["package"]}


def _closure(roots: list[str]) -> set[str]:
    packages = _lock()
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        package = packages[name]
        pending += [d["name"] for d in package.get("dependencies", [])]  # type: ignore[union-attr]
        for extra in package.get("optional-dependencies", {}).values() if name in roots else []:  # type: ignore[union-attr]
            pending += [d["name"] for d in extra]
    return seen


def _project() -> dict[str, object]:
    return _lock()[tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]]


def runtime_closure() -> set[str]:
    return _closure([d["name"] for d in _project().get("dependencies", [])])  # type: ignore[union-attr]


def group_closure(group: str) -> set[str]:
    groups = _project().get("dev-dependencies", {})
    return _closure([d["name"] for d in groups[group]])  # type: ignore[index]


def _module_file(name: str) -> Path | None:
    path = REPO.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    if path.with_suffix(".py").is_file():
        return path.with_suffix(".py")
    return None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> set[str]:
    """Every module named by an import statement anywhere in the file (not under `if TYPE_CHECKING:`)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            found.add(source)
            found.update(f"{source}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


@cache
def reachable_third_party(start: str) -> frozenset[str]:
    """Top-level third-party modules that importing `start` and calling anything in it can import."""
    seen: set[str] = set()
    third_party: set[str] = set()
    pending = [start]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(module)
        if path is None:
            continue
        parts = module.split(".")
        pending += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages run first
        for name in _imports(path, module):
            top = name.split(".")[0]
            if top == "the_alchemiser":
                pending.append(name)
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
    return frozenset(third_party)


@cache
def _top_level_distributions() -> dict[str, list[str]]:
    return packages_distributions()


def _distributions(top: str) -> set[str]:
    return {_normalise(d) for d in _top_level_distributions().get(top, [top])}


def test_the_graph_walk_finds_function_level_imports() -> None:
    """The walk is not blind: `run` imports moto inside a function, deep in the local stack."""
    assert "moto" in reachable_third_party("the_alchemiser.cli.commands.run")
    assert "numpy" in reachable_third_party("the_alchemiser.cli.commands.signals")


@pytest.mark.parametrize("command", RUNTIME_ONLY_COMMANDS)
def test_command_needs_only_the_runtime_dependencies(command: str) -> None:
    runtime = runtime_closure()
    outside = {
        top
        for top in reachable_third_party(f"the_alchemiser.cli.commands.{command}")
        if not _distributions(top) & runtime
    }
    assert outside == set(), f"`{command}` reaches packages a runtime-only install lacks"


@pytest.mark.parametrize("command", LOCAL_COMMANDS)
def test_local_commands_need_only_the_local_group_beyond_the_runtime(command: str) -> None:
    """Whatever `run` reaches beyond the runtime is what its one-line check looks for, and in `local`."""
    runtime, local = runtime_closure(), group_closure("local")
    beyond = {
        top
        for top in reachable_third_party(f"the_alchemiser.cli.commands.{command}")
        if not _distributions(top) & runtime
    }
    assert beyond <= set(LOCAL_GROUP_MODULES), beyond - set(LOCAL_GROUP_MODULES)
    assert all(_distributions(top) & local for top in LOCAL_GROUP_MODULES)


def test_the_cli_and_the_lambdas_never_need_a_dev_or_local_package_at_import() -> None:
    """The handlers' code (the deploy units) and the CLI front end reach only the runtime dependencies."""
    runtime = runtime_closure()
    starts = ["the_alchemiser.cli", *(f"the_alchemiser.{m}.lambda_handler" for m in _HANDLER_PACKAGES)]
    outside = {
        (start, top) for start in starts for top in reachable_third_party(start) if not _distributions(top) & runtime
    }
    assert outside == set()


_HANDLER_PACKAGES = (
    "coordinator_v2",
    "strategy_v2",
    "aggregator_v2",
    "portfolio_v2",
    "execution_v2",
    "notifications_v2",
    "data_v2",
)


def test_pyarrow_is_not_a_runtime_dependency_and_tzdata_is() -> None:
    """pyarrow (118 MB of the old layer) is not needed: Parquet goes through fastparquet + cramjam.
    tzdata is explicit: zoneinfo on Lambda must not depend on the runtime image's /usr/share/zoneinfo."""
    runtime = runtime_closure()
    assert "pyarrow" not in runtime
    direct = {_normalise(d["name"]) for d in _project().get("dependencies", [])}  # type: ignore[union-attr]
    assert "tzdata" in direct


def test_dev_includes_local_so_a_plain_uv_sync_runs_everything() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert {"include-group": "local"} in pyproject["dependency-groups"]["dev"]


BLOCKED_RUN = """
import importlib.machinery, sys
# as if not installed: the path finder finds no moto or yaml (find_spec None, import raises)
path_find_spec = importlib.machinery.PathFinder.find_spec
def find_spec(cls, name, path=None, target=None):
    return None if name.split(".")[0] in {"moto", "yaml"} else path_find_spec(name, path, target)
importlib.machinery.PathFinder.find_spec = classmethod(find_spec)
from the_alchemiser.cli import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"moto", "yaml"})
print("exit", code, "loaded", loaded)
"""


@pytest.mark.parametrize("argv", [["run", "--date", "2026-11-20"], ["positions"]])
def test_without_the_local_group_run_names_it_in_one_line(argv: list[str], tmp_path: Path) -> None:
    """As after `uv sync --no-dev`: moto and PyYAML cannot be imported. One line, exit 2, no traceback."""
    result = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(REPO)},
        check=False,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == "exit 2 loaded []", result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "`local` dependency group" in lines[0] and "uv sync --group local" in lines[0]
    assert json.dumps(lines[0])  # plain text


def test_with_the_local_group_nothing_is_missing() -> None:
    from the_alchemiser.local import local_group_missing

    assert local_group_missing("run") is None


def test_make_install_compiles_bytecode_and_make_run_syncs_the_local_group() -> None:
    """`make install`: a user's first command as fast as the second; `make run`: what `run` needs."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    synced = makefile.split("$(VENV)/.synced:", 1)[1].split("\n\n", 1)[0]
    assert "sync --frozen --compile-bytecode" in synced
    local = makefile.split("$(VENV)/.synced-local:", 1)[1].split("\n\n", 1)[0]
    assert "--compile-bytecode" in local and "--group local" in local
    run_target = next(line for line in makefile.splitlines() if line.startswith("run:"))
    assert "$(VENV)/.synced-local" in run_target
