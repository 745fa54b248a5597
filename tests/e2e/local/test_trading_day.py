"""End to end through the local stack: template.yaml's resources and routes, every handler, the local
paper broker over HTTP through alpaca-py, DynamoDB Local when installed. Each test runs whole days."""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from the_alchemiser.local.stack.day import PROJECT_ROOT, DayOptions, DayResult, run_trading_day
from the_alchemiser.local.stack.router import SimulatedCrash
from the_alchemiser.local.template import load_template
from the_alchemiser.shared.calendar import NEW_YORK, nyse_calendar

DAY = date(2026, 11, 20)  # a Friday, a regular session
NEXT_DAY = date(2026, 11, 23)

pytestmark = pytest.mark.timeout(600)


def run_day(output: Path, day: date = DAY, **changes: Any) -> DayResult:
    return run_trading_day(DayOptions(day=day, output_dir=output, quiet=True, **changes))


def filled(result: DayResult) -> dict[tuple[str, str], Decimal]:
    """Net filled quantity per (symbol, side): what the day did to the account."""
    totals: Counter[tuple[str, str]] = Counter()
    for order in result.orders:
        totals[(order["symbol"], order["side"])] += Decimal(order["filled_qty"])  # type: ignore[assignment]
    return {key: Decimal(value) for key, value in totals.items() if value}


def assert_no_duplicate_orders(result: DayResult) -> None:
    ids = [order["client_order_id"] for order in result.orders]
    assert len(ids) == len(set(ids)), "a client_order_id was used twice"
    per_item = Counter((o["symbol"], o["side"]) for o in result.orders if Decimal(o["filled_qty"]) > 0)
    assert per_item, "nothing was filled"


@pytest.fixture(scope="module")
def clean_day(tmp_path_factory: pytest.TempPathFactory) -> DayResult:
    return run_day(tmp_path_factory.mktemp("clean"))


def test_a_normal_day_trades_the_merged_portfolio_and_reports_it(clean_day: DayResult) -> None:
    assert clean_day.outcome == "completed", clean_day.summary
    kinds = [e.event_type for e in clean_day.events]
    assert kinds.count("WorkflowStarted") == 1
    assert kinds.count("PartialSignalGenerated") == 3  # one per strategy file
    assert kinds.count("SignalGenerated") == kinds.count("RebalancePlanned") == 1
    assert kinds.count("WorkflowCompleted") == 1 and "WorkflowFailed" not in kinds
    assert {d.function for d in clean_day.deliveries} == {
        "DataRefreshFunction",
        "StrategyOrchestratorFunction",
        "StrategyFunction",
        "StrategyAggregatorFunction",
        "PortfolioFunction",
        "ExecutionFunction",
        "NotificationsFunction",
    }
    assert all(d.ok for d in clean_day.deliveries)
    assert_no_duplicate_orders(clean_day)
    assert all(order["status"] in ("filled", "canceled") for order in clean_day.orders)
    assert len(clean_day.emails) == 1 and "SUCCESS" in clean_day.emails[0]["subject"]
    assert "[PAPER]" in clean_day.emails[0]["subject"]
    report = (clean_day.output_dir / "report.csv").read_text()
    assert "nuclear.clj" in report
    assert "Merged portfolio" in clean_day.summary and "Execution: SUCCESS" in clean_day.summary
    logs = [json.loads(line) for line in (clean_day.output_dir / "logs.jsonl").read_text().splitlines()]
    assert logs and all("correlation_id" in line and "causation_id" in line for line in logs)


def test_the_simulated_clock_stamps_every_log_line_and_event_of_the_day(clean_day: DayResult) -> None:
    """Issue 15: log lines and event timestamps move with the simulated clock through the day (execution's
    waits move it), in order, all on the simulated day: not the trigger time on every line."""
    run_at = nyse_calendar().run_time(DAY)
    assert run_at is not None
    lines = [json.loads(line) for line in (clean_day.output_dir / "logs.jsonl").read_text().splitlines()]
    log_stamps = [datetime.fromisoformat(line["timestamp"]) for line in lines]
    event_stamps = [event.timestamp for event in clean_day.events]
    for name, stamps in (("log lines", log_stamps), ("events", event_stamps)):
        assert stamps, name
        assert stamps == sorted(stamps), f"{name} go back in time"
        assert all(stamp.astimezone(NEW_YORK).date() == DAY and stamp >= run_at for stamp in stamps), name
        assert stamps[-1] > stamps[0], f"every one of the {name} says {stamps[0]}"
    executed = [e.timestamp for e in clean_day.events if e.event_type in ("TradeExecuted", "WorkflowCompleted")]
    assert executed and min(executed) > run_at, "execution's events carry the trigger time"
    execution_lines = [s for s, line in zip(log_stamps, lines, strict=True) if "execution" in json.dumps(line).lower()]
    assert len(set(execution_lines)) > 1, "execution's log lines do not move with its waits"
    # the execution's own start and end (its result in TradeExecuted) are on execution's clock too
    result = next(e for e in clean_day.events if e.event_type == "TradeExecuted").execution_data  # type: ignore[attr-defined]
    assert run_at <= result.started_at < result.completed_at <= max(executed), (result.started_at, result.completed_at)


def deadline_deliveries(result: DayResult) -> list[Any]:
    return [d for d in result.deliveries if d.trigger.startswith("sqs:") and d.trigger.endswith("session-deadline")]


def test_the_session_deadline_arrives_on_the_routers_clock_after_a_normal_day_decided(clean_day: DayResult) -> None:
    """SessionDeadlineQueue's DelaySeconds counts on the router's clock as in AWS: the deadline comes
    SESSION_DEADLINE_SECONDS after the trigger, finds the session decided and changes nothing."""
    deadline = deadline_deliveries(clean_day)
    assert len(deadline) == 1, [d.trigger for d in clean_day.deliveries]
    assert deadline[0].ok and deadline[0].function == "StrategyAggregatorFunction"
    assert deadline[0].at == 600  # the template's default SessionDeadlineSeconds
    assert clean_day.deliveries[-1] is deadline[0], "the deadline came before the day had settled"
    kinds = [e.event_type for e in clean_day.events]
    assert kinds[-1] == "WorkflowCompleted" and kinds.count("WorkflowCompleted") == 1
    lines = [json.loads(line) for line in (clean_day.output_dir / "logs.jsonl").read_text().splitlines()]
    ignored = [line for line in lines if "deadline changes nothing" in line.get("event", "")]
    completed = clean_day.events[-1].timestamp
    assert ignored and datetime.fromisoformat(ignored[0]["timestamp"]) >= completed + timedelta(seconds=600)


def test_a_worker_that_never_reports_ends_the_day_by_the_session_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker for klm.clj dies on every attempt (Lambda retries it once, then dead-letters the event)
    and publishes nothing: the deadline's delayed message, 600 s on the router's clock after the trigger,
    ends the workflow by the no_trade policy with a WorkflowFailed naming the missing strategy."""
    from the_alchemiser.strategy_v2 import lambda_handler as worker

    real = worker.lambda_handler

    def lost_for_klm(event: dict[str, Any], context: Any) -> Any:
        if event.get("dsl_file") == "klm.clj":
            raise SimulatedCrash("the worker for klm.clj died")
        return real(event, context)

    monkeypatch.setattr(worker, "lambda_handler", lost_for_klm)
    result = run_day(tmp_path)
    assert result.outcome == "failed", result.summary
    assert not result.orders
    failed = next(e for e in result.events if e.event_type == "WorkflowFailed")
    reason = failed.failure_reason  # type: ignore[attr-defined]
    assert "deadline" in reason and "klm.clj" in reason, reason
    assert "nuclear.clj" not in reason and "tecl.clj" not in reason, reason
    run_at = nyse_calendar().run_time(DAY)
    assert run_at is not None
    assert failed.timestamp == run_at + timedelta(seconds=600), "stamped before the deadline it reports"
    lost = [d for d in result.deliveries if d.function == "StrategyFunction" and not d.ok]
    assert [d.attempt for d in lost] == [1, 2]  # EventInvokeConfig MaximumRetryAttempts 1
    deadline = deadline_deliveries(result)
    assert len(deadline) == 1 and deadline[0].ok and deadline[0].at == 600
    assert len(result.emails) == 1 and "FAIL" in result.emails[0]["subject"].upper()


def test_rerunning_the_same_day_changes_nothing_and_the_next_day_trades_the_difference(tmp_path: Path) -> None:
    first = run_day(tmp_path)
    assert first.outcome == "completed", first.summary
    assert any((tmp_path / "state" / "dynamodb").iterdir()), "DynamoDB Local did not keep the tables (is Java there?)"
    again = run_day(tmp_path)
    assert again.outcome == "none" and not again.emails
    assert len(again.orders) == len(first.orders), "a rerun placed orders"
    assert any("already started" in note for note in again.notes), again.summary
    following = run_day(tmp_path, NEXT_DAY)
    assert following.outcome == "completed", following.summary
    new_orders = following.orders[len(first.orders) :]
    assert new_orders, "the next day placed nothing"
    planned = next(e for e in following.events if e.event_type == "RebalancePlanned")
    traded = {item.symbol for item in planned.rebalance_plan.items if item.action.value != "HOLD"}  # type: ignore[attr-defined]
    assert {o["symbol"] for o in new_orders} <= traded


def test_a_malformed_strategy_fails_the_workflow_clearly_and_places_no_order(tmp_path: Path) -> None:
    broken = '(defsymphony "broken" {:rebalance-frequency :daily}\n  (weight-equal [(asset "SPY") (asset ]))\n'
    result = run_day(tmp_path, extra_strategy_files={"broken.clj": broken})
    assert result.outcome == "failed", result.summary
    assert not result.orders
    failed = next(e for e in result.events if e.event_type == "WorkflowFailed")
    text = failed.model_dump_json()
    assert "broken.clj" in text and "broken.clj:2:" in text, text  # the file, line and column
    assert len(result.emails) == 1 and "FAIL" in result.emails[0]["subject"].upper()


def test_every_event_twice_and_out_of_order_gives_the_same_orders(tmp_path: Path, clean_day: DayResult) -> None:
    result = run_day(tmp_path, duplicate_events=True, shuffle_seed=7)
    assert result.outcome == "completed", result.summary
    assert_no_duplicate_orders(result)
    assert filled(result) == filled(clean_day)
    assert len(result.emails) == 1


@pytest.fixture
def crash_execution_mid_plan(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """The execution Lambda's process dies right after its third order reaches the broker (once)."""
    from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker

    calls = {"placed": 0, "crashes": 0}
    original = AlpacaBroker.place_order

    def place_then_maybe_crash(self: AlpacaBroker, *args: Any, **kwargs: Any) -> Any:
        order = original(self, *args, **kwargs)
        calls["placed"] += 1
        if calls["placed"] == 3 and not calls["crashes"]:
            calls["crashes"] += 1
            raise SimulatedCrash("execution process killed after its third order")
        return order

    monkeypatch.setattr(AlpacaBroker, "place_order", place_then_maybe_crash)
    return calls


def test_execution_crashing_mid_plan_is_completed_by_redelivery_without_a_duplicate(
    tmp_path: Path, clean_day: DayResult, crash_execution_mid_plan: dict[str, int]
) -> None:
    result = run_day(tmp_path)
    assert crash_execution_mid_plan["crashes"] == 1
    executions = [d for d in result.deliveries if d.function == "ExecutionFunction"]
    assert [d.ok for d in executions] == [False, True], executions  # crashed, then the redelivery finished
    assert result.outcome == "completed", result.summary
    assert_no_duplicate_orders(result)
    assert filled(result) == filled(clean_day)
    # the redelivery comes after the queue's 900 s visibility timeout, on the broker's clock too: the plan
    # is finished a quarter of an hour after it started, as in AWS (before, the broker's clock stood still)
    waited = executions[1].at - executions[0].at
    assert waited >= 900
    done = next(e for e in result.events if e.event_type == "TradeExecuted").execution_data  # type: ignore[attr-defined]
    assert (done.completed_at - done.started_at).total_seconds() >= waited, (done.started_at, done.completed_at)


def test_a_broker_failing_for_a_while_still_finishes_without_a_duplicate(tmp_path: Path, clean_day: DayResult) -> None:
    faults = [
        {"status": 429, "count": 4, "path": "/v2/orders", "method": "POST"},
        {"status": 500, "count": 2, "path": "/v2/orders", "method": "POST", "when": "after"},  # placed, reply lost
        {"status": 503, "count": 2, "path": "/v2/account"},
    ]
    result = run_day(tmp_path, broker_faults=faults)
    assert result.outcome == "completed", result.summary
    assert_no_duplicate_orders(result)
    assert filled(result) == filled(clean_day)


def test_a_template_whose_rule_no_longer_matches_breaks_the_day(tmp_path: Path) -> None:
    """The local router follows template.yaml: edit a rule's pattern and the workflow stops there."""
    template = load_template(PROJECT_ROOT / "template.yaml")
    edited = 0
    for resource in template["Resources"].values():
        pattern = resource.get("Properties", {}).get("EventPattern", {})
        if pattern.get("detail-type") == ["SignalGenerated"]:
            pattern["detail-type"] = ["SignalGeneratedTypo"]
            edited += 1
    assert edited == 1, "the template routes SignalGenerated by one rule"
    broken = tmp_path / "template.yaml"
    broken.write_text(json.dumps(template))  # JSON is YAML: the long-form template loads the same way
    result = run_day(tmp_path / "out", template=broken)
    kinds = [e.event_type for e in result.events]
    assert "SignalGenerated" in kinds and "RebalancePlanned" not in kinds
    assert result.outcome != "completed" and not result.orders


def test_the_execution_time_budget_stops_an_invocation_before_its_timeout(tmp_path: Path) -> None:
    """The remaining time counts down locally (real time plus the day's simulated time): with a 30 s Timeout
    (a 5 s budget before the 25 s margin) and limit steps that rest their 4 s, execution stops in time
    with ExecutionOutOfTime, hands the message back, and the next invocation resumes without a duplicate
    (finishing the plan, or on the last delivery reporting that it could not)."""
    import urllib.request

    template = load_template(PROJECT_ROOT / "template.yaml")
    template["Resources"]["ExecutionFunction"]["Properties"]["Timeout"] = 30
    edited = tmp_path / "template.yaml"
    edited.write_text(json.dumps(template))

    def no_fills_inside_the_spread(router: Any) -> None:
        url = router.env_overrides["ALCHEMISER_SIM_CONTROL_URL"] + "/_sim/behaviour"
        body = json.dumps({"inside_fill_probability": 0}).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).close()

    result = run_day(tmp_path / "out", template=edited, before_run=no_fills_inside_the_spread)
    logs = [json.loads(line) for line in (result.output_dir / "logs.jsonl").read_text().splitlines()]
    assert any(line.get("event") == "execution_out_of_time" for line in logs), "the budget never triggered"
    executions = [d for d in result.deliveries if d.function == "ExecutionFunction"]
    assert len(executions) >= 2, executions  # handed straight back and resumed
    ids = [order["client_order_id"] for order in result.orders]
    assert ids and len(ids) == len(set(ids)), "a client_order_id was used twice"
    if result.outcome == "failed":  # out of time on the last delivery too: reported, not lost
        failed = next(e for e in result.events if e.event_type == "WorkflowFailed")
        assert "ExecutionOutOfTime" in failed.model_dump_json()
    else:
        assert result.outcome == "completed", result.summary
