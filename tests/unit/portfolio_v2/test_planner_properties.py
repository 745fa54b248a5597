"""Property tests: invariants of every plan over random portfolios and accounts."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.portfolio_v2.builders import AS_OF, signal
from the_alchemiser.portfolio_v2.core.planner import UNATTRIBUTED, PlannerConfig, RebalancePlanner
from the_alchemiser.portfolio_v2.core.snapshot import HeldPosition, PortfolioSnapshot, PriceSource, SymbolState
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, StrategySignal, TradeAction

SYMBOLS = ["SPY", "QQQ", "TLT", "GLD", "TQQQ", "UVXY", "BRK/B", "SOXL"]
D = Decimal

prices = st.decimals(min_value=D("0.5"), max_value=D("2500"), places=4)
quantities = st.decimals(min_value=D("0.000000001"), max_value=D("500"), places=9)
money = st.decimals(min_value=D(0), max_value=D("200000"), places=2)


@st.composite
def strategy_signals(draw: st.DrawFn) -> list[StrategySignal]:
    count = draw(st.integers(1, 3))
    shares = draw(st.lists(st.integers(1, 10), min_size=count, max_size=count))
    signals = []
    for n, share in enumerate(shares):
        allocation = D(share) / D(sum(shares)) if n < count - 1 else None
        if allocation is None:
            allocation = D(1) - sum((s.allocation for s in signals), D(0))
        chosen = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=4, unique=True))
        raw = draw(st.lists(st.integers(1, 9), min_size=len(chosen), max_size=len(chosen)))
        weights = {sym: str(D(k) / D(sum(raw))) for sym, k in zip(chosen, raw, strict=True)}
        if weights:  # the last weight makes them sum to exactly 1
            last = chosen[-1]
            weights[last] = str(D(1) - sum((D(w) for s, w in weights.items() if s != last), D(0)))
        threshold = draw(st.one_of(st.none(), st.sampled_from(["0.02", "0.05", "0.2"])))
        signals.append(signal(f"s{n}.clj", str(allocation), weights, threshold))
    return signals


@st.composite
def accounts(draw: st.DrawFn, targeted: set[str]) -> PortfolioSnapshot:
    held_symbols = draw(st.lists(st.sampled_from(SYMBOLS), max_size=5, unique=True))
    price = {s: draw(prices) for s in set(held_symbols) | targeted}
    positions = {}
    for s in held_symbols:
        qty = draw(quantities)
        positions[s] = HeldPosition(symbol=s, qty=qty, market_value=qty * price[s], current_price=price[s])
    cash = draw(money)
    holdings = sum((p.market_value for p in positions.values()), D(0))
    # equity may disagree a little with cash + holdings (prices moved, unsettled cash)
    equity = max(D("1"), cash + holdings + draw(st.decimals(min_value=D(-50), max_value=D(50), places=2)))
    buying_power = draw(st.one_of(st.just(cash), st.just(cash * 2), money))
    return PortfolioSnapshot(
        as_of=AS_OF,
        equity=equity,
        cash=cash,
        buying_power=buying_power,
        positions=positions,
        symbols={
            s: SymbolState(
                symbol=s,
                price=p,
                price_source=PriceSource.MIDPOINT,
                fractionable=draw(st.booleans()),
            )
            for s, p in price.items()
        },
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[ConsolidatedPortfolio, PortfolioSnapshot, PlannerConfig]:
    portfolio = ConsolidatedPortfolio.merge(draw(strategy_signals()))
    targeted = {s for s, w in portfolio.target_weights.items() if w > 0}
    snapshot = draw(accounts(targeted))
    config = PlannerConfig(
        deployment_fraction=draw(st.sampled_from([D(1), D("0.95"), D("0.5")])),
        cash_buffer=draw(st.sampled_from([D(0), D(25), D(1000)])),
        min_trade_value=draw(st.sampled_from([D(0), D(1), D(5)])),
        use_corridors=draw(st.booleans()),
    )
    return portfolio, snapshot, config


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_plan_invariants(case: tuple[ConsolidatedPortfolio, PortfolioSnapshot, PlannerConfig]) -> None:
    portfolio, snapshot, config = case
    plan = RebalancePlanner(config).plan(portfolio, snapshot, correlation_id="prop")

    # buys never exceed cash after sells (minus the buffer); never margin
    available = snapshot.spendable_cash + plan.total_sell_value - config.cash_buffer
    assert plan.total_buy_value <= max(D(0), available)

    targeted = {s for s, w in portfolio.target_weights.items() if w > 0}
    assert sorted(i.symbol for i in plan.items) == sorted(targeted | set(snapshot.positions))
    for item in plan.items:
        held = snapshot.held_qty(item.symbol)
        # attribution on every item, summing to 1
        assert item.strategy_attribution
        assert abs(sum(item.strategy_attribution.values(), D(0)) - 1) < D("1e-12")
        if item.symbol not in targeted:
            assert item.action == TradeAction.SELL and item.full_liquidation
            assert item.quantity == held  # exact, never rounded
            assert item.strategy_attribution == {UNATTRIBUTED: D(1)}
            continue
        assert not item.full_liquidation
        if item.action == TradeAction.HOLD:
            assert item.quantity is None and item.trade_value == 0 and item.reason
            continue
        assert item.quantity is not None and item.quantity > 0
        assert abs(item.trade_value) >= config.min_trade_value
        assert item.trade_value == (item.quantity if item.action == TradeAction.BUY else -item.quantity) * item.price
        if item.fractionable:
            assert item.quantity == item.quantity.quantize(D("0.000000001"))
        else:
            assert item.quantity == item.quantity.to_integral_value()
        if item.action == TradeAction.SELL:
            assert item.quantity <= held
            assert -item.trade_value <= item.current_value - item.target_value  # never below target
        else:
            assert item.trade_value <= item.target_value - item.current_value  # never above target
    assert plan.estimated_cash_after == snapshot.cash + plan.total_sell_value - plan.total_buy_value
