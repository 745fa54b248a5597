"""Reads one PortfolioSnapshot from the broker: account, positions, quotes and asset flags."""

from __future__ import annotations

from collections.abc import Iterable

from the_alchemiser.portfolio_v2.core.snapshot import HeldPosition, PortfolioSnapshot, SymbolState, sizing_price
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.calendar import Clock, SystemClock
from the_alchemiser.shared.logging import get_logger

log = get_logger(__name__)


class PortfolioStateReader:
    """Everything the planner needs, read through the broker port. Broker errors propagate as the
    port's BrokerError types; a symbol without a usable price is recorded with price None so the
    planner can name every such symbol at once."""

    def __init__(self, broker: BrokerPort, clock: Clock | None = None) -> None:
        self._broker = broker
        self._clock = clock or SystemClock()

    def read(self, target_symbols: Iterable[str]) -> PortfolioSnapshot:
        as_of = self._clock.now()
        account = self._broker.get_account()
        positions = {p.symbol: p for p in self._broker.get_positions() if p.qty != 0}
        held = {  # validated first: a short position stops the read before any more requests
            symbol: HeldPosition(symbol=symbol, qty=p.qty, market_value=p.market_value, current_price=p.current_price)
            for symbol, p in sorted(positions.items())
        }
        symbols = sorted(set(target_symbols) | set(positions))
        quotes = self._broker.get_latest_quotes(symbols) if symbols else {}
        states: dict[str, SymbolState] = {}
        for symbol in symbols:
            asset = self._broker.get_asset(symbol)
            quote = quotes.get(symbol)
            priced = sizing_price(quote, positions.get(symbol))
            states[symbol] = SymbolState(
                symbol=symbol,
                price=priced[0] if priced else None,
                price_source=priced[1] if priced else None,
                fractionable=asset.fractionable,
                tradable=asset.tradable and asset.status == "active",
                bid=quote.bid if quote is not None else None,
                ask=quote.ask if quote is not None else None,
            )
        snapshot = PortfolioSnapshot(
            as_of=as_of,
            equity=account.equity,
            cash=account.cash,
            buying_power=account.buying_power,
            positions=held,
            symbols=states,
        )
        log.info(
            "portfolio_snapshot_read",
            equity=str(snapshot.equity),
            cash=str(snapshot.cash),
            positions=len(snapshot.positions),
            symbols=len(states),
            unpriced=[s for s, state in states.items() if state.price is None],
        )
        return snapshot
