"""The snapshot reader and planner against the local paper broker through the real alpaca-py adapter.

The liquidation a plan asks for is placed on the broker: selling the plan's quantity closes the
fractional position exactly (no "insufficient qty", nothing left over)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tests.support.portfolio_v2.builders import portfolio, signal, signal_generated
from the_alchemiser.portfolio_v2.core.planner import RebalancePlanner
from the_alchemiser.portfolio_v2.core.snapshot import PriceSource
from the_alchemiser.portfolio_v2.core.state_reader import PortfolioStateReader
from the_alchemiser.portfolio_v2.service import PortfolioService
from the_alchemiser.shared.broker.models import Order, OrderRequest, OrderSide, OrderType
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.events import InMemoryPublisher, RebalancePlanned
from the_alchemiser.shared.schemas import TradeAction

D = Decimal


def fill(sim: Any, broker: Any, request: OrderRequest) -> Order:
    order = broker.place_order(request)
    for _ in range(20):
        if order.is_terminal:
            break
        sim.tick()
        order = broker.get_order(order.id)
    assert order.status == "filled", order
    return order


def market(symbol: str, side: OrderSide, qty: Decimal, client_order_id: str) -> OrderRequest:
    return OrderRequest(symbol=symbol, side=side, type=OrderType.MARKET, qty=qty, client_order_id=client_order_id)


def test_fractional_liquidation_planned_from_the_broker_closes_the_position(
    sim_broker_factory: Callable[..., Any], alpaca_broker_factory: Callable[..., Any]
) -> None:
    sim = sim_broker_factory(non_fractionable=["GLD"])
    broker = alpaca_broker_factory(sim)
    fill(sim, broker, market("TQQQ", OrderSide.BUY, D("3.141592653"), "setup-tqqq"))
    fill(sim, broker, market("GLD", OrderSide.BUY, D(2), "setup-gld"))
    held = broker.get_position("TQQQ")
    assert held is not None and held.qty == D("3.141592653")

    snap = PortfolioStateReader(broker, FixedClock(sim.now())).read(["SPY", "GLD"])
    assert snap.positions["TQQQ"].qty == held.qty
    assert snap.symbols["GLD"].fractionable is False and snap.symbols["SPY"].fractionable is True
    assert all(s.price_source == PriceSource.MIDPOINT for s in snap.symbols.values())
    assert snap.symbols["SPY"].bid is not None and snap.symbols["SPY"].bid < snap.symbols["SPY"].price  # type: ignore[operator]

    pf = portfolio(signal("a.clj", "0.6", {"SPY": "1"}), signal("b.clj", "0.4", {"GLD": "1"}))
    plan = RebalancePlanner().plan(pf, snap, correlation_id="corr-paper")
    tqqq = plan.item("TQQQ")
    assert (tqqq.action, tqqq.full_liquidation, tqqq.quantity) == (TradeAction.SELL, True, held.qty)
    gld = plan.item("GLD")
    assert gld.action == TradeAction.BUY and gld.quantity == gld.quantity.to_integral_value()  # type: ignore[union-attr]
    assert plan.total_buy_value <= snap.spendable_cash + plan.total_sell_value

    assert tqqq.quantity is not None
    fill(sim, broker, market("TQQQ", OrderSide.SELL, tqqq.quantity, "liquidate-tqqq"))
    assert broker.get_position("TQQQ") is None


def test_service_plans_from_the_paper_broker(sim_broker: Any, alpaca_broker: Any) -> None:
    publisher = InMemoryPublisher()
    service = PortfolioService(lambda: alpaca_broker, publisher, clock=FixedClock(sim_broker.now()))
    pf = portfolio(signal("a.clj", "0.5", {"SPY": "0.5", "TLT": "0.5"}), signal("b.clj", "0.5", {"BIL": "1"}))
    outcome = service.plan_and_publish(signal_generated(pf, "corr-paper-service"))
    assert outcome.status == "planned" and outcome.trade_count == 3
    [event] = publisher.events
    assert isinstance(event, RebalancePlanned)
    plan = event.rebalance_plan
    assert plan.equity == D(100_000)
    assert plan.total_buy_value <= plan.cash
    assert plan.total_buy_value > D(99_000)  # fractional buys invest nearly everything
    assert {i.symbol: i.strategy_attribution for i in plan.items}["SPY"] == {"a.clj": D(1)}
