"""The worker's live-bar setting (STRATEGY_LIVE_BAR, off by default): completed bars through the session's
as_of plus the trading day's bar from the latest quotes, through the real alpaca-py client over HTTP
against the local broker; stale completed bars still fail."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.fixtures.aws import REGION
from the_alchemiser.local.sim_broker import DictPriceSource, SimBrokerHandle
from the_alchemiser.local.synthetic_market import generate_market
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.config.settings import Settings
from the_alchemiser.shared.events import InMemoryPublisher, S3PayloadStore
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.shared.market_data.live import QuoteSource
from the_alchemiser.shared.schemas import StrategyWorkerRequest
from the_alchemiser.strategy_v2.wiring import live_quote_source
from the_alchemiser.strategy_v2.worker_service import StrategyWorker

AS_OF = date(2026, 11, 19)
TRADING_DATE = date(2026, 11, 20)
SYMBOLS = ["SPY", "QQQ", "TLT"]


@pytest.fixture(scope="module")
def market() -> dict[str, Any]:
    return generate_market(SYMBOLS, end=AS_OF, days=60, seed=7)


@pytest.fixture
def market_dir(tmp_path: Path, market: dict[str, Any]) -> Path:
    data = CsvDirectoryMarketData(tmp_path / "bars")
    for symbol, frame in market.items():
        data.write(symbol, frame)
    return data.directory


@pytest.fixture
def strategies_dir(tmp_path: Path, market: dict[str, Any]) -> Path:
    threshold = float(market["SPY"]["close"].iloc[-1]) * 1.05  # above the last close, below the live quote
    folder = tmp_path / "strategies"
    folder.mkdir()
    (folder / "jump.clj").write_text(
        f'(defsymphony "Jump" {{}}\n  (if (> (current-price "SPY") {threshold:.4f})\n'
        '    [(asset "QQQ" nil)] [(asset "TLT" nil)]))'
    )
    return folder


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="payloads")
        yield client


def request() -> StrategyWorkerRequest:
    return StrategyWorkerRequest(
        session_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()),
        dsl_file="jump.clj",
        strategy_number=1,
        total_strategies=1,
        allocation=Decimal("1"),
        as_of=AS_OF,
        trading_date=TRADING_DATE,
        stage="test",
    )


def worker(
    strategies_dir: Path, market_dir: Path, s3: Any, quotes: QuoteSource | None
) -> tuple[StrategyWorker, InMemoryPublisher]:
    publisher = InMemoryPublisher()
    built = StrategyWorker(
        strategies_dir=strategies_dir,
        market_data=lambda: CsvDirectoryMarketData(market_dir),
        publisher=publisher,
        trace_store=S3PayloadStore(s3, "payloads"),
        live_quotes=quotes,
    )
    return built, publisher


@pytest.fixture
def quotes(
    sim_broker_factory: Callable[..., SimBrokerHandle],
    alpaca_broker_factory: Callable[..., AlpacaBroker],
    market: dict[str, Any],
) -> QuoteSource:
    last = {s: float(f["close"].iloc[-1]) for s, f in market.items()}
    handle = sim_broker_factory(
        price_source=DictPriceSource(
            {"SPY": f"{last['SPY'] * 1.10:.2f}", "QQQ": f"{last['QQQ']:.2f}", "TLT": f"{last['TLT']:.2f}"}
        ),
        clock_start=datetime(2026, 11, 20, 15, 30, tzinfo=NEW_YORK),
    )
    return alpaca_broker_factory(handle).get_latest_quotes


def test_the_setting_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRATEGY_LIVE_BAR", raising=False)
    assert Settings().strategy_live_bar is False and live_quote_source(Settings()) is None
    monkeypatch.setenv("STRATEGY_LIVE_BAR", "true")
    assert Settings().strategy_live_bar is True


def test_completed_bars_hold_tlt_and_the_live_bar_flips_to_qqq(
    strategies_dir: Path, market_dir: Path, s3: Any, quotes: QuoteSource
) -> None:
    completed, _ = worker(strategies_dir, market_dir, s3, None)
    signal = completed.run(request()).event.signals_data
    assert signal is not None and signal.weights == {"TLT": Decimal(1)}

    live, _ = worker(strategies_dir, market_dir, s3, quotes)
    outcome = live.run(request()).event
    assert outcome.success, outcome.error_message
    signal = outcome.signals_data
    assert signal is not None and signal.weights == {"QQQ": Decimal(1)}
    assert signal.as_of == AS_OF  # the session's day: the last completed bar
    assert signal.trace_summary[0] == "live bar: 2026-11-20 from the latest quotes"


def test_stale_completed_bars_still_fail_in_live_mode(
    strategies_dir: Path,
    tmp_path: Path,
    s3: Any,
    quotes: QuoteSource,
    market: dict[str, Any],
) -> None:
    behind = CsvDirectoryMarketData(tmp_path / "behind")
    for symbol, frame in market.items():
        behind.write(symbol, frame.iloc[:-1])  # through the 18th only
    live, _ = worker(strategies_dir, behind.directory, s3, quotes)
    event = live.run(request()).event
    assert not event.success and "StaleMarketDataError" in (event.error_message or "")
    assert "needs them through 2026-11-19" in (event.error_message or "")
