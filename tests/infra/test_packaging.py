"""The deploy units package the_alchemiser/ and strategies/ from the repo (never hand copies), import on
their own, find strategies/ where Settings looks, and the layer holds what the runtime code imports."""

from __future__ import annotations

import ast
import filecmp
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.infra.wiring import FUNCTIONS, REPO

EXCLUDED_FROM_UNITS = ("local", "cli", "__main__.py")  # local tooling: no handler imports them
RUNTIME_CODE = [
    p
    for p in sorted((REPO / "the_alchemiser").rglob("*.py"))
    if p.relative_to(REPO / "the_alchemiser").parts[0] not in EXCLUDED_FROM_UNITS
]


def _package(function_dir: str, artifacts: Path) -> None:
    subprocess.run(
        ["bash", "scripts/package_function.sh", f"functions/{function_dir}", str(artifacts)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )


def _tree(root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def units(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("units")
    built = {}
    for function, (directory, _) in FUNCTIONS.items():
        _package(directory, root / function)
        built[function] = root / function
    return built


def test_each_unit_is_the_shim_plus_the_repos_package_and_strategies(units: dict[str, Path]) -> None:
    expected_package = {
        str(p.relative_to(REPO))
        for p in (REPO / "the_alchemiser").rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and p.suffix != ".pyc"
        and p.relative_to(REPO / "the_alchemiser").parts[0] not in EXCLUDED_FROM_UNITS
    }
    expected_strategies = {str(p.relative_to(REPO)) for p in (REPO / "strategies").rglob("*") if p.is_file()}
    for function, unit in units.items():
        directory, _ = FUNCTIONS[function]
        assert _tree(unit) == {"lambda_handler.py"} | expected_package | expected_strategies, function
        assert filecmp.cmp(unit / "lambda_handler.py", REPO / "functions" / directory / "lambda_handler.py", False)
        mismatched = [f for f in expected_package | expected_strategies if not filecmp.cmp(unit / f, REPO / f, False)]
        assert mismatched == [], function


IMPORT_EVERY_SHIM = """
import importlib, importlib.util, json, sys
from pathlib import Path
units, modules = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.path.insert(0, units[0][1])
import the_alchemiser
from the_alchemiser.shared.config.settings import Settings
report = {"package": the_alchemiser.__file__, "strategies": str(Settings().strategies_path), "handlers": {}}
for function, unit in units:
    spec = importlib.util.spec_from_file_location(f"shim_{function}", Path(unit) / "lambda_handler.py")
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    real = importlib.import_module(f"the_alchemiser.{modules[function]}.lambda_handler").lambda_handler
    report["handlers"][function] = shim.lambda_handler is real and callable(real)
report["local_loaded"] = sorted(m for m in sys.modules if m.startswith(("the_alchemiser.local", "the_alchemiser.cli")))
print(json.dumps(report))
"""


def test_every_handler_imports_from_its_unit_alone(units: dict[str, Path], tmp_path: Path) -> None:
    """In a fresh interpreter started outside the repo: the unit's package, not the repo's, serves the import."""
    ordered = sorted(units.items())
    modules = {function: module for function, (_, module) in FUNCTIONS.items()}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_SHIM, json.dumps([(f, str(p)) for f, p in ordered]), json.dumps(modules)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    first_unit = ordered[0][1]
    assert report["package"] == str(first_unit / "the_alchemiser" / "__init__.py")
    assert report["handlers"] == dict.fromkeys(units, True)
    assert report["local_loaded"] == []
    # Settings.strategies_path's default: strategies/ next to the package, as packaged
    strategies = Path(report["strategies"])
    assert strategies == first_unit / "strategies"
    assert (strategies / "allocations.toml").is_file() and list(strategies.glob("*.clj"))


# ------------------------------------------------------------------------------------------- the layer
def _locked_runtime_packages() -> set[str]:
    """The project's runtime dependency closure in uv.lock (normalised names), dev group excluded."""
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    packages = {p["name"]: p for p in lock["package"]}
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    seen: set[str] = set()
    pending = [d["name"] for d in packages[project].get("dependencies", [])]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        pending += [d["name"] for d in packages[name].get("dependencies", [])]
    return seen


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_runtime_code_imports_only_locked_runtime_packages() -> None:
    """What the deploy units import from outside the_alchemiser is in the layer (uv.lock without dev)."""
    from importlib.metadata import packages_distributions

    distributions = packages_distributions()
    locked = _locked_runtime_packages()
    outside: dict[str, str] = {}
    for path in RUNTIME_CODE:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top == "the_alchemiser" or top in sys.stdlib_module_names:
                    continue
                dists = {_normalise(d) for d in distributions.get(top, [top])}
                if not dists & locked:
                    outside[top] = str(path.relative_to(REPO))
    assert outside == {}


def test_the_trimmed_layer_keeps_every_aws_service_the_code_calls() -> None:
    script = (REPO / "scripts" / "trim_layer.sh").read_text(encoding="utf-8")
    (kept,) = re.findall(r'^BOTOCORE_SERVICES="([^"]+)"', script, re.M)
    called = set()
    for path in RUNTIME_CODE:
        called |= set(re.findall(r'boto3\.client\(\s*"([a-z0-9-]+)"', path.read_text(encoding="utf-8")))
    assert called, "no boto3.client call found: the scan is broken"
    assert called <= set(kept.split()), called - set(kept.split())


def test_layer_requirements_judges_markers_for_lambda_python312(tmp_path: Path) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text(
        "# generated by uv\n"
        "numpy==1.26.4 ; python_full_version < '3.12' \\\n    --hash=sha256:aaa\n"
        "numpy==2.1.0 ; python_full_version >= '3.12' \\\n    --hash=sha256:bbb \\\n    --hash=sha256:ccc\n"
        "pywin32==306 ; sys_platform == 'win32' \\\n    --hash=sha256:ddd\n"
        "six==1.17.0 \\\n    --hash=sha256:eee\n",
        encoding="utf-8",
    )
    output = tmp_path / "requirements.txt"
    subprocess.run([sys.executable, "scripts/layer_requirements.py", str(locked), str(output)], cwd=REPO, check=True)
    assert output.read_text(encoding="utf-8").splitlines() == [
        "numpy==2.1.0 --hash=sha256:bbb --hash=sha256:ccc",
        "six==1.17.0 --hash=sha256:eee",
    ]


def test_two_pins_for_lambda_are_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("six==1.16.0 --hash=sha256:a\nsix==1.17.0 --hash=sha256:b\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "scripts/layer_requirements.py", str(locked), str(tmp_path / "out.txt")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1 and "six" in result.stderr
