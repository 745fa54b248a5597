"""The broker's typed view of the world, in Decimal. Adapters map Alpaca's JSON to these."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, model_validator

from the_alchemiser.shared.types import Money

QTY_PRECISION = Decimal("0.000000001")  # Alpaca takes fractional quantities to 9 decimal places
CENT = Decimal("0.01")


class _BrokerModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(StrEnum):
    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    CLS = "cls"


class OrderStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    PENDING_NEW = "pending_new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    REPLACED = "replaced"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    DONE_FOR_DAY = "done_for_day"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED, OrderStatus.REJECTED, OrderStatus.REPLACED}
)


class Account(_BrokerModel):
    id: str
    status: str
    currency: str = "USD"
    cash: Money
    buying_power: Money
    equity: Money
    portfolio_value: Money


class Position(_BrokerModel):
    symbol: str
    qty: Money
    qty_available: Money
    avg_entry_price: Money
    market_value: Money
    current_price: Money
    side: str = "long"


class Asset(_BrokerModel):
    symbol: str
    status: str = "active"
    tradable: bool = True
    fractionable: bool = False
    exchange: str = ""


class Quote(_BrokerModel):
    symbol: str
    bid: Money
    ask: Money
    bid_size: Money = Decimal(0)
    ask_size: Money = Decimal(0)
    timestamp: datetime | None = None

    @property
    def two_sided(self) -> bool:
        return self.bid > 0 and self.ask > 0 and self.ask >= self.bid

    @property
    def midpoint(self) -> Decimal | None:
        return (self.bid + self.ask) / 2 if self.two_sided else None


class OrderRequest(_BrokerModel):
    symbol: str
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce = TimeInForce.DAY
    qty: Money | None = None
    notional: Money | None = None
    limit_price: Money | None = None
    client_order_id: str

    @model_validator(mode="after")
    def _check(self) -> OrderRequest:
        if (self.qty is None) == (self.notional is None):
            raise ValueError("exactly one of qty and notional")
        if self.type == OrderType.LIMIT and self.limit_price is None:
            raise ValueError("a limit order needs limit_price")
        # Alpaca's precision: it rejects finer amounts with a 422, so fail here, before anything is sent
        if self.qty is not None and (self.qty <= 0 or self.qty != self.qty.quantize(QTY_PRECISION)):
            raise ValueError(f"qty {self.qty} must be positive with at most 9 decimal places")
        if self.notional is not None and (self.notional <= 0 or self.notional != self.notional.quantize(CENT)):
            raise ValueError(f"notional {self.notional} must be positive whole cents")
        if len(self.client_order_id) > 48:
            raise ValueError("client_order_id is at most 48 characters")
        return self


class Order(_BrokerModel):
    id: str
    client_order_id: str
    symbol: str
    side: OrderSide
    type: OrderType
    time_in_force: TimeInForce
    status: OrderStatus
    qty: Money | None = None
    notional: Money | None = None
    filled_qty: Money = Decimal(0)  # cumulative, as Alpaca reports it
    filled_avg_price: Money | None = None
    limit_price: Money | None = None
    created_at: datetime
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal


class MarketClock(_BrokerModel):
    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


class CalendarDay(_BrokerModel):
    date: date
    open: time
    close: time
