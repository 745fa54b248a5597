"""The backtest decides each day exactly what `signals --as-of` decides, and the merged portfolio is
exactly the live aggregator's merge (ConsolidatedPortfolio.merge) of the strategies' signals."""

from __future__ import annotations

import csv
import io
import json
from contextlib import redirect_stdout
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.strategy_v2.backtest.helpers import cli, days, random_closes, read_json, write_market
from tests.support.strategy_v2.dsl_helpers import frame
from the_alchemiser.cli import main as cli_main
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, StrategySignal
from the_alchemiser.strategy_v2.dsl import evaluate_strategy, load_strategy
from the_alchemiser.strategy_v2.worker_service import decimal_weights

COUNT = 400
LISTING = 150  # TQQQ's first bar: after the backtest's start
ROTATION = """(defsymphony "Rotation" {}
 (if (> (rsi "SPY" {:window 10}) 50)
  [(filter (cumulative-return {:window 5}) (select-top 1) [(asset "TQQQ") (asset "QQQ") (asset "BIL")])]
  [(weight-equal [(asset "BIL") (group "Bonds" [(weight-specified 0.7 (asset "TLT") 0.3 (asset "QQQ"))])])]))
"""
CORRIDOR = """(defsymphony "Corridor mix" {:rebalance-threshold 0.05}
 (weight-inverse-volatility 20 [(asset "SPY") (asset "TLT") (asset "BIL")]))
"""
MOMENTUM = """(defsymphony "Momentum" {}
 (filter (moving-average-return {:window 15}) (select-top 2) [(asset "SPY") (asset "QQQ") (asset "TLT")]))
"""


@pytest.fixture(scope="module")
def listing_market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SPY, QQQ, TLT every day; TQQQ lists after the start; BIL misses some days."""
    index = days(COUNT)
    rng = np.random.default_rng(5)
    bars = {s: frame(random_closes(COUNT, seed=i), dates=index) for i, s in enumerate(["SPY", "QQQ", "TLT"])}
    bars["TQQQ"] = frame(random_closes(COUNT - LISTING, seed=7, vol=0.05), dates=index[LISTING:])
    missing = np.sort(rng.choice(np.arange(30, COUNT - 1), size=25, replace=False))
    keep = np.setdiff1d(np.arange(COUNT), missing)
    bars["BIL"] = frame(random_closes(COUNT, seed=8, vol=0.001), dates=index).iloc[keep]
    return write_market(tmp_path_factory.mktemp("market") / "data", bars)


def _signals(strategy: Path, data: Path, day: date) -> dict[str, float]:
    """The `signals` command itself (in process: a subprocess per sampled day would be slow)."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli_main(["signals", str(strategy), "--data", str(data), "--as-of", day.isoformat(), "--json"])
    assert code == 0, out.getvalue()
    answer = json.loads(out.getvalue())
    assert answer["as_of"] == day.isoformat()
    weights: dict[str, float] = answer["weights"]
    return weights


def _weights_rows(path: Path) -> dict[str, dict[str, float]]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row.pop("date"): {s: float(w) for s, w in row.items() if w not in ("", "0", "0.0")} for row in rows}


@pytest.fixture(scope="module")
def rotation_backtest(listing_market: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("rotation")
    strategy = work / "rotation.clj"
    strategy.write_text(ROTATION)
    out = work / "out"
    start = days(COUNT)[40].date().isoformat()
    result = cli("backtest", str(strategy), "--data", str(listing_market), "--start", start, "--end", "2024-12-31",
                 "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return strategy, out


def _sampled(rows: dict[str, dict[str, float]], after: date | None = None, before: date | None = None) -> list[str]:
    chosen = [d for d in rows if (after is None or date.fromisoformat(d) >= after)]
    chosen = [d for d in chosen if before is None or date.fromisoformat(d) < before]
    picks = np.random.default_rng(3).choice(len(chosen), size=min(12, len(chosen)), replace=False)
    return sorted({chosen[i] for i in picks} | {chosen[0], chosen[-1]})


def test_weights_csv_equals_signals_after_every_listing(
    listing_market: Path, rotation_backtest: tuple[Path, Path]
) -> None:
    strategy, out = rotation_backtest
    rows = _weights_rows(out / "weights.csv")
    listed = days(COUNT)[LISTING + 10].date()
    bil_gaps = set(days(COUNT).date) - set(pd.read_csv(listing_market / "BIL.csv")["date"].map(date.fromisoformat))
    sampled = _sampled(rows, after=listed)
    sampled += [d.isoformat() for d in sorted(bil_gaps) if d >= listed][:3]  # days BIL has no bar
    for day in sampled:
        assert rows[day] == pytest.approx(_signals(strategy, listing_market, date.fromisoformat(day)), abs=1e-12), day


def test_weights_csv_equals_signals_before_a_listing(
    listing_market: Path, rotation_backtest: tuple[Path, Path]
) -> None:
    strategy, out = rotation_backtest
    rows = _weights_rows(out / "weights.csv")
    for day in _sampled(rows, before=days(COUNT)[LISTING].date()):
        assert rows[day] == pytest.approx(_signals(strategy, listing_market, date.fromisoformat(day)), abs=1e-12), day


def test_stage_portfolio_is_the_aggregators_merge_every_day(listing_market: Path, tmp_path: Path) -> None:
    strategies = tmp_path / "strategies"
    strategies.mkdir()
    (strategies / "rotation.clj").write_text(ROTATION)
    (strategies / "corridor.clj").write_text(CORRIDOR)
    (strategies / "momentum.clj").write_text(MOMENTUM)
    (strategies / "allocations.toml").write_text(
        '[dev]\n"rotation.clj" = 0.5\n"corridor.clj" = 0.3\n"momentum.clj" = 0.2\n'
    )
    out = tmp_path / "out"
    start = days(COUNT)[LISTING + 5].date().isoformat()
    allocations = str(strategies / "allocations.toml")
    data = str(listing_market)
    result = cli("backtest", "--allocations", allocations, "--stage", "dev", "--data", data, "--start", start,
                 "--end", "2024-12-31", "--out", str(out), "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert set(stats["strategies"]) == {"Rotation", "Corridor mix", "Momentum"}
    assert stats["allocations"] == {"Rotation": 0.5, "Corridor mix": 0.3, "Momentum": 0.2}
    equity = pd.read_csv(out / "equity.csv")
    assert list(equity.columns) == ["date", "portfolio", "Rotation", "Corridor mix", "Momentum"]  # each one's curve
    rows = _weights_rows(out / "weights.csv")
    port = CsvDirectoryMarketData(listing_market)
    for day in _sampled(rows):
        signals = []
        for file, allocation in (("rotation.clj", "0.5"), ("corridor.clj", "0.3"), ("momentum.clj", "0.2")):
            found = evaluate_strategy(load_strategy(strategies / file), port, date.fromisoformat(day))
            signals.append(
                StrategySignal(
                    strategy=file,
                    strategy_name=found.name,
                    allocation=Decimal(allocation),
                    weights=decimal_weights(found.weights),
                    as_of=found.as_of,
                )
            )
        merged = ConsolidatedPortfolio.merge(signals).target_weights
        assert rows[day] == pytest.approx({s: float(w) for s, w in merged.items()}, abs=1e-9), day


def test_stats_json_has_the_contract_keys(rotation_backtest: tuple[Path, Path]) -> None:
    _, out = rotation_backtest
    stats = read_json(out / "stats.json")
    assert stats["timing"] == "composer" and stats["cost_bps"] == 0.0 and stats["benchmark"] is None
    assert set(stats["portfolio"]) == {  # type: ignore[arg-type]
        "total_return", "cagr", "volatility", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate", "turnover",
        "days",
    }  # fmt: skip
    assert stats["strategies"] == {"Rotation": stats["portfolio"]}
