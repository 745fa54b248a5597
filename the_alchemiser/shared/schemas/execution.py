"""What execution did: one result per planned trade, and the day's totals."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from the_alchemiser.shared.schemas.base import WireModel
from the_alchemiser.shared.types import Money


class OrderOutcome(StrEnum):
    FILLED = "FILLED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # market closed, halted, below minimum, nothing to do


class QuoteSnapshot(WireModel):
    bid: Money | None
    ask: Money | None
    timestamp: datetime | None = None

    @property
    def midpoint(self) -> Money | None:
        if self.bid is None or self.ask is None or self.bid <= 0 or self.ask <= 0:
            return None
        return (self.bid + self.ask) / 2


class OrderResult(WireModel):
    symbol: str
    side: str = Field(description="buy or sell")
    outcome: OrderOutcome
    requested_qty: Money | None = None
    requested_notional: Money | None = None
    filled_qty: Money
    avg_fill_price: Money | None = None
    filled_value: Money
    quote_at_placement: QuoteSnapshot | None = None
    slippage_bps: Money | None = Field(default=None, description="vs midpoint at placement; positive = worse")
    client_order_ids: list[str] = Field(default_factory=list)
    broker_order_ids: list[str] = Field(default_factory=list)
    steps: int = 0
    error: str | None = None
    strategy_attribution: dict[str, Money] = Field(default_factory=dict)


class ExecutionStatus(StrEnum):
    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"
    FAILURE = "FAILURE"
    NO_TRADES = "NO_TRADES"


class ExecutionResult(WireModel):
    plan_id: str
    correlation_id: str
    status: ExecutionStatus
    orders: list[OrderResult]
    orders_placed: int
    orders_succeeded: int
    total_buy_value: Money
    total_sell_value: Money
    started_at: datetime
    completed_at: datetime
    market_open: bool = True
    notes: list[str] = Field(default_factory=list)
