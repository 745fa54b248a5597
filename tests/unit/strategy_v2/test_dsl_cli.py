"""The command-line contract of dsl.md, through real subprocesses of `python -m the_alchemiser`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from tests.support.strategy_v2.dsl_helpers import frame, random_walk_market
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData

REPO = Path(__file__).resolve().parents[3]
END = date(2024, 6, 28)
STRATEGY = """(defsymphony "CLI test" {:rebalance-threshold 0.05}
 (if (> (rsi "SPY" {:window 10}) 50)
  [(weight-equal [(asset "TQQQ") (asset "BRK/B")])]
  [(asset "BIL")]))
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "the_alchemiser", *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "s.clj").write_text(STRATEGY)
    data = CsvDirectoryMarketData(tmp_path / "data")
    for symbol, bars in random_walk_market(["SPY", "TQQQ", "BRK/B", "BIL"], END, 60).items():
        data.write(symbol, bars)
    return tmp_path


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_signals_json(workspace: Path) -> None:
    assert (workspace / "data" / "BRK.B.csv").is_file()
    result = cli(
        "signals", str(workspace / "s.clj"), "--data", str(workspace / "data"), "--as-of", "2024-06-30", "--json"
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["strategy"] == "CLI test"
    assert out["as_of"] == "2024-06-28"  # last bar on or before the Sunday asked for
    assert abs(sum(out["weights"].values()) - 1) < 1e-9
    assert set(out["weights"]) in ({"TQQQ", "BRK/B"}, {"BIL"})
    assert all(w > 0 for w in out["weights"].values())
    assert out["trace"][0]["type"] == "if"
    assert out["rebalance_threshold"] == 0.05


def test_signals_text_output_without_json(workspace: Path) -> None:
    result = cli("signals", str(workspace / "s.clj"), "--data", str(workspace / "data"), "--as-of", "2024-06-28")
    assert result.returncode == 0, result.stderr
    assert "CLI test" in result.stdout and "weights:" in result.stdout


def test_signals_parse_error_has_line_and_column(workspace: Path) -> None:
    (workspace / "bad.clj").write_text('(defsymphony "x" {}\n  (weight-equal [(asset "A")))\n')
    line = one_error_line(cli("signals", str(workspace / "bad.clj"), "--data", str(workspace / "data"), "--json"))
    assert "bad.clj:2:29:" in line and "expected ']'" in line


def test_signals_unknown_operator(workspace: Path) -> None:
    (workspace / "bad.clj").write_text('(defsymphony "x" {}\n  (weight-equl [(asset "A")]))\n')
    line = one_error_line(cli("signals", str(workspace / "bad.clj"), "--data", str(workspace / "data"), "--json"))
    assert "unknown operator 'weight-equl'" in line and "bad.clj:2:3:" in line


def test_signals_missing_data_file(workspace: Path) -> None:
    (workspace / "data" / "BRK.B.csv").unlink()
    line = one_error_line(cli("signals", str(workspace / "s.clj"), "--data", str(workspace / "data"), "--json"))
    assert "BRK/B" in line and "BRK.B.csv" in line


def test_signals_too_short_history(workspace: Path) -> None:
    data = CsvDirectoryMarketData(workspace / "data")
    data.write("SPY", frame(np.linspace(100, 105, 6), end=END))
    line = one_error_line(
        cli("signals", str(workspace / "s.clj"), "--data", str(workspace / "data"), "--as-of", "2024-06-28", "--json")
    )
    assert "rsi(10) of SPY needs 11 closes" in line


def test_validate_lists_universe_and_lookback(workspace: Path) -> None:
    result = cli("validate", str(workspace / "s.clj"), str(REPO / "strategies"))
    assert result.returncode == 0, result.stderr
    assert "universe (4): BIL BRK/B SPY TQQQ" in result.stdout
    assert "indicator-only (1): SPY" in result.stdout
    assert "longest lookback: 11 daily closes" in result.stdout
    for name in ("nuclear.clj", "tecl.clj", "klm.clj"):
        assert name in result.stdout
    as_json = cli("validate", "--json", str(workspace / "s.clj"))
    report = json.loads(as_json.stdout)
    assert report["max_lookback"] == 11 and report["universe"] == ["BIL", "BRK/B", "SPY", "TQQQ"]


def test_validate_reports_each_bad_file(workspace: Path) -> None:
    (workspace / "bad.clj").write_text('(defsymphony "x" {} (asset "A")')
    (workspace / "worse.clj").write_text('(defsymphony "x" {} (frobnicate "A"))')
    result = cli("validate", str(workspace / "s.clj"), str(workspace / "bad.clj"), str(workspace / "worse.clj"))
    assert result.returncode != 0
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 2
    assert "bad.clj:1:1:" in errors[0] and "worse.clj:1:21: unknown operator 'frobnicate'" in errors[1]
    assert "s.clj: OK" in result.stdout


def test_csv_directory_adapter(tmp_path: Path) -> None:
    data = CsvDirectoryMarketData(tmp_path)
    bars = frame([1.0, 2.0, 3.0], end=END)
    data.write("BRK/B", bars)
    text = (tmp_path / "BRK.B.csv").read_text().splitlines()
    assert text[0] == "date,open,high,low,close,volume"
    assert text[1].startswith("2024-06-26,")
    read = CsvDirectoryMarketData(tmp_path).daily_bars(["BRK/B"], end=date(2024, 6, 27))["BRK/B"]
    assert read.close.tolist() == [1.0, 2.0]
    assert read.last_date == date(2024, 6, 27)
    from the_alchemiser.shared.market_data import MarketDataError, MissingMarketDataError

    with pytest.raises(MissingMarketDataError) as caught:
        data.daily_bars(["BRK/B", "ZZZ", "AAA"])
    assert caught.value.symbols == ["AAA", "ZZZ"]
    (tmp_path / "BAD.csv").write_text("date,close\n2024-01-02,1\n")
    with pytest.raises(MarketDataError, match="header"):
        data.daily_bars(["BAD"])
    (tmp_path / "DESC.csv").write_text("date,open,high,low,close,volume\n2024-01-03,1,1,1,1,1\n2024-01-02,1,1,1,1,1\n")
    with pytest.raises(MarketDataError, match="ascending"):
        data.daily_bars(["DESC"])
