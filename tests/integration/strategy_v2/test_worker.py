"""Strategy Worker: the real DSL engine on the project's strategies over a CSV directory of synthetic bars."""

from __future__ import annotations

import json
import math
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.fixtures.aws import REGION
from the_alchemiser.local.synthetic_market import generate_market
from the_alchemiser.shared.config.settings import Settings
from the_alchemiser.shared.events import InMemoryPublisher, PartialSignalGenerated, S3PayloadStore
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.shared.schemas import StrategyWorkerRequest
from the_alchemiser.strategy_v2.dsl import load_strategy
from the_alchemiser.strategy_v2.lambda_handler import handle
from the_alchemiser.strategy_v2.worker_service import (
    SUMMARY_MAX_CHARS,
    StrategyWorker,
    WorkerError,
    bounded_summary,
    decimal_weights,
    trace_key,
)

AS_OF = date(2026, 11, 19)
PROJECT_STRATEGIES = Settings().strategies_path
PROJECT_FILES = sorted(p.name for p in PROJECT_STRATEGIES.glob("*.clj"))
MALFORMED = '(defsymphony "Broken" {}\n  (weight-equal [(asset "SPY" nil)\n'
UNKNOWN_SYMBOL = '(defsymphony "Needs ZZZZ" {} (weight-equal [(asset "SPY" nil) (asset "ZZZZ" nil)]))\n'
UNKNOWN_OPERATOR = '(defsymphony "Typo" {}\n  (weight-equal [(asset "SPY" nil) (wieght-equal [])]))\n'
# the 200-day average is read on every path, so a short history cannot hide in an untaken branch
NEEDS_200_DAYS = (
    '(defsymphony "Trend" {}\n'
    '  (if (> (current-price "SPY") (moving-average-price "SPY" {:window 200}))\n'
    '      [(asset "SPY" nil)] [(asset "BIL" nil)]))\n'
)


def project_universe() -> list[str]:
    return sorted(set().union(*(load_strategy(PROJECT_STRATEGIES / f).universe for f in PROJECT_FILES)))


def write_market(folder: Path, *, end: date, days: int) -> Path:
    market = CsvDirectoryMarketData(folder)
    for symbol, frame in generate_market(project_universe(), end=end, days=days, seed=7).items():
        market.write(symbol, frame)
    return folder


@pytest.fixture(scope="module")
def market_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_market(tmp_path_factory.mktemp("bars"), end=AS_OF, days=320)


@pytest.fixture
def strategies_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "strategies"
    shutil.copytree(PROJECT_STRATEGIES, folder)
    (folder / "broken.clj").write_text(MALFORMED)
    (folder / "needs_zzzz.clj").write_text(UNKNOWN_SYMBOL)
    (folder / "typo.clj").write_text(UNKNOWN_OPERATOR)
    (folder / "trend.clj").write_text(NEEDS_200_DAYS)
    return folder


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket="payloads")
        yield client


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


def make_worker(
    strategies_dir: Path,
    market_dir: Path,
    publisher: InMemoryPublisher,
    s3: Any,
) -> StrategyWorker:
    return StrategyWorker(
        strategies_dir=strategies_dir,
        market_data=lambda: CsvDirectoryMarketData(market_dir),
        publisher=publisher,
        trace_store=S3PayloadStore(s3, "payloads"),
    )


@pytest.fixture
def worker(
    strategies_dir: Path,
    market_dir: Path,
    publisher: InMemoryPublisher,
    s3: Any,
) -> StrategyWorker:
    return make_worker(strategies_dir, market_dir, publisher, s3)


def request_for(dsl_file: str, allocation: str = "0.25", as_of: date = AS_OF) -> StrategyWorkerRequest:
    return StrategyWorkerRequest(
        session_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()),
        dsl_file=dsl_file,
        strategy_number=1,
        total_strategies=3,
        allocation=Decimal(allocation),
        as_of=as_of,
        trading_date=date(2026, 11, 20),
        stage="test",
    )


def test_the_project_has_strategies_to_run() -> None:
    assert {"nuclear.clj", "tecl.clj", "klm.clj"} <= set(PROJECT_FILES)


@pytest.mark.parametrize("dsl_file", PROJECT_FILES)
def test_each_project_strategy_becomes_a_signal_with_exact_weights_and_its_trace_in_s3(
    worker: StrategyWorker, publisher: InMemoryPublisher, market_dir: Path, s3: Any, dsl_file: str
) -> None:
    from the_alchemiser.strategy_v2.dsl import evaluate_strategy

    request = request_for(dsl_file)
    outcome = worker.run(request)

    [event] = publisher.events
    assert isinstance(event, PartialSignalGenerated) and event is outcome.event
    assert event.success and event.error_message is None
    assert (event.session_id, event.correlation_id, event.causation_id) == (
        request.session_id,
        request.correlation_id,
        request.causation_id,
    )
    signal = event.signals_data
    assert signal is not None
    assert signal.strategy == dsl_file and signal.allocation == Decimal("0.25") and signal.as_of == AS_OF
    assert sum(signal.weights.values()) == 1  # exactly, as Decimals
    # scaled by the file's allocation: its contribution to the portfolio is a quarter of its weights
    assert signal.scaled_weights() == {s: w * Decimal("0.25") for s, w in signal.weights.items()}
    assert sum(signal.scaled_weights().values()) == Decimal("0.25")
    # the same answer as the engine gives directly
    direct = evaluate_strategy(load_strategy(PROJECT_STRATEGIES / dsl_file), CsvDirectoryMarketData(market_dir), AS_OF)
    assert set(signal.weights) == set(direct.weights)
    for symbol, weight in direct.weights.items():
        assert abs(float(signal.weights[symbol]) - weight) < 1e-11
    assert signal.strategy_name == direct.name
    assert signal.trace_summary == direct.trace_summary and signal.trace_summary
    assert signal.rebalance_threshold == (
        None if direct.rebalance_threshold is None else Decimal(str(direct.rebalance_threshold))
    )
    # the full trace is in S3 under the agreed key; the event carries only the key and the summary
    assert (
        signal.trace_s3_key
        == trace_key(request.correlation_id, dsl_file)
        == f"traces/{request.correlation_id}/{dsl_file}.json"
    )
    body = json.loads(s3.get_object(Bucket="payloads", Key=signal.trace_s3_key)["Body"].read())
    assert body["trace"] == json.loads(json.dumps(direct.trace, default=str))
    assert body["dsl_file"] == dsl_file and body["session_id"] == request.session_id
    # round trip through the wire
    assert PartialSignalGenerated.model_validate_json(event.model_dump_json()) == event


def expect_failure(
    worker: StrategyWorker,
    publisher: InMemoryPublisher,
    request: StrategyWorkerRequest,
) -> str:
    outcome = worker.run(request)
    [event] = publisher.events
    assert isinstance(event, PartialSignalGenerated) and event is outcome.event
    assert event.success is False and event.signals_data is None
    assert event.error_message  # the event alone reports it: the worker writes no session (decisions.md)
    return event.error_message


def test_a_malformed_strategy_file_reports_failure_at_once(
    worker: StrategyWorker, publisher: InMemoryPublisher
) -> None:
    message = expect_failure(worker, publisher, request_for("broken.clj"))
    assert message.startswith("DslParseError")
    # names the file, the line and the column of the problem (the unclosed '[' on line 2)
    assert re.search(r"broken\.clj:2:17: expected '\]'", message), message


def test_an_invalid_strategy_file_reports_the_line_and_column(
    worker: StrategyWorker, publisher: InMemoryPublisher
) -> None:
    message = expect_failure(worker, publisher, request_for("typo.clj"))
    assert message.startswith("DslValidationError")
    assert re.search(r"typo\.clj:2:36: unknown operator 'wieght-equal'", message), message


def test_missing_market_data_reports_failure(worker: StrategyWorker, publisher: InMemoryPublisher) -> None:
    message = expect_failure(worker, publisher, request_for("needs_zzzz.clj"))
    assert "MissingMarketDataError" in message and "ZZZZ" in message


def test_too_short_history_reports_failure(
    strategies_dir: Path,
    tmp_path: Path,
    publisher: InMemoryPublisher,
    s3: Any,
) -> None:
    short = write_market(tmp_path / "short", end=AS_OF, days=60)
    worker = make_worker(strategies_dir, short, publisher, s3)
    message = expect_failure(worker, publisher, request_for("trend.clj"))
    assert message.startswith("DslEvaluationError"), message
    assert "history" in message.lower() or "200" in message, message


def test_bars_that_stop_before_the_session_day_are_stale_not_silently_used(
    worker: StrategyWorker, publisher: InMemoryPublisher
) -> None:
    # Monday's session needs Friday's close; the bars stop on Thursday
    request = request_for("klm.clj", as_of=date(2026, 11, 20)).model_copy(update={"trading_date": date(2026, 11, 23)})
    message = expect_failure(worker, publisher, request)
    assert "StaleMarketDataError" in message and "2026-11-19" in message and "2026-11-20" in message


def test_todays_forming_bar_is_never_used_the_worker_evaluates_as_of_the_previous_close(
    strategies_dir: Path,
    market_dir: Path,
    tmp_path: Path,
    publisher: InMemoryPublisher,
    s3: Any,
) -> None:
    """Intraday the data source may already hold a partial bar for the trading day: it must be ignored."""
    with_today = tmp_path / "with_today"
    shutil.copytree(market_dir, with_today)
    market = CsvDirectoryMarketData(with_today)
    trading_day = pd.Timestamp(2026, 11, 20)
    symbols = project_universe()
    for symbol, bars in CsvDirectoryMarketData(market_dir).daily_bars(symbols).items():
        # a violent intraday move that would flip any momentum/RSI branch if it were read
        frame = bars.to_frame()
        last = frame.iloc[-1]
        today = pd.DataFrame([last * [0.3, 0.3, 0.3, 0.3, 1.0]], index=pd.DatetimeIndex([trading_day], name="date"))
        market.write(symbol, pd.concat([frame, today]))
    assert all(bars.last_date == trading_day.date() for bars in market.daily_bars(symbols).values())

    for dsl_file in PROJECT_FILES:
        baseline = make_worker(strategies_dir, market_dir, InMemoryPublisher(), s3).run(request_for(dsl_file))
        intraday = make_worker(strategies_dir, with_today, publisher, s3).run(request_for(dsl_file))
        assert baseline.event.signals_data is not None and intraday.event.signals_data is not None
        assert intraday.event.signals_data.as_of == AS_OF
        assert intraday.event.signals_data.weights == baseline.event.signals_data.weights
        assert intraday.event.signals_data.trace_summary == baseline.event.signals_data.trace_summary


def test_a_request_to_evaluate_on_the_trading_day_itself_is_refused(
    worker: StrategyWorker, publisher: InMemoryPublisher
) -> None:
    request = request_for("klm.clj").model_copy(update={"as_of": date(2026, 11, 20)})
    message = expect_failure(worker, publisher, request)
    assert "not a completed day before the trading date 2026-11-20" in message


def test_a_strategy_file_outside_the_folder_is_refused(worker: StrategyWorker, publisher: InMemoryPublisher) -> None:
    assert "bare file name" in expect_failure(worker, publisher, request_for("../strategies/klm.clj"))


def test_a_missing_strategy_file_reports_failure(worker: StrategyWorker, publisher: InMemoryPublisher) -> None:
    assert "cannot read strategy file" in expect_failure(worker, publisher, request_for("gone.clj"))


def test_the_lambda_handler_parses_the_orchestrators_payload(
    worker: StrategyWorker, publisher: InMemoryPublisher
) -> None:
    request = request_for("nuclear.clj", allocation="0.5")
    result = handle(json.loads(request.model_dump_json()), worker)
    assert result["success"] is True and result["dsl_file"] == "nuclear.clj"
    assert len(publisher.events) == 1


def test_a_trace_store_outage_loses_the_trace_not_the_signal(
    strategies_dir: Path, market_dir: Path, publisher: InMemoryPublisher
) -> None:
    with mock_aws():
        no_bucket = S3PayloadStore(boto3.client("s3", region_name=REGION), "no-such-bucket")
        worker = StrategyWorker(
            strategies_dir=strategies_dir,
            market_data=lambda: CsvDirectoryMarketData(market_dir),
            publisher=publisher,
            trace_store=no_bucket,
        )
        outcome = worker.run(request_for("tecl.clj"))
    assert outcome.event.success and outcome.event.signals_data is not None
    assert outcome.event.signals_data.trace_s3_key is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=1e-6, max_value=1.0), min_size=1, max_size=30))
def test_decimal_weights_sum_to_exactly_one_and_stay_close(raw: list[float]) -> None:
    total = math.fsum(raw)
    floats = {f"S{i}": w / total for i, w in enumerate(raw)}
    weights = decimal_weights(floats)
    assert sum(weights.values()) == 1
    assert all(w > 0 for w in weights.values())
    for symbol, weight in weights.items():
        assert abs(float(weight) - floats[symbol]) < 1e-9


def test_decimal_weights_refuse_nonsense() -> None:
    with pytest.raises(WorkerError, match="no symbol"):
        decimal_weights({})
    with pytest.raises(WorkerError, match="not 1"):
        decimal_weights({"SPY": 0.5})
    with pytest.raises(WorkerError, match="invalid weight"):
        decimal_weights({"SPY": float("nan")})
    assert decimal_weights({"A": 1 / 3, "B": 1 / 3, "C": 1 / 3}) == {
        "A": Decimal("0.333333333334"),
        "B": Decimal("0.333333333333"),
        "C": Decimal("0.333333333333"),
    }


def test_the_summary_in_the_event_is_bounded_and_says_what_was_cut() -> None:
    short = ["weights: SPY 100.0%", "if rsi(SPY,10)=55 > 79 (margin -24) -> else"]
    assert bounded_summary(short) == short
    long = [f"decision {i}: " + "x" * 150 for i in range(200)] + ["y" * 5000]
    bounded = bounded_summary(long)
    assert sum(len(line) for line in bounded[:-1]) <= SUMMARY_MAX_CHARS
    assert bounded[:3] == long[:3] and bounded[-1].startswith("... ") and "more lines in the full trace" in bounded[-1]
    assert len(bounded_summary(["z" * 5000])[0]) == 400
