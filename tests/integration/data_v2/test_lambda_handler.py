"""The data-refresh Lambda on moto S3, reading bars through the real alpaca-py client from the local paper
broker: scheduled runs seed, skip and append; a symbol that cannot be refreshed fails the invocation;
manual events; and the datalake it writes is what the strategy workers' adapter reads."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from moto import mock_aws

from tests.fixtures.sim_broker import SIM_API_KEY, SIM_SECRET_KEY
from the_alchemiser.data_v2 import wiring
from the_alchemiser.data_v2.lambda_handler import lambda_handler
from the_alchemiser.data_v2.request import DataRefreshRequest
from the_alchemiser.data_v2.service import DataRefreshFailed
from the_alchemiser.data_v2.universe import strategy_universe
from the_alchemiser.local.sim_broker import SimBrokerHandle, SyntheticPriceSource
from the_alchemiser.shared.calendar import NEW_YORK, nyse_calendar
from the_alchemiser.shared.config.settings import Settings, get_settings
from the_alchemiser.shared.market_data.datalake import Datalake
from the_alchemiser.shared.market_data.s3_adapter import BarCache, S3MarketData

REPO = Path(__file__).resolve().parents[3]
DAY_1 = date(2024, 6, 10)
DAY_2 = date(2024, 6, 11)
HISTORY_DAYS = 120


def scheduled_event(day: date) -> dict[str, Any]:
    """What an EventBridge schedule delivers (the Scheduler's default input looks the same)."""
    return {
        "version": "0",
        "id": f"sched-{uuid.uuid4()}",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": f"{day.isoformat()}T22:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/alchemiser-dev-data-refresh"],
        "detail": {},
    }


def evening(day: date) -> datetime:
    return datetime.combine(day, time(18, 0), tzinfo=NEW_YORK)


class ListedMarket(SyntheticPriceSource):
    """The synthetic market, but only for listed symbols (the synthetic generator invents any ticker)."""

    def __init__(self, listed: set[str]) -> None:
        super().__init__(end=DAY_2, days=HISTORY_DAYS)
        self.listed = listed

    def _frame(self, symbol: str) -> pd.DataFrame | None:
        return super()._frame(symbol) if symbol.upper() in self.listed else None


class Stack:
    """A 'process' of the Lambda: env pointing at moto S3 and the broker; caches reset per cold start."""

    def __init__(self, s3: Any, bucket: str, broker: SimBrokerHandle, monkeypatch: pytest.MonkeyPatch) -> None:
        self.s3, self.bucket, self.broker, self.monkeypatch = s3, bucket, broker, monkeypatch

    def cold_start(self, day: date) -> None:
        self.broker.set_clock(evening(day))
        self.monkeypatch.setenv("ALCHEMISER_LOCAL_CLOCK", evening(day).isoformat())
        get_settings.cache_clear()
        wiring.get_service.cache_clear()

    @property
    def datalake(self) -> Datalake:
        return Datalake(self.s3, self.bucket)


@pytest.fixture
def strategies_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "strategies"
    folder.mkdir()
    for name in ("tecl.clj",):
        shutil.copy(REPO / "strategies" / name, folder / name)
    return folder


@pytest.fixture
def stack(
    sim_broker_factory: Callable[..., SimBrokerHandle], strategies_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    listed = set(strategy_universe(REPO / "strategies").symbols)
    broker = sim_broker_factory(price_source=ListedMarket(listed), clock_start=evening(DAY_1))
    monkeypatch.setenv("ALPACA_API_KEY", SIM_API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SIM_SECRET_KEY)
    monkeypatch.setenv("ALPACA_BASE_URL", broker.base_url)
    monkeypatch.setenv("ALPACA_DATA_URL", broker.base_url)
    monkeypatch.setenv("STRATEGIES_DIR", str(strategies_dir))
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    bucket = f"alchemiser-market-data-{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("MARKET_DATA_BUCKET", bucket)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=bucket)
        yield Stack(s3, bucket, broker, monkeypatch)
    get_settings.cache_clear()
    wiring.get_service.cache_clear()


def test_scheduled_runs_seed_then_skip_then_append_and_workers_can_read_the_result(
    stack: Stack, strategies_dir: Path
) -> None:
    universe = strategy_universe(strategies_dir).symbols
    stack.cold_start(DAY_1)
    event = scheduled_event(DAY_1)
    summary = lambda_handler(event, None)

    assert summary["ok"] is True and summary["problems"] == []
    assert summary["trigger_id"] == event["id"] and summary["target"] == DAY_1.isoformat()
    assert summary["symbols"] == len(universe) and summary["counts"] == {"seeded": len(universe)}
    assert stack.datalake.stored_symbols() == sorted(universe)
    first_day = nyse_calendar().trading_days(date(2023, 1, 1), DAY_1)[-HISTORY_DAYS + 1]
    info = stack.datalake.head("QQQ")
    assert info is not None and info.last_bar == DAY_1 and info.first_bar <= first_day

    # the scheduler's retry, or a second schedule the same evening: a HEAD per symbol and nothing else
    # (this one with the input template.yaml's EventBridge Scheduler schedule sends)
    again = lambda_handler({"trigger": "schedule", "scheduled_time": "2024-06-10T22:30:00Z"}, None)
    assert again["counts"] == {"up_to_date": len(universe)} and again["rows_added"] == 0

    stack.cold_start(DAY_2)
    appended = lambda_handler(scheduled_event(DAY_2), None)
    assert appended["ok"] and appended["counts"] == {"appended": len(universe)}
    assert appended["rows_added"] == len(universe)

    # the workers' port reads the next day's session (as_of = DAY_2) from what the refresh wrote
    bars = S3MarketData(stack.s3, stack.bucket, cache=BarCache()).daily_bars(universe, end=DAY_2)
    assert {series.last_date for series in bars.values()} == {DAY_2}


def test_a_symbol_the_source_lacks_fails_the_invocation_after_refreshing_the_rest(
    stack: Stack, strategies_dir: Path
) -> None:
    (strategies_dir / "broken.clj").write_text('(defsymphony "Broken" {} (asset "NOTATICKER" nil))')
    stack.cold_start(DAY_1)
    with pytest.raises(DataRefreshFailed) as raised:
        lambda_handler(scheduled_event(DAY_1), None)
    summary = raised.value.summary
    assert summary["ok"] is False
    assert summary["problems"] == [
        {
            "symbol": "NOTATICKER",
            "action": "no_data",
            "last_bar": None,
            "detail": "no bars from 2016-01-04 to 2024-06-10",
        }
    ]
    assert summary["strategy_files_without_tickers"] == []
    assert "NOTATICKER: no_data" in str(raised.value)
    assert "QQQ" in stack.datalake.stored_symbols()


def test_a_strategy_file_without_tickers_fails_the_run_but_not_the_others_refresh(
    stack: Stack, strategies_dir: Path
) -> None:
    (strategies_dir / "empty.clj").write_text('(defsymphony "Empty" {} (group "Nothing" []))')
    stack.cold_start(DAY_1)
    with pytest.raises(DataRefreshFailed, match=r"strategy files naming no ticker: empty\.clj") as raised:
        lambda_handler(scheduled_event(DAY_1), None)
    summary = raised.value.summary
    assert summary["problems"] == [] and summary["counts"] == {"seeded": summary["symbols"]}
    assert summary["strategy_files_without_tickers"] == ["empty.clj"]


def test_manual_events_refresh_named_symbols_up_to_an_earlier_day(stack: Stack) -> None:
    stack.cold_start(DAY_2)
    summary = lambda_handler({"symbols": ["spy", " tlt "], "target_date": "2024-06-10"}, None)
    assert summary["counts"] == {"seeded": 2} and summary["target"] == "2024-06-10"
    assert stack.datalake.stored_symbols() == ["SPY", "TLT"]
    info = stack.datalake.head("TLT")
    assert info is not None and info.last_bar == DAY_1

    # also inside an EventBridge envelope's detail
    summary = lambda_handler({"id": "manual-1", "detail": {"symbols": ["TLT"]}}, None)
    assert summary["trigger_id"] == "manual-1" and summary["counts"] == {"appended": 1}

    with pytest.raises(ValueError, match="after the last complete trading day 2024-06-11"):
        lambda_handler({"target_date": "2024-06-12"}, None)


def test_the_request_model() -> None:
    assert DataRefreshRequest.from_event({"trigger": "schedule", "execution_id": "exec-1"}).trigger_id == "exec-1"
    assert DataRefreshRequest.from_event({"trigger_id": "data-refresh-2024-06-10"}).trigger_id.endswith("06-10")
    assert DataRefreshRequest.from_event(None).symbols is None
    assert DataRefreshRequest.from_event({"detail": {}}).target_date is None
    with pytest.raises(ValueError, match="at least one symbol"):
        DataRefreshRequest.from_event({"symbols": [" "]})


def test_the_wiring_needs_the_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MARKET_DATA_BUCKET", raising=False)
    with pytest.raises(wiring.MissingConfiguration, match="MARKET_DATA_BUCKET"):
        wiring.build_service(Settings())
