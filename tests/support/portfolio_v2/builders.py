"""Small builders for portfolio tests: portfolios, snapshots and an in-memory broker."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from the_alchemiser.portfolio_v2.core.snapshot import HeldPosition, PortfolioSnapshot, PriceSource, SymbolState
from the_alchemiser.shared.broker.errors import NotFoundError
from the_alchemiser.shared.broker.models import Account, Asset, Position, Quote
from the_alchemiser.shared.events import SignalGenerated
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, StrategySignal

AS_OF = datetime(2026, 11, 24, 20, 30, tzinfo=UTC)  # 15:30 New York
D = Decimal


def signal(strategy: str, allocation: str, weights: dict[str, str], threshold: str | None = None) -> StrategySignal:
    return StrategySignal(
        strategy=strategy,
        strategy_name=strategy.removesuffix(".clj"),
        allocation=D(allocation),
        weights={s: D(w) for s, w in weights.items()},
        as_of=date(2026, 11, 23),
        rebalance_threshold=D(threshold) if threshold is not None else None,
    )


def portfolio(*signals: StrategySignal) -> ConsolidatedPortfolio:
    return ConsolidatedPortfolio.merge(list(signals))


def snapshot(
    *,
    cash: str,
    positions: dict[str, str] | None = None,
    prices: dict[str, str],
    fractionable: Sequence[str] | None = None,
    equity: str | None = None,
    buying_power: str | None = None,
    untradable: Sequence[str] = (),
) -> PortfolioSnapshot:
    """Positions as symbol -> qty; prices as symbol -> price; all symbols fractionable unless listed."""
    positions = positions or {}
    held = {
        s: HeldPosition(symbol=s, qty=D(q), market_value=D(q) * D(prices[s]), current_price=D(prices[s]))
        for s, q in positions.items()
    }
    total = D(cash) + sum((p.market_value for p in held.values()), D(0))
    frac = set(prices) if fractionable is None else set(fractionable)
    return PortfolioSnapshot(
        as_of=AS_OF,
        equity=D(equity) if equity is not None else total,
        cash=D(cash),
        buying_power=D(buying_power) if buying_power is not None else D(cash),
        positions=held,
        symbols={
            s: SymbolState(
                symbol=s,
                price=D(p),
                price_source=PriceSource.MIDPOINT,
                fractionable=s in frac,
                tradable=s not in untradable,
            )
            for s, p in prices.items()
        },
    )


class FakeBroker:
    """The read side of BrokerPort, in memory, for state-reader unit tests. Counts calls."""

    def __init__(
        self,
        *,
        account: Account,
        positions: list[Position],
        quotes: dict[str, Quote],
        assets: dict[str, Asset],
    ) -> None:
        self.account = account
        self.positions = positions
        self.quotes = quotes
        self.assets = assets
        self.quote_requests: list[list[str]] = []

    def get_account(self) -> Account:
        return self.account

    def get_positions(self) -> list[Position]:
        return list(self.positions)

    def get_position(self, symbol: str) -> Position | None:
        return next((p for p in self.positions if p.symbol == symbol), None)

    def get_asset(self, symbol: str) -> Asset:
        if symbol not in self.assets:
            raise NotFoundError(f"asset not found: {symbol}", status_code=404)
        return self.assets[symbol]

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        self.quote_requests.append(list(symbols))
        return {s: self.quotes[s] for s in symbols if s in self.quotes}


def signal_generated(
    portfolio: ConsolidatedPortfolio, correlation_id: str = "corr-1", event_id: str | None = None
) -> SignalGenerated:
    signals = [
        StrategySignal(
            strategy=strategy,
            strategy_name=strategy.removesuffix(".clj"),
            allocation=portfolio.strategy_allocations[strategy],
            weights={
                s: c / portfolio.strategy_allocations[strategy]
                for s, c in contributions.items()
                if portfolio.strategy_allocations[strategy] > 0
            },
            as_of=portfolio.as_of,
            rebalance_threshold=portfolio.rebalance_thresholds.get(strategy),
        )
        for strategy, contributions in portfolio.strategy_contributions.items()
    ]
    return SignalGenerated(
        **({"event_id": event_id} if event_id else {}),
        correlation_id=correlation_id,
        causation_id="partials",
        source_module="aggregator_v2",
        source_component="SignalAggregator",
        session_id=f"session-{correlation_id}",
        signals_data=signals,
        consolidated_portfolio=portfolio,
        signal_count=len(signals),
    )
