"""`signals` on cached bars: an --as-of after the last bar says so, and `--live` appends today's bar built
from the local broker's quotes (the real alpaca-py client over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fixtures.sim_broker import SIM_API_KEY, SIM_SECRET_KEY
from tests.support.shared.market_data.bars import raw_bars, trading_days
from the_alchemiser.cli import main
from the_alchemiser.local.sim_broker import DictPriceSource, SimBrokerHandle
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData

LAST = date(2024, 6, 7)  # a Friday
STRATEGY = """
(defsymphony "Live or not" {:asset-class "EQUITIES" :rebalance-frequency :daily}
  (if (> (current-price "SPY") 150)
    [(asset "QQQ" nil)]
    [(asset "TLT" nil)]))
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    market = CsvDirectoryMarketData(tmp_path / "bars")
    days = trading_days(date(2024, 1, 2), LAST)
    for i, symbol in enumerate(("SPY", "QQQ", "TLT")):
        market.write(symbol, raw_bars(days, start_price=100.0, seed=i))
    return market.directory


@pytest.fixture
def strategy(tmp_path: Path) -> Path:
    path = tmp_path / "live.clj"
    path.write_text(STRATEGY)
    return path


def signals(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object] | None, str]:
    code = main(["signals", *args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else None, captured.err


def test_an_as_of_after_the_last_bar_evaluates_the_last_bar_and_says_so(
    data: Path, strategy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, payload, stderr = signals(capsys, str(strategy), "--data", str(data), "--as-of", "2024-06-12")
    assert code == 0 and payload is not None
    assert payload["as_of"] == "2024-06-07" and payload["requested_as_of"] == "2024-06-12"
    assert "the data ends on 2024-06-07, 3 trading days before the requested as-of 2024-06-12" in stderr

    # a weekend after Friday's bar is no gap: nothing to say
    code, payload, stderr = signals(capsys, str(strategy), "--data", str(data), "--as-of", "2024-06-09")
    assert code == 0 and payload is not None and payload["as_of"] == "2024-06-07" and "note" not in stderr


def test_live_appends_todays_bar_from_the_brokers_quotes(
    data: Path,
    strategy: Path,
    sim_broker_factory: Callable[..., SimBrokerHandle],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    completed = CsvDirectoryMarketData(data).daily_bars(["SPY"])["SPY"].close[-1]
    assert completed < 150  # on completed bars the strategy holds TLT
    code, payload, _ = signals(capsys, str(strategy), "--data", str(data))
    assert code == 0 and payload is not None and payload["weights"] == {"TLT": 1.0}
    assert payload["mode"] == "completed-bars"

    # Monday 15:30: SPY's quote has jumped above 150; the live bar flips the branch
    broker = sim_broker_factory(
        price_source=DictPriceSource({"SPY": "160.00", "QQQ": "101.00", "TLT": "99.00"}),
        clock_start=datetime(2024, 6, 10, 15, 30, tzinfo=NEW_YORK),
    )
    monkeypatch.setenv("ALPACA_API_KEY", SIM_API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SIM_SECRET_KEY)
    monkeypatch.setenv("ALPACA_DATA_URL", broker.base_url)
    code, payload, stderr = signals(capsys, str(strategy), "--data", str(data), "--live")
    assert code == 0, stderr
    assert payload is not None and payload["mode"] == "live-bar"
    assert payload["as_of"] == "2024-06-10" and payload["weights"] == {"QQQ": 1.0}
    assert any(r.path == "/v2/stocks/quotes/latest" for r in broker.requests())

    # a symbol without a quote fails by name; --live with --as-of is refused
    broker.set_prices({"TLT": Decimal(0)})
    code, _, stderr = signals(capsys, str(strategy), "--data", str(data), "--live")
    assert code == 3 and "no two-sided live quote for: TLT" in stderr
    code, _, stderr = signals(capsys, str(strategy), "--data", str(data), "--live", "--as-of", "2024-06-07")
    assert code == 2 and "not both" in stderr


def test_live_without_keys_is_one_clear_line(
    data: Path, strategy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "ALPACA_CREDENTIALS_SECRET"):
        monkeypatch.delenv(name, raising=False)
    code, _, stderr = signals(capsys, str(strategy), "--data", str(data), "--live")
    assert code == 3 and "ALPACA_API_KEY" in stderr and len(stderr.strip().splitlines()) == 1
