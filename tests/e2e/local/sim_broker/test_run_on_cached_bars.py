"""`run --data DIR`: a whole local trading day on cached real bars (the local broker quotes around the
cache's closes, the evening refresh and the workers read them), not on the synthetic market."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from the_alchemiser.cli import main
from the_alchemiser.data_v2.universe import strategy_universe
from the_alchemiser.local.stack.day import PROJECT_ROOT, DayOptions, run_trading_day
from the_alchemiser.local.synthetic_market import generate_market
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData

DAY = date(2026, 11, 20)
SCALE = 3.7  # the cache's prices are nothing like the synthetic market's

pytestmark = pytest.mark.timeout(600)


def test_a_day_on_cached_bars_trades_at_the_caches_prices(tmp_path: Path) -> None:
    symbols = strategy_universe(PROJECT_ROOT / "strategies").symbols
    cache = CsvDirectoryMarketData(tmp_path / "bars")
    closes: dict[str, float] = {}
    for symbol, frame in generate_market(symbols, end=date(2026, 11, 19), days=400, seed=11).items():
        scaled = frame.assign(**{c: frame[c] * SCALE for c in ("open", "high", "low", "close")})
        cache.write(symbol, scaled)
        closes[symbol] = float(scaled["close"].iloc[-1])

    result = run_trading_day(
        DayOptions(
            day=DAY, output_dir=tmp_path / "out", quiet=True, use_dynamodb_local=False, market_data=str(cache.directory)
        )
    )
    assert result.outcome == "completed", result.summary
    fills = [o for o in result.orders if Decimal(o["filled_qty"]) > 0]
    assert fills
    for order in fills:
        reference = closes[order["symbol"]]  # no bar on the 20th: the broker quotes around the 19th's close
        assert abs(float(order["filled_avg_price"]) / reference - 1) < 0.01, order["symbol"]
        assert f"{float(order['filled_avg_price']):.2f}" in result.summary  # the summary shows the real prices


def test_a_bad_cache_is_one_line_and_nothing_trades(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "run",
            "--date",
            str(DAY),
            "--output",
            str(tmp_path / "out"),
            "--no-dynamodb-local",
            "--data",
            str(tmp_path / "none"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "market data directory not found" in err and "Traceback" not in err
    code = main(["run", "--paper", "--data", str(tmp_path)])
    assert code == 2 and "give one" in capsys.readouterr().err
