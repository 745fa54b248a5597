"""A small in-memory trade ledger (orders, and the lot book with its bookings): enough for report logic and
email tests."""

from __future__ import annotations

from collections.abc import Iterable

from the_alchemiser.shared.ledger import LedgerOrder
from the_alchemiser.shared.ledger.book import Book, Booking


class InMemoryTradeLedger:
    def __init__(
        self, orders: Iterable[LedgerOrder] = (), book: Book | None = None, bookings: Iterable[Booking] = ()
    ) -> None:
        self._orders: dict[str, LedgerOrder] = {}
        for order in orders:
            self.record(order)
        self.book = book or Book()
        self.bookings = {booking.correlation_id: booking for booking in bookings}
        self.reads = 0
        self.fail_with: Exception | None = None

    def record(self, order: LedgerOrder) -> None:
        self._orders[order.client_order_id] = order

    def _read(self) -> None:
        self.reads += 1
        if self.fail_with is not None:
            raise self.fail_with

    def _all(self) -> list[LedgerOrder]:
        self._read()
        return sorted(self._orders.values(), key=lambda o: (o.placed_at, o.client_order_id))

    def orders_for_correlation(self, correlation_id: str) -> list[LedgerOrder]:
        return [o for o in self._all() if o.correlation_id == correlation_id]

    def orders_for_symbol(self, symbol: str) -> list[LedgerOrder]:
        return [o for o in self._all() if o.symbol == symbol]

    def orders_for_strategy(self, strategy: str) -> list[LedgerOrder]:
        return [o for o in self._all() if strategy in o.strategy_attribution]

    def booking(self, correlation_id: str) -> Booking | None:
        self._read()
        return self.bookings.get(correlation_id)

    def load_book(self) -> Book:
        self._read()
        return self.book
