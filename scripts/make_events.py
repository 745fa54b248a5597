"""Write events/<function>.json: one ready event per Lambda for `sam local invoke -e`.

Each is built from the project's own models (the_alchemiser.shared.events / schemas) and wrapped the
way AWS delivers it: the Scheduler input, an async-invoke payload, an EventBridge envelope, or an SQS
record carrying the EventBridge envelope. tests/infra/test_events_dir.py parses them back and checks
they route to their function, so a model change that breaks them fails a test.

    python scripts/make_events.py            # rewrite events/
    python scripts/make_events.py --check    # exit 1 when events/ differs from what would be written
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from the_alchemiser.shared.events import (  # noqa: E402
    BaseEvent,
    EventBridgePublisher,
    PartialSignalGenerated,
    RebalancePlanned,
    SignalGenerated,
    WorkflowCompleted,
)
from the_alchemiser.shared.schemas import (  # noqa: E402
    ConsolidatedPortfolio,
    ExecutionResult,
    ExecutionStatus,
    OrderOutcome,
    OrderResult,
    QuoteSnapshot,
    RebalancePlan,
    RebalancePlanItem,
    StrategySignal,
    StrategyWorkerRequest,
    TradeAction,
)

EVENTS_DIR = REPO / "events"
ACCOUNT = "123456789012"
REGION = "us-east-1"
BUS = "alchemiser-dev-events"
TRADING_DAY = date(2026, 11, 20)
AS_OF = date(2026, 11, 19)
CORRELATION = "wf-2026-11-20-dev-3f2a9c1e"
SESSION = "session-2026-11-20-dev-3f2a9c1e"
AT = datetime(2026, 11, 20, 20, 30, 5, tzinfo=UTC)  # 15:30:05 New York


class _RecordingEventsClient:
    """Stands in for boto3's events client: keeps the entries EventBridgePublisher sends."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries.extend(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"}]}


def eventbridge_envelope(event: BaseEvent, rule_resource: str | None = None) -> dict[str, Any]:
    """The event as a rule target receives it: published exactly as EventBridgePublisher does."""
    client = _RecordingEventsClient()
    EventBridgePublisher(client, BUS).publish(event)
    (entry,) = client.entries
    return {
        "version": "0",
        "id": f"eb-{event.event_id}",
        "detail-type": entry["DetailType"],
        "source": entry["Source"],
        "account": ACCOUNT,
        "time": event.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_resource] if rule_resource else [],
        "detail": json.loads(entry["Detail"]),
    }


def sqs_event(body: dict[str, Any], queue: str) -> dict[str, Any]:
    """A one-record SQS batch as Lambda's event source mapping delivers it."""
    return {
        "Records": [
            {
                "messageId": "6f1c2a8e-4d0b-4a8e-9c8e-2b7f7f0a1d11",
                "receiptHandle": "AQEB-example-receipt-handle",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1795725005000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1795725005100",
                },
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}",
                "awsRegion": REGION,
            }
        ]
    }


def signals() -> list[StrategySignal]:
    return [
        StrategySignal(
            strategy="nuclear.clj",
            strategy_name="Nuclear",
            allocation=Decimal("0.6"),
            weights={"SPY": Decimal("0.5"), "TQQQ": Decimal("0.5")},
            as_of=AS_OF,
            trace_summary=["rsi(SPY, 10) = 61.2 <= 79 -> risk-on branch", "weight-equal [SPY, TQQQ]"],
        ),
        StrategySignal(
            strategy="tecl.clj",
            strategy_name="TECL",
            allocation=Decimal("0.4"),
            weights={"BIL": Decimal("1")},
            as_of=AS_OF,
            trace_summary=["rsi(XLK, 10) = 81.4 > 79 -> cash"],
        ),
    ]


def portfolio() -> ConsolidatedPortfolio:
    return ConsolidatedPortfolio.merge(signals())


def plan() -> RebalancePlan:
    merged = portfolio()
    equity = Decimal("10000.00")
    items = [
        RebalancePlanItem(
            symbol="BIL",
            action=TradeAction.BUY,
            current_qty=Decimal(0),
            current_value=Decimal(0),
            price=Decimal("91.50"),
            target_weight=merged.target_weights["BIL"],
            target_value=Decimal("4000.00"),
            trade_value=Decimal("4000.00"),
            quantity=Decimal("43.715846"),
            fractionable=True,
            reason="new position",
            strategy_attribution=merged.attribution("BIL"),
        ),
        RebalancePlanItem(
            symbol="SPY",
            action=TradeAction.HOLD,
            current_qty=Decimal("5"),
            current_value=Decimal("3000.00"),
            price=Decimal("600.00"),
            target_weight=merged.target_weights["SPY"],
            target_value=Decimal("3000.00"),
            trade_value=Decimal(0),
            fractionable=True,
            reason="on target",
            strategy_attribution=merged.attribution("SPY"),
        ),
        RebalancePlanItem(
            symbol="TQQQ",
            action=TradeAction.SELL,
            current_qty=Decimal("80"),
            current_value=Decimal("7000.00"),
            price=Decimal("87.50"),
            target_weight=merged.target_weights["TQQQ"],
            target_value=Decimal("3000.00"),
            trade_value=Decimal("-4000.00"),
            quantity=Decimal("45.714285"),
            fractionable=True,
            reason="over target",
            strategy_attribution=merged.attribution("TQQQ"),
        ),
    ]
    return RebalancePlan(
        plan_id=f"plan-{CORRELATION}",
        correlation_id=CORRELATION,
        trading_date=TRADING_DAY,
        created_at=AT,
        equity=equity,
        cash=Decimal("0.00"),
        deployable_equity=equity,
        items=items,
        total_sell_value=Decimal("4000.00"),
        total_buy_value=Decimal("4000.00"),
        estimated_cash_after=Decimal("0.00"),
    )


def execution_result() -> ExecutionResult:
    merged = portfolio()
    return ExecutionResult(
        plan_id=f"plan-{CORRELATION}",
        correlation_id=CORRELATION,
        status=ExecutionStatus.SUCCESS,
        orders=[
            OrderResult(
                symbol="TQQQ",
                side="sell",
                outcome=OrderOutcome.FILLED,
                requested_qty=Decimal("45.714285"),
                filled_qty=Decimal("45.714285"),
                avg_fill_price=Decimal("87.49"),
                filled_value=Decimal("3999.54"),
                quote_at_placement=QuoteSnapshot(bid=Decimal("87.48"), ask=Decimal("87.52"), timestamp=AT),
                slippage_bps=Decimal("1.14"),
                client_order_ids=["alc-3f2a9c1e-TQQQ-sell-1"],
                broker_order_ids=["b5f0c3f6-1e7c-4d55-9d0e-5b7d3f1f9a10"],
                steps=1,
                strategy_attribution=merged.attribution("TQQQ"),
            ),
            OrderResult(
                symbol="BIL",
                side="buy",
                outcome=OrderOutcome.FILLED,
                requested_qty=Decimal("43.715846"),
                filled_qty=Decimal("43.715846"),
                avg_fill_price=Decimal("91.51"),
                filled_value=Decimal("4000.44"),
                quote_at_placement=QuoteSnapshot(bid=Decimal("91.50"), ask=Decimal("91.52"), timestamp=AT),
                slippage_bps=Decimal("0"),
                client_order_ids=["alc-3f2a9c1e-BIL-buy-1"],
                broker_order_ids=["0c9a3e27-5b1d-4f4e-8a57-8d3b2c6e4f21"],
                steps=1,
                strategy_attribution=merged.attribution("BIL"),
            ),
        ],
        orders_placed=2,
        orders_succeeded=2,
        total_buy_value=Decimal("4000.44"),
        total_sell_value=Decimal("3999.54"),
        started_at=AT,
        completed_at=datetime(2026, 11, 20, 20, 31, 40, tzinfo=UTC),
    )


def build_events() -> dict[str, Any]:
    """File name -> event, one per function."""
    request = StrategyWorkerRequest(
        session_id=SESSION,
        correlation_id=CORRELATION,
        causation_id="schedule-2026-11-20T20:30:00Z",
        dsl_file="nuclear.clj",
        strategy_number=1,
        total_strategies=2,
        allocation=Decimal("0.6"),
        as_of=AS_OF,
        trading_date=TRADING_DAY,
        stage="dev",
    )
    partial = PartialSignalGenerated(
        event_id="0b6f3a52-3c1e-4f0e-9a0c-6a3f2d9b1c01",
        correlation_id=CORRELATION,
        causation_id="workflow-started-3f2a9c1e",
        timestamp=AT,
        source_module="strategy_v2",
        source_component="strategy_worker",
        session_id=SESSION,
        dsl_file="nuclear.clj",
        strategy_number=1,
        total_strategies=2,
        success=True,
        signals_data=signals()[0],
    )
    signal = SignalGenerated(
        event_id="1c7e4b63-4d2f-4a1f-8b1d-7b4e3ea2c202",
        correlation_id=CORRELATION,
        causation_id=partial.event_id,
        timestamp=AT,
        source_module="aggregator_v2",
        source_component="signal_aggregator",
        session_id=SESSION,
        signals_data=signals(),
        consolidated_portfolio=portfolio(),
        signal_count=2,
    )
    planned = RebalancePlanned(
        event_id="2d8f5c74-5e3a-4b2a-9c2e-8c5f4fb3d303",
        correlation_id=CORRELATION,
        causation_id=signal.event_id,
        timestamp=AT,
        source_module="portfolio_v2",
        source_component="rebalance_planner",
        rebalance_plan=plan(),
        allocation_comparison={
            item.symbol: {
                "target_weight": item.target_weight,
                "current_weight": item.current_value / Decimal("10000.00"),
                "target_value": item.target_value,
                "current_value": item.current_value,
            }
            for item in plan().items
        },
        trades_required=True,
        consolidated_portfolio=portfolio(),
    )
    completed = WorkflowCompleted(
        event_id="3e9a6d85-6f4b-4c3b-8d3f-9d6a5ac4e404",
        correlation_id=CORRELATION,
        causation_id=planned.event_id,
        timestamp=datetime(2026, 11, 20, 20, 31, 41, tzinfo=UTC),
        source_module="execution_v2",
        source_component="execution",
        success=True,
        summary={"orders_placed": 2, "orders_succeeded": 2, "status": "SUCCESS"},
        trading_date=TRADING_DAY,
        execution_data=execution_result(),
        consolidated_portfolio=portfolio(),
    )
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{BUS}/alchemiser-dev-"
    return {
        "strategy_orchestrator.json": {
            "trigger": "schedule",
            "scheduled_time": "2026-11-20T20:30:00Z",
            "execution_id": "3f2a9c1e-7b1d-4c2e-9a57-1d0e8b6c4f33",
        },
        "strategy_worker.json": json.loads(request.model_dump_json()),
        "signal_aggregator.json": eventbridge_envelope(partial, rule + "partial-signal-generated"),
        "portfolio.json": eventbridge_envelope(signal, rule + "signal-generated"),
        "execution.json": sqs_event(
            eventbridge_envelope(planned, rule + "rebalance-planned"), "alchemiser-dev-execution"
        ),
        "notifications.json": eventbridge_envelope(completed, rule + "workflow-completed"),
        "data_refresh.json": {"trigger": "schedule", "scheduled_time": "2026-11-20T23:30:00Z"},
    }


def render(event: Any) -> str:
    return json.dumps(event, indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale: list[str] = []
    EVENTS_DIR.mkdir(exist_ok=True)
    for name, event in build_events().items():
        path = EVENTS_DIR / name
        text = render(event)
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"events/ is stale, run scripts/make_events.py: {stale}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
