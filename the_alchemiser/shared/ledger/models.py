"""The trade ledger's record of one order: written by execution, read by notifications and reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from pydantic import Field

from the_alchemiser.shared.schemas.base import WireModel
from the_alchemiser.shared.types import Money

if TYPE_CHECKING:
    from the_alchemiser.shared.ledger.book import Book, Booking
    from the_alchemiser.shared.schemas.execution import ExecutionResult
    from the_alchemiser.shared.schemas.rebalance import RebalancePlan


class LedgerOrder(WireModel):
    """One broker order (one walk-the-book step) as the ledger keeps it."""

    correlation_id: str
    client_order_id: str
    broker_order_id: str | None
    plan_id: str
    trading_date: date
    symbol: str
    side: str  # buy / sell
    order_type: str  # limit / market
    step: int
    requested_qty: Money | None
    requested_notional: Money | None
    limit_price: Money | None
    filled_qty: Money
    avg_fill_price: Money | None
    status: str  # broker status at last sight
    bid_at_placement: Money | None
    ask_at_placement: Money | None
    placed_at: datetime
    updated_at: datetime
    strategy_attribution: dict[str, Money] = Field(default_factory=dict)
    error: str | None = None

    @property
    def filled_value(self) -> Money:
        from decimal import Decimal

        return self.filled_qty * self.avg_fill_price if self.avg_fill_price is not None else Decimal(0)


class TradeLedgerReader(Protocol):
    def orders_for_correlation(self, correlation_id: str) -> list[LedgerOrder]: ...

    def orders_for_symbol(self, symbol: str) -> list[LedgerOrder]: ...

    def orders_for_strategy(self, strategy: str) -> list[LedgerOrder]: ...


class TradeLedgerWriter(Protocol):
    def record(self, order: LedgerOrder) -> None:
        """Insert or update the item for `order.client_order_id` (an upsert: redelivery is safe)."""
        ...


class LotBookWriter(Protocol):
    def book_plan(self, plan: RebalancePlan, result: ExecutionResult) -> Booking | None:
        """Book the plan's fills into the owners' lots, once per correlation id (book.py, `book_plan`)."""
        ...


class LotBookReader(Protocol):
    def booking(self, correlation_id: str) -> Booking | None: ...

    def load_book(self) -> Book: ...
