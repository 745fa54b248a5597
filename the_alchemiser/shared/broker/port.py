"""The broker port: everything the system asks of Alpaca. One real adapter (alpaca-py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from the_alchemiser.shared.broker.models import (
    Account,
    Asset,
    CalendarDay,
    MarketClock,
    Order,
    OrderRequest,
    Position,
    Quote,
)


class BrokerPort(Protocol):
    def get_account(self) -> Account: ...

    def get_positions(self) -> list[Position]: ...

    def get_position(self, symbol: str) -> Position | None: ...

    def get_asset(self, symbol: str) -> Asset: ...

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]: ...

    def place_order(self, request: OrderRequest) -> Order:
        """Place an order. Never blindly resubmits: on an ambiguous failure the adapter looks the
        client_order_id up first and returns the existing order."""
        ...

    def get_order(self, order_id: str) -> Order: ...

    def get_order_by_client_id(self, client_order_id: str) -> Order | None: ...

    def cancel_order(self, order_id: str) -> None: ...

    def replace_order(
        self, order_id: str, *, qty: Decimal | None = None, limit_price: Decimal | None = None
    ) -> Order: ...

    def list_orders(
        self, *, status: str = "all", after: datetime | None = None, symbols: Sequence[str] | None = None
    ) -> list[Order]: ...

    def get_clock(self) -> MarketClock: ...

    def get_calendar(self, start: date, end: date) -> list[CalendarDay]: ...
