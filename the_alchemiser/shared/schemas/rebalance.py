"""The rebalance plan: what to trade, in dollars and quantity, and on whose behalf."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field

from the_alchemiser.shared.schemas.base import WireModel
from the_alchemiser.shared.types import Money


class TradeAction(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"


class RebalancePlanItem(WireModel):
    symbol: str
    action: TradeAction
    current_qty: Money
    current_value: Money
    price: Money = Field(description="price used for sizing (last trade or mid)")
    target_weight: Money
    target_value: Money
    trade_value: Money = Field(description="signed dollars: positive buys, negative sells")
    quantity: Money | None = Field(default=None, description="shares to trade (absolute); None means trade by notional")
    fractionable: bool
    full_liquidation: bool = False
    reason: str = ""
    strategy_attribution: dict[str, Money] = Field(
        default_factory=dict, description="strategy file -> share of this item (sums to 1)"
    )
    skipped_trade_value: Money | None = Field(
        default=None, description="a HOLD for a leg below the minimum trade value: the signed dollars not traded"
    )


class RebalancePlan(WireModel):
    plan_id: str
    correlation_id: str
    trading_date: date
    created_at: datetime
    equity: Money
    cash: Money
    deployable_equity: Money
    items: list[RebalancePlanItem]
    total_sell_value: Money
    total_buy_value: Money
    estimated_cash_after: Money

    @property
    def trades(self) -> list[RebalancePlanItem]:
        return [item for item in self.items if item.action != TradeAction.HOLD]

    @property
    def sells(self) -> list[RebalancePlanItem]:
        return [item for item in self.items if item.action == TradeAction.SELL]

    @property
    def buys(self) -> list[RebalancePlanItem]:
        return [item for item in self.items if item.action == TradeAction.BUY]

    def item(self, symbol: str) -> RebalancePlanItem:
        for candidate in self.items:
            if candidate.symbol == symbol:
                return candidate
        raise KeyError(symbol)
