"""The corpus benchmarks take `--corpus DIR` and fail (non-zero, saying why) when they would measure nothing:
a missing directory, one without .clj files, or one without the file a figure needs. No figure is
measured here (no timing in tests): each run stops before its first measurement."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS_BENCHMARKS = ("dsl.py", "backtest.py", "market_data.py")


def run(benchmark: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / benchmark), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("benchmark", CORPUS_BENCHMARKS)
def test_help_names_the_corpus_option(benchmark: str) -> None:
    result = run(benchmark, "--help")
    assert result.returncode == 0, result.stderr
    assert "--corpus DIR" in result.stdout or "--corpus CORPUS" in result.stdout


@pytest.mark.parametrize("benchmark", CORPUS_BENCHMARKS)
@pytest.mark.parametrize("corpus", ["missing", "empty"])
def test_no_corpus_is_a_failure_not_an_empty_success(benchmark: str, corpus: str, tmp_path: Path) -> None:
    directory = tmp_path / corpus
    if corpus == "empty":
        directory.mkdir()
        (directory / "notes.txt").write_text("no strategies here\n")
    result = run(benchmark, "--corpus", str(directory))
    assert result.returncode != 0
    assert str(directory) in result.stderr
    assert "nothing to measure" in result.stderr


def test_dsl_benchmark_without_the_whole_command_file_fails(tmp_path: Path) -> None:
    (tmp_path / "tiny.clj").write_text('(defsymphony "Tiny" {:asset-class "EQUITIES"} (asset "SPY"))\n')
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "dsl.py"), "--corpus", str(tmp_path), "--commands-only"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "ftl_starburst.clj not found" in result.stderr
