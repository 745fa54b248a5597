"""A small in-memory TradeLedgerReader (and writer): enough for report logic and email tests."""

from __future__ import annotations

from collections.abc import Iterable

from the_alchemiser.shared.ledger import LedgerOrder


class InMemoryTradeLedger:
    def __init__(self, orders: Iterable[LedgerOrder] = ()) -> None:
        self._orders: dict[str, LedgerOrder] = {}
        for order in orders:
            self.record(order)
        self.reads = 0
        self.fail_with: Exception | None = None

    def record(self, order: LedgerOrder) -> None:
        self._orders[order.client_order_id] = order

    def _all(self) -> list[LedgerOrder]:
        self.reads += 1
        if self.fail_with is not None:
            raise self.fail_with
        return sorted(self._orders.values(), key=lambda o: (o.placed_at, o.client_order_id))

    def orders_for_correlation(self, correlation_id: str) -> list[LedgerOrder]:
        return [o for o in self._all() if o.correlation_id == correlation_id]

    def orders_for_symbol(self, symbol: str) -> list[LedgerOrder]:
        return [o for o in self._all() if o.symbol == symbol]

    def orders_for_strategy(self, strategy: str) -> list[LedgerOrder]:
        return [o for o in self._all() if strategy in o.strategy_attribution]
