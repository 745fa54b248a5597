"""`python -m the_alchemiser data synth` end to end: files the `signals` command can read."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from the_alchemiser.cli import main
from the_alchemiser.cli.commands.data import csv_file_name
from the_alchemiser.local.synthetic_market import generate_market

STRATEGY = """
(defsymphony "Synth CLI test" {:asset-class "EQUITIES" :rebalance-frequency :daily}
  (if (> (rsi "SPY" {:window 10}) 70)
    [(asset "BRK/B" "Berkshire")]
    [(weight-equal [(asset "TQQQ" nil) (asset "BIL" nil)])]))
"""

OTHER = """
(defsymphony "Other" {:asset-class "EQUITIES" :rebalance-frequency :daily}
  (filter (cumulative-return {:window 5}) (select-top 1) [(asset "GLD" nil) (asset "TLT" nil)]))
"""


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """The CLI in-process (the same argparse front end `python -m the_alchemiser` runs)."""

    def run(*args: str) -> CliResult:
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def test_synth_from_strategy_directory_writes_readable_csvs(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    strategies = tmp_path / "strategies"
    (strategies / "nested").mkdir(parents=True)
    (strategies / "main.clj").write_text(STRATEGY)
    (strategies / "nested" / "other.clj").write_text(OTHER)
    out = tmp_path / "data"

    result = cli("data", "synth", "--symbols-from", str(strategies), "--days", "80", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "6 symbols x 80 days" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["BIL.csv", "BRK.B.csv", "GLD.csv", "SPY.csv", "TLT.csv", "TQQQ.csv"]
    )
    with (out / "BRK.B.csv").open() as handle:
        assert handle.readline() == "date,open,high,low,close,volume\n"
        assert len(handle.readline().split(",")[0]) == len("YYYY-MM-DD")

    # the `signals` command reads the directory
    signals = cli("signals", str(strategies / "main.clj"), "--data", str(out), "--as-of", str(date.today()), "--json")
    assert signals.returncode == 0, signals.stderr
    payload = json.loads(signals.stdout.strip().splitlines()[-1])
    assert abs(sum(payload["weights"].values()) - 1) < 1e-9


def test_csv_round_trips_the_generated_market_exactly(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    out = tmp_path / "data"
    result = cli("data", "synth", "--symbols", "SPY,SQQQ", "--symbols", "BRK/B", "--days", "30", "--out", str(out))
    assert result.returncode == 0, result.stderr
    result = cli(
        "data",
        "synth",
        "--symbols",
        "SPY,SQQQ,BRK/B",
        "--days",
        "30",
        "--end",
        "2025-07-06",
        "--seed",
        "3",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    expected = generate_market(["SPY", "SQQQ", "BRK/B"], end=date(2025, 7, 6), days=30, seed=3)
    for symbol, frame in expected.items():
        read = pd.read_csv(out / csv_file_name(symbol), index_col="date", parse_dates=["date"])
        assert read.index[-1] == pd.Timestamp("2025-07-03")  # the last trading day on or before the 6th
        assert read.index.is_monotonic_increasing
        np.testing.assert_array_equal(read.to_numpy(dtype=float), frame.to_numpy())
    assert not list(out.glob("*.partial"))


def test_errors_are_one_line_and_nonzero(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    missing = cli("data", "synth", "--symbols-from", str(tmp_path / "nope"), "--out", str(tmp_path / "o"))
    assert missing.returncode == 2 and "no such strategy file" in missing.stderr
    empty = cli("data", "synth", "--out", str(tmp_path / "o"))
    assert empty.returncode == 2 and "no symbols" in empty.stderr
    bad = tmp_path / "bad.clj"
    bad.write_text('(defsymphony "x" {} (frobnicate "SPY"))')
    invalid = cli("data", "synth", "--symbols-from", str(bad), "--out", str(tmp_path / "o"))
    assert invalid.returncode == 2 and invalid.stderr.startswith("error:")
    too_long = cli("data", "synth", "--symbols", "SPY", "--days", "100000", "--out", str(tmp_path / "o"))
    assert too_long.returncode == 2 and "trading days" in too_long.stderr
