"""A small in-memory BrokerPort for unit tests of the walk's logic (the must-show tests use the real
local paper broker over HTTP). Fills are scripted: `fill_plan[(symbol, step_kind)]` says how much of a
new order fills at placement; `fill_on_poll` fills the remainder of open orders on their next read."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from the_alchemiser.shared.broker.errors import (
    DuplicateClientOrderIdError,
    InsufficientQuantityError,
    NotFoundError,
    OrderNotCancelableError,
)
from the_alchemiser.shared.broker.models import (
    Account,
    Asset,
    CalendarDay,
    MarketClock,
    Order,
    OrderRequest,
    OrderSide,
    OrderStatus,
    OrderType,
    Position,
    Quote,
)

NOW = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)

# decides, for a new order, the qty that fills at once and the price: (order request) -> (qty, price)
FillRule = Callable[[OrderRequest, Quote | None], tuple[Decimal, Decimal | None]]


def fills_nothing(request: OrderRequest, quote: Quote | None) -> tuple[Decimal, Decimal | None]:
    return Decimal(0), None


def crossing_fills(request: OrderRequest, quote: Quote | None) -> tuple[Decimal, Decimal | None]:
    """Market orders fill at the far touch; limits fill only when they reach it."""
    assert request.qty is not None
    far = None
    if quote is not None:
        far = quote.ask if request.side == OrderSide.BUY else quote.bid
    if request.type == OrderType.MARKET:
        return request.qty, far if far and far > 0 else Decimal(100)
    assert request.limit_price is not None
    if far is not None and far > 0:
        crosses = request.limit_price >= far if request.side == OrderSide.BUY else request.limit_price <= far
        if crosses:
            return request.qty, far
    return Decimal(0), None


@dataclass
class FakeBroker:
    quotes: dict[str, Quote] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    cash: Decimal = Decimal(100_000)
    fill_rule: FillRule = crossing_fills
    cancel_race: bool = False  # a cancel loses to a fill of the remainder
    is_open: bool = True
    halted: set[str] = field(default_factory=set)
    orders: dict[str, Order] = field(default_factory=dict)
    by_client_id: dict[str, str] = field(default_factory=dict)
    placed: list[OrderRequest] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def get_account(self) -> Account:
        self.calls.append("get_account")
        return Account(
            id="acct",
            status="ACTIVE",
            cash=self.cash,
            buying_power=self.cash,
            equity=self.cash,
            portfolio_value=self.cash,
        )

    def get_positions(self) -> list[Position]:
        return [p for s in self.positions if (p := self.get_position(s)) is not None]

    def get_position(self, symbol: str) -> Position | None:
        self.calls.append("get_position")
        qty = self.positions.get(symbol, Decimal(0))
        if qty <= 0:
            return None
        return Position(
            symbol=symbol,
            qty=qty,
            qty_available=qty,
            avg_entry_price=Decimal(1),
            market_value=qty,
            current_price=Decimal(1),
        )

    def get_asset(self, symbol: str) -> Asset:
        return Asset(symbol=symbol, tradable=symbol not in self.halted, fractionable=True)

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        self.calls.append("get_latest_quotes")
        return {s: self.quotes[s] for s in symbols if s in self.quotes}

    def place_order(self, request: OrderRequest) -> Order:
        self.calls.append("place_order")
        if request.client_order_id in self.by_client_id:
            raise DuplicateClientOrderIdError("client_order_id must be unique", status_code=422)
        assert request.qty is not None
        if request.side == OrderSide.SELL and request.qty > self.positions.get(request.symbol, Decimal(0)):
            raise InsufficientQuantityError("insufficient qty available for order", status_code=403)
        self.placed.append(request)
        order_id = f"o-{next(self._ids)}"
        order = Order(
            id=order_id,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            type=request.type,
            time_in_force=request.time_in_force,
            status=OrderStatus.NEW,
            qty=request.qty,
            limit_price=request.limit_price,
            created_at=NOW + timedelta(seconds=len(self.placed)),
        )
        self.orders[order_id] = order
        self.by_client_id[request.client_order_id] = order_id
        qty, price = self.fill_rule(request, self.quotes.get(request.symbol))
        if qty > 0 and price is not None:
            self.fill(order_id, qty, price)
        return self.orders[order_id]

    def fill(self, order_id: str, qty: Decimal, price: Decimal) -> Order:
        order = self.orders[order_id]
        assert order.qty is not None
        qty = min(qty, order.qty - order.filled_qty)
        total = order.filled_qty + qty
        previous_value = order.filled_qty * (order.filled_avg_price or Decimal(0))
        avg = (previous_value + qty * price) / total
        status = OrderStatus.FILLED if total >= order.qty else OrderStatus.PARTIALLY_FILLED
        self.orders[order_id] = order.model_copy(
            update={"filled_qty": total, "filled_avg_price": avg, "status": status}
        )
        sign = 1 if order.side == OrderSide.BUY else -1
        self.positions[order.symbol] = self.positions.get(order.symbol, Decimal(0)) + sign * qty
        self.cash -= sign * qty * price
        return self.orders[order_id]

    def get_order(self, order_id: str) -> Order:
        self.calls.append("get_order")
        return self.orders[order_id]

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        self.calls.append("get_order_by_client_id")
        order_id = self.by_client_id.get(client_order_id)
        return self.orders[order_id] if order_id else None

    def cancel_order(self, order_id: str) -> None:
        self.calls.append("cancel_order")
        order = self.orders.get(order_id)
        if order is None:
            raise NotFoundError("order not found", status_code=404)
        if not order.is_terminal and self.cancel_race:
            assert order.qty is not None
            quote = self.quotes.get(order.symbol)
            price = order.limit_price or (quote.ask if quote else Decimal(100))
            order = self.fill(order_id, order.qty - order.filled_qty, price)
        if order.is_terminal:
            raise OrderNotCancelableError(f"order is already in {order.status} state", status_code=422)
        self.orders[order_id] = order.model_copy(update={"status": OrderStatus.CANCELED, "canceled_at": NOW})

    def replace_order(self, order_id: str, *, qty: Decimal | None = None, limit_price: Decimal | None = None) -> Order:
        raise NotImplementedError("execution never replaces: it cancels and re-places under a new id")

    def list_orders(
        self, *, status: str = "all", after: datetime | None = None, symbols: Sequence[str] | None = None
    ) -> list[Order]:
        return list(self.orders.values())

    def get_clock(self) -> MarketClock:
        return MarketClock(
            timestamp=NOW,
            is_open=self.is_open,
            next_open=NOW + timedelta(hours=17),
            next_close=NOW + timedelta(hours=1),
        )

    def get_calendar(self, start: date, end: date) -> list[CalendarDay]:
        return []
