"""The rebalance plan: what to trade, in dollars and quantity, and on whose behalf."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import Field, model_validator

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

    @model_validator(mode="after")
    def _signs_match_the_action(self) -> RebalancePlanItem:
        """Quantities are absolute and positive; the trade value's sign is the action's (a BUY of -5 or of
        -$500 is a malformed plan, refused here rather than turned into a buy of 5 somewhere downstream)."""
        problems: list[str] = []
        if self.quantity is not None and self.quantity <= 0:
            problems.append(f"quantity {self.quantity} must be positive (absolute shares)")
        if self.current_qty < 0 or self.current_value < 0:
            problems.append(f"current holding {self.current_qty} / {self.current_value} must not be negative")
        if self.target_value < 0:
            problems.append(f"target value {self.target_value} must not be negative")
        if self.action == TradeAction.BUY and not self.trade_value > 0:
            problems.append(f"a BUY's trade value {self.trade_value} must be positive")
        elif self.action == TradeAction.SELL and not self.trade_value < 0:
            problems.append(f"a SELL's trade value {self.trade_value} must be negative")
        elif self.action == TradeAction.HOLD and (self.trade_value != 0 or self.quantity is not None):
            problems.append(f"a HOLD trades nothing (trade value {self.trade_value}, quantity {self.quantity})")
        if self.price < 0 or (self.action != TradeAction.HOLD and self.price == 0):
            problems.append(f"price {self.price} must be positive for a trade")
        if problems:
            raise ValueError(f"{self.symbol} {self.action.value}: " + "; ".join(problems))
        return self


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
