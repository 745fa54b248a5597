"""Building RebalancePlanned events for execution tests."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from the_alchemiser.shared.events import RebalancePlanned
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, RebalancePlan, RebalancePlanItem, TradeAction

D = Decimal
TRADING_DATE = date(2026, 11, 20)


def buy(
    symbol: str, qty: str | None, price: str, *, notional: str | None = None, fractionable: bool = True
) -> RebalancePlanItem:
    value = D(notional) if notional is not None else D(qty or 0) * D(price)
    return RebalancePlanItem(
        symbol=symbol,
        action=TradeAction.BUY,
        current_qty=D(0),
        current_value=D(0),
        price=D(price),
        target_weight=D("0.01"),
        target_value=value,
        trade_value=value,
        quantity=D(qty) if qty is not None else None,
        fractionable=fractionable,
        strategy_attribution={"alpha.clj": D("0.6"), "beta.clj": D("0.4")},
    )


def sell(symbol: str, qty: str, price: str, *, held: str | None = None, full: bool = False) -> RebalancePlanItem:
    value = D(qty) * D(price)
    return RebalancePlanItem(
        symbol=symbol,
        action=TradeAction.SELL,
        current_qty=D(held or qty),
        current_value=D(held or qty) * D(price),
        price=D(price),
        target_weight=D(0),
        target_value=D(0) if full else D(held or qty) * D(price) - value,
        trade_value=-value,
        quantity=D(qty),
        fractionable=True,
        full_liquidation=full,
        strategy_attribution={} if full else {"alpha.clj": D(1)},
    )


def hold(symbol: str) -> RebalancePlanItem:
    return RebalancePlanItem(
        symbol=symbol,
        action=TradeAction.HOLD,
        current_qty=D(1),
        current_value=D(100),
        price=D(100),
        target_weight=D("0.01"),
        target_value=D(100),
        trade_value=D(0),
        fractionable=True,
    )


PORTFOLIO = ConsolidatedPortfolio(
    as_of=TRADING_DATE,
    target_weights={"SPY": D(1)},
    strategy_contributions={"alpha.clj": {"SPY": D("0.6")}, "beta.clj": {"SPY": D("0.4")}},
    strategy_allocations={"alpha.clj": D("0.6"), "beta.clj": D("0.4")},
)


def planned(
    items: Sequence[RebalancePlanItem], *, correlation_id: str | None = None, trading_date: date = TRADING_DATE
) -> RebalancePlanned:
    correlation_id = correlation_id or f"corr-{uuid.uuid4().hex[:12]}"
    sells = sum((-i.trade_value for i in items if i.action == TradeAction.SELL), D(0))
    buys = sum((i.trade_value for i in items if i.action == TradeAction.BUY), D(0))
    plan = RebalancePlan(
        plan_id=f"plan-{correlation_id}",
        correlation_id=correlation_id,
        trading_date=trading_date,
        created_at=datetime.now(UTC),
        equity=D(100_000),
        cash=D(100_000),
        deployable_equity=D(100_000),
        items=list(items),
        total_sell_value=sells,
        total_buy_value=buys,
        estimated_cash_after=D(100_000) + sells - buys,
    )
    return RebalancePlanned(
        correlation_id=correlation_id,
        causation_id="signal-event-1",
        source_module="portfolio_v2",
        source_component="test",
        rebalance_plan=plan,
        allocation_comparison={},
        trades_required=bool(plan.trades),
        consolidated_portfolio=PORTFOLIO,
    )


def sqs_event(event: RebalancePlanned, *, receive_count: int = 1, message_id: str = "m-1") -> dict[str, object]:
    """An SQS batch of one record whose body is the EventBridge event the rule delivered."""
    body = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.event_type,
        "source": event.source,
        "account": "123456789012",
        "time": event.timestamp.isoformat(),
        "region": "us-east-1",
        "resources": [],
        "detail": event.model_dump(mode="json"),
    }
    return sqs_batch(json.dumps(body), receive_count=receive_count, message_id=message_id)


def sqs_batch(body: str, *, receive_count: int = 1, message_id: str = "m-1") -> dict[str, object]:
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": "rh",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": str(receive_count),
                    "SentTimestamp": "0",
                    "SenderId": "x",
                    "ApproximateFirstReceiveTimestamp": "0",
                },
                "messageAttributes": {},
                "md5OfBody": "x",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:execution",
                "awsRegion": "us-east-1",
            }
        ]
    }
