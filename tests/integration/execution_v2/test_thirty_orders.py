"""A 30-order plan, made by the real planner from three strategies' signals and the paper broker's account,
executed through the Lambda handler against the local paper broker (real alpaca-py over HTTP) and
DynamoDB Local, with the local stack's wait clock (waiting advances the broker's simulated clock and ticks
its market, so limit orders inside the spread fill by chance as they would).

One run per module; the tests check: it completes (every order filled, positions as planned), sells are
terminal before the first buy, no limit price crosses the touch, the request budget holds in every
simulated minute, every order is in the ledger, and each strategy's share reaches the ledger's items and
its by-strategy index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import boto3
import pytest

from tests.fixtures.aws import REGION, unique_name
from tests.fixtures.sim_broker import (
    FIXTURE_RATE_LIMIT,
    SIM_API_KEY,
    SIM_CLOCK_START,
    SIM_SECRET_KEY,
    fast_retry,
)
from tests.support.execution_v2.sim_support import (
    RecordingBroker,
    holdings,
    market_buy,
    rebalance_planned,
    run_handler,
)
from tests.support.execution_v2.thirty_orders import HELD, PRICES, SYMBOLS
from tests.support.portfolio_v2.builders import portfolio, signal
from the_alchemiser.execution_v2.clock import SimulatedMarketWaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.local.dynamodb_local import DynamoDBLocal
from the_alchemiser.local.sim_broker import DictPriceSource, start_sim_broker
from the_alchemiser.portfolio_v2.core.planner import UNATTRIBUTED, PlannerConfig, RebalancePlanner
from the_alchemiser.portfolio_v2.core.state_reader import PortfolioStateReader
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import Order, OrderSide, OrderType
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.events import InMemoryPublisher, TradeExecuted, WorkflowCompleted
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
from the_alchemiser.shared.ledger.models import LedgerOrder
from the_alchemiser.shared.schemas import (
    ConsolidatedPortfolio,
    ExecutionStatus,
    OrderOutcome,
    RebalancePlan,
    TradeAction,
)

pytestmark = pytest.mark.dynamodb_local
D = Decimal
CORRELATION_ID = "thirty-orders"
ALPACA_REQUESTS_PER_MINUTE = 200

# tests/support/execution_v2/thirty_orders.py's 30 symbols: the first ten are held ($8,000 each); five of
# those no strategy wants (full liquidation), five are wanted at less (partial sells); twenty are new (buys).
# XLK is wanted by two strategies.


def strategies() -> ConsolidatedPortfolio:
    a = {s: "0.1" for s in SYMBOLS[5:15]}
    b = {s: "0.1" for s in SYMBOLS[15:25]}
    c = {s: "0.18" for s in SYMBOLS[25:30]} | {"XLK": "0.1"}
    return portfolio(signal("a.clj", "0.5", a), signal("b.clj", "0.3", b), signal("c.clj", "0.2", c))


@dataclass(frozen=True)
class Run:
    plan: RebalancePlan
    portfolio: ConsolidatedPortfolio
    before: dict[str, Decimal]
    after: dict[str, Decimal]
    orders: list[Order]
    ledger: DynamoTradeLedger
    publisher: InMemoryPublisher
    recorder: RecordingBroker

    @property
    def traded(self) -> TradeExecuted:
        [event] = self.publisher.of_type(TradeExecuted)
        assert isinstance(event, TradeExecuted)
        return event

    def ledger_orders(self) -> list[LedgerOrder]:
        return self.ledger.orders_for_correlation(CORRELATION_ID)


@pytest.fixture(scope="module")
def run(dynamodb_local: DynamoDBLocal, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb_local.endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    name = unique_name("exec-thirty")
    create_ledger_table(client, name)
    ledger = DynamoTradeLedger(client, name)
    handle = start_sim_broker(
        tmp_path_factory.mktemp("thirty") / "sim.sqlite",
        price_source=DictPriceSource(PRICES),
        clock_start=SIM_CLOCK_START,
        rate_limit_per_minute=FIXTURE_RATE_LIMIT,
        api_key=SIM_API_KEY,
        secret_key=SIM_SECRET_KEY,
    )
    try:
        broker = AlpacaBroker(
            SIM_API_KEY,
            SIM_SECRET_KEY,
            paper=True,
            base_url=handle.base_url,
            data_url=handle.base_url,
            retry=fast_retry(),
        )
        # a slow market: limit orders inside the spread rarely fill, so some walks go to the far touch
        handle.set_fill_behaviour(inside_fill_probability=0.1)
        for symbol in HELD:
            market_buy(broker, symbol, (D(8000) / PRICES[symbol]).quantize(D("0.001")), f"setup-{symbol}")
        before, _ = holdings(broker)

        pf = strategies()
        snapshot = PortfolioStateReader(broker, FixedClock(handle.now())).read(pf.target_weights)
        plan = RebalancePlanner(PlannerConfig(deployment_fraction=D("0.97"))).plan(
            pf, snapshot, correlation_id=CORRELATION_ID
        )
        clock = SimulatedMarketWaitClock(handle.base_url)
        recorder = RecordingBroker(broker, clock)
        publisher = InMemoryPublisher()
        service = ExecutionService(recorder, ledger, publisher, clock=clock, config=ExecutionConfig())  # type: ignore[arg-type]
        response = run_handler(service, rebalance_planned(plan, pf))
        assert response == {"batchItemFailures": []}
        after, _ = holdings(broker)
        orders = [o for o in broker.list_orders(status="all") if o.client_order_id.startswith("alc-")]
        yield Run(plan, pf, before, after, orders, ledger, publisher, recorder)
    finally:
        handle.stop()


def test_the_plan_has_thirty_orders(run: Run) -> None:
    trades = run.plan.trades
    assert len(trades) == 30
    sells = [i for i in trades if i.action == TradeAction.SELL]
    assert {i.symbol for i in sells} == set(HELD)
    assert {i.symbol for i in sells if i.full_liquidation} == set(HELD[:5])
    assert len([i for i in trades if i.action == TradeAction.BUY]) == 20


def test_a_thirty_order_plan_completes(run: Run) -> None:
    result = run.traded.execution_data
    assert result.status == ExecutionStatus.SUCCESS, [(o.symbol, o.error) for o in result.orders]
    assert len(result.orders) == 30 and result.orders_succeeded == 30
    assert {o.outcome for o in result.orders} == {OrderOutcome.FILLED}
    completed = run.publisher.events[-1]
    assert isinstance(completed, WorkflowCompleted) and completed.success
    assert [e.event_type for e in run.publisher.events] == ["TradeExecuted", "WorkflowCompleted"]

    by_symbol = {o.symbol: o for o in result.orders}
    for item in run.plan.trades:
        done = by_symbol[item.symbol]
        if item.full_liquidation:
            assert item.symbol not in run.after  # the whole (fractional) position went
            assert done.filled_qty == run.before[item.symbol]
        elif item.action == TradeAction.SELL:
            assert item.quantity is not None and done.filled_qty == item.quantity
            assert run.after[item.symbol] == run.before[item.symbol] - item.quantity
        else:
            assert done.requested_qty is not None and done.filled_qty == done.requested_qty
            assert run.after[item.symbol] == done.filled_qty
            assert abs(done.filled_value - item.trade_value) < D("0.01") * item.trade_value  # sized as planned

    # the walk really walked: some orders filled at a limit step, some needed more than one step
    assert max(o.steps for o in result.orders) > 1
    assert any(o.type == OrderType.LIMIT and o.filled_qty > 0 for o in run.orders)


def test_sells_are_terminal_before_the_first_buy(run: Run) -> None:
    sells = [o for o in run.orders if o.side == OrderSide.SELL]
    buys = [o for o in run.orders if o.side == OrderSide.BUY]
    assert sells and buys and all(o.is_terminal for o in run.orders)
    last_sell = max(o.filled_at or o.canceled_at or o.updated_at or o.created_at for o in sells)
    assert last_sell <= min(o.created_at for o in buys)


def test_no_limit_price_crosses_the_touch_and_fills_are_within_it(run: Run) -> None:
    ledgered = {o.client_order_id: o for o in run.ledger_orders()}
    for order in run.orders:
        placed = ledgered[order.client_order_id]
        assert placed.bid_at_placement is not None and placed.ask_at_placement is not None
        if order.type == OrderType.LIMIT:
            assert order.limit_price is not None
            if order.side == OrderSide.BUY:
                assert order.limit_price <= placed.ask_at_placement
            else:
                assert order.limit_price >= placed.bid_at_placement
        if order.filled_avg_price is not None:
            assert placed.bid_at_placement <= order.filled_avg_price <= placed.ask_at_placement


def test_the_request_budget_holds_in_every_minute(run: Run) -> None:
    calls = len(run.recorder.calls)
    assert calls > 150  # a real load for the budget: 30 walks, each polled
    # the trading API's budget (the market-data API has its own, with its own bucket)
    trading = {name for _, name in run.recorder.calls} - {"get_latest_quotes"}
    assert run.recorder.busiest_minute(trading) <= ALPACA_REQUESTS_PER_MINUTE
    assert run.recorder.busiest_minute({"get_latest_quotes"}) <= ALPACA_REQUESTS_PER_MINUTE


def test_every_order_is_in_the_ledger_with_its_final_fills(run: Run) -> None:
    ledgered = {o.client_order_id: o for o in run.ledger_orders()}
    assert set(ledgered) == {o.client_order_id for o in run.orders}
    for order in run.orders:
        entry = ledgered[order.client_order_id]
        assert (entry.symbol, entry.side, entry.status) == (order.symbol, order.side.value, order.status.value)
        assert (entry.filled_qty, entry.avg_fill_price) == (order.filled_qty, order.filled_avg_price)
        assert entry.broker_order_id == order.id and entry.plan_id == run.plan.plan_id
    assert {o.symbol for o in ledgered.values()} == set(SYMBOLS)
    assert [o.client_order_id for o in run.ledger.orders_for_symbol("XLK")] != []


def test_each_strategys_share_reaches_the_ledger_and_its_index(run: Run) -> None:
    """Which strategy wants which symbol, from the signals all the way to the trade ledger."""
    wanted = {item.symbol: item.strategy_attribution for item in run.plan.trades}
    assert wanted["XLK"] == run.portfolio.attribution("XLK") and set(wanted["XLK"]) == {"a.clj", "c.clj"}
    assert all(wanted[s] == {UNATTRIBUTED: D(1)} for s in HELD[:5])  # wanted by nobody
    assert {o.symbol: o.strategy_attribution for o in run.traded.execution_data.orders} == wanted

    ledgered = run.ledger_orders()
    for order in ledgered:
        assert order.strategy_attribution == wanted[order.symbol]
    for strategy in ("a.clj", "b.clj", "c.clj", UNATTRIBUTED):
        indexed = [o for o in run.ledger.orders_for_strategy(strategy) if o.correlation_id == CORRELATION_ID]
        expected = {o.client_order_id for o in ledgered if strategy in o.strategy_attribution}
        assert {o.client_order_id for o in indexed} == expected and expected, strategy
        assert {o.symbol for o in indexed} == {s for s, share in wanted.items() if strategy in share}
    xlk_a = {o.symbol: o for o in run.ledger.orders_for_strategy("a.clj")}["XLK"]
    assert xlk_a.strategy_attribution["a.clj"] == D("0.05") / (D("0.05") + D("0.02"))
