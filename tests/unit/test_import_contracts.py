"""The module boundaries hold, and the import-linter contract really bites when broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def run_lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "the_alchemiser", tmp_path / "the_alchemiser", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_real_tree_keeps_every_contract(project_copy: Path) -> None:
    result = run_lint_imports(project_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "offending_import", "contract"),
    [
        ("portfolio_v2", "import the_alchemiser.execution_v2", "independent"),
        ("notifications_v2", "from the_alchemiser.strategy_v2 import dsl", "independent"),
        ("shared", "import the_alchemiser.aggregator_v2", "shared imports no business module"),
    ],
)
def test_a_cross_module_import_breaks_the_contract(
    project_copy: Path, module: str, offending_import: str, contract: str
) -> None:
    target = project_copy / "the_alchemiser" / module / "_offender.py"
    target.write_text(f"{offending_import}  # deliberately wrong\n")
    result = run_lint_imports(project_copy)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout
    assert contract in result.stdout
    assert "_offender" in result.stdout
