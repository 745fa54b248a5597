"""`python -m the_alchemiser backtest`: files, --json, notes, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.strategy_v2.backtest.helpers import (
    REPO,
    Book,
    backtest,
    cli,
    days,
    one_error_line,
    random_closes,
    write_market,
)
from tests.support.strategy_v2.dsl_helpers import frame
from the_alchemiser.cli import main as cli_main

COUNT = 160
TREND = """(defsymphony "Trend" {}
 (if (> (current-price "SPY") (moving-average-price "SPY" {:window 50})) [(asset "QQQ")] [(asset "TLT")]))
"""
HOLD = '(defsymphony "Hold QQQ" {} (asset "QQQ"))'


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("backtest_cli")
    index = days(COUNT)
    bars = {s: frame(random_closes(COUNT, seed=i), dates=index) for i, s in enumerate(["SPY", "QQQ", "TLT", "BRK/B"])}
    write_market(root / "data", bars)
    (root / "trend.clj").write_text(TREND)
    (root / "hold.clj").write_text(HOLD)
    return root


def _run(
    workspace: Path, *extra: str, files: tuple[str, ...] = ("trend.clj", "hold.clj")
) -> subprocess.CompletedProcess[str]:
    index = days(COUNT)
    args = [str(workspace / f) for f in files]
    return cli("backtest", *args, "--data", str(workspace / "data"), "--start", index[0].date().isoformat(),
               "--end", index[-1].date().isoformat(), *extra)  # fmt: skip


def test_json_prints_stats_json_and_the_files_follow_the_contract(workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = _run(workspace, "--out", str(out), "--json", "--benchmark", "BRK/B", "--cost-bps", "5")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert stats == json.loads((out / "stats.json").read_text())
    assert "\r" not in result.stderr and "evaluating" not in result.stderr  # no progress when not a terminal
    assert {"start", "end", "timing", "cost_bps", "portfolio", "strategies", "benchmark"} <= set(stats)
    assert stats["timing"] == "composer" and stats["cost_bps"] == 5.0
    assert set(stats["strategies"]) == {"Trend", "Hold QQQ"}
    assert stats["benchmark"]["days"] == stats["portfolio"]["days"]
    # Trend needs 50 closes: it starts late, says so, and the portfolio starts with it
    first = days(COUNT)[49].date().isoformat()
    assert stats["start"] == first and stats["requested_start"] == days(COUNT)[0].date().isoformat()
    assert stats["late_starts"]["Trend"]["first_day"] == first
    assert f"note: Trend (trend.clj) starts on {first}" in result.stderr
    equity = pd.read_csv(out / "equity.csv")
    assert list(equity.columns) == ["date", "portfolio", "Trend", "Hold QQQ", "BRK/B"]
    assert equity.iloc[0, 1:].tolist() == [1.0, 1.0, 1.0, 1.0] and equity["date"].iloc[0] == first
    weights = pd.read_csv(out / "weights.csv")
    assert weights.columns[0] == "date" and set(weights.columns[1:]) <= {"QQQ", "TLT"}
    assert np.allclose(weights.drop(columns="date").fillna(0).sum(axis=1), 1.0)
    html = (out / "report.html").read_text()
    assert "<svg" in html and "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html


def test_live_timing_and_the_human_summary(workspace: Path, tmp_path: Path) -> None:
    result = _run(workspace, "--out", str(tmp_path / "out"), "--timing", "live")
    assert result.returncode == 0, result.stderr
    assert "live timing" in result.stdout and "report.html" in result.stdout
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["timing"] == "live"


def test_progress_shows_on_a_terminal_and_json_stays_clean(workspace: Path, tmp_path: Path) -> None:
    master, slave = pty.openpty()
    index = days(COUNT)
    try:
        process = subprocess.run(
            [sys.executable, "-m", "the_alchemiser", "backtest", str(workspace / "trend.clj"), "--data",
             str(workspace / "data"), "--start", index[0].date().isoformat(), "--end", index[-1].date().isoformat(),
             "--out", str(tmp_path / "out"), "--json"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=slave, text=True, timeout=180,
        )  # fmt: skip
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert process.returncode == 0
    assert json.loads(process.stdout)["strategies"]  # stdout: exactly the JSON
    assert b"evaluating 1/1: trend.clj" in seen


def test_union_of_the_strategies_days(tmp_path: Path) -> None:
    index = days(60)
    gappy = index.delete([10, 11, 30])
    bars = {"SPY": frame(random_closes(60, seed=1), dates=index), "GAP": frame(random_closes(57, seed=2), dates=gappy)}
    spy = '(defsymphony "S" {} (asset "SPY"))'
    gap = '(defsymphony "G" {} (asset "GAP"))'
    result = backtest(bars, [Book(spy, 0.5, "s.clj"), Book(gap, 0.5, "g.clj")])
    assert result.dates == [d.date() for d in index]
    g = next(run for run in result.strategies if run.label == "G")
    assert g.curve.returns[9] == 0.0  # GAP has no bar on day 10: its close is carried forward
    assert result.portfolio.returns[9] == pytest.approx(0.5 * result.strategies[0].curve.returns[9], rel=1e-12)
    np.testing.assert_allclose(result.targets, 0.5)  # G's weights hold over its missing days


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command's run() in this process (fast); the subprocess tests cover the real entry point."""
    code = cli_main(["backtest", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        (("--start", "2024-13-01"), 2, "--start '2024-13-01' is not a date (YYYY-MM-DD)"),
        (("--end", "2020-01-01"), 2, "is after --end 2020-01-01"),
        (("--cost-bps", "-3"), 2, "--cost-bps must be a non-negative number"),
        (("--start", "2031-01-01", "--end", "2031-12-31"), 3, "no trading day between 2031-01-01 and 2031-12-31"),
        (("--benchmark", "NOPE"), 3, "missing market data: no market data for: NOPE"),
        (("--stage", "dev"), 2, "--allocations/--stage, not both"),
    ],
)
def test_bad_arguments_fail_with_one_line(
    workspace: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: tuple[str, ...],
    code: int,
    fragment: str,
) -> None:
    index = days(COUNT)
    returned, out, err = in_process(capsys, str(workspace / "hold.clj"), "--data", str(workspace / "data"),
                                    "--start", index[0].date().isoformat(), "--end", index[-1].date().isoformat(),
                                    "--out", str(tmp_path / "out"), *extra)  # fmt: skip
    assert returned == code, err
    assert out == "" and len(err.strip().splitlines()) == 1, err
    line = err.strip()
    assert line.startswith("error: ") and fragment in line, line
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_no_strategy_and_half_an_allocation_pair(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["--data", str(workspace / "data"), "--start", "2024-01-02", "--end", "2024-06-28", "--out", str(tmp_path)]
    assert "give one or more strategy files" in in_process(capsys, *base)[2]
    code, _, err = in_process(capsys, "--allocations", str(REPO / "strategies/allocations.toml"), *base)
    assert code == 2 and "--allocations and --stage go together" in err
    code, _, err = in_process(capsys, "--allocations", str(tmp_path / "x.toml"), "--stage", "dev", *base)
    assert code == 2 and "allocations.toml" in err
    code, _, err = in_process(
        capsys, "--allocations", str(REPO / "strategies/allocations.toml"), "--stage", "nope", *base
    )
    assert code == 2 and "no [nope] table" in err and len(err.strip().splitlines()) == 1


def test_malformed_strategy_and_missing_data(workspace: Path, tmp_path: Path) -> None:
    (tmp_path / "bad.clj").write_text('(defsymphony "Bad" {}\n  (asset "SPY"')
    base = [
        "--data",
        str(workspace / "data"),
        "--start",
        "2024-01-02",
        "--end",
        "2024-06-28",
        "--out",
        str(tmp_path / "o"),
    ]
    result = cli("backtest", str(tmp_path / "bad.clj"), *base)
    assert result.returncode == 2 and "parse error:" in one_error_line(result) and "bad.clj:" in result.stderr
    (tmp_path / "unknown.clj").write_text('(defsymphony "U" {} (asset "ZZZZ"))')
    result = cli("backtest", str(tmp_path / "unknown.clj"), *base)
    assert result.returncode == 3 and "no market data for: ZZZZ" in one_error_line(result)


def test_a_day_that_cannot_be_evaluated_is_named(tmp_path: Path) -> None:
    index = days(80)
    spy = random_closes(80, seed=4)
    spy[50] = 0.0  # a bad bar: every 5-day return through it divides by zero
    bars = {"SPY": frame(spy, dates=index), "QQQ": frame(random_closes(80, seed=5), dates=index)}
    write_market(tmp_path / "data", bars)
    (tmp_path / "s.clj").write_text(
        '(defsymphony "Momentum" {} (if (> (cumulative-return "SPY" {:window 5}) 0) [(asset "QQQ")] [(asset "SPY")]))'
    )
    first, last = index[0].date().isoformat(), index[-1].date().isoformat()
    data = str(tmp_path / "data")
    result = cli("backtest", str(tmp_path / "s.clj"), "--data", data, "--start", first, "--end", last,
                 "--out", str(tmp_path / "o"))  # fmt: skip
    line = one_error_line(result)
    assert result.returncode == 4
    bad_day = index[55].date().isoformat()  # C(55) / C(50) - 1 with C(50) = 0
    assert line.startswith("error: cannot evaluate: s.clj: Momentum:") and f"on {bad_day}" in line, line
    assert "not a finite number" in line


def test_help_lists_the_contract() -> None:
    result = cli("backtest", "--help")
    for flag in (
        "--data",
        "--start",
        "--end",
        "--out",
        "--json",
        "--timing",
        "--cost-bps",
        "--benchmark",
        "--allocations",
        "--stage",
    ):
        assert flag in result.stdout


def test_stage_of_the_projects_own_allocations(tmp_path: Path) -> None:
    from the_alchemiser.coordinator_v2.allocations import load_allocations
    from the_alchemiser.strategy_v2.dsl import load_strategy

    files = load_allocations(REPO / "strategies", "dev")
    symbols = sorted(set().union(*(load_strategy(REPO / "strategies" / f).universe for f in files)))
    index = days(420, end=date(2024, 6, 28))
    write_market(tmp_path / "data", {s: frame(random_closes(420, seed=i), dates=index) for i, s in enumerate(symbols)})
    result = cli("backtest", "--allocations", str(REPO / "strategies/allocations.toml"), "--stage", "dev", "--data",
                 str(tmp_path / "data"), "--start", "2023-01-01", "--end", "2024-06-28", "--out", str(tmp_path / "o"),
                 "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert len(stats["strategies"]) == len(files)
    assert sum(stats["allocations"].values()) == pytest.approx(1.0)
