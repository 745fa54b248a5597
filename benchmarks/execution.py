"""Execution benchmark (`make bench`): a 30-order plan against the local paper broker (real alpaca-py over
HTTP) with the trade ledger on DynamoDB Local, walked through the book versus sent as plain market orders.

Both runs start from the same account, the same quotes (fixed reference prices, a 10 bps spread) and the
same market seed, under the same correlation id (so the same client_order_ids and the same fill luck).
The plan is made by the real planner: 10 sells (5 full liquidations) first, then 20 buys.

Time: the execution service waits on the local stack's wait clock, so waiting advances the broker's
simulated clock and ticks its market instead of sleeping. The figures are
- wall time: everything but the deliberate waits (HTTP to the broker, DynamoDB writes, our own code);
- simulated waiting: how far the broker's simulated clock moved during the run, i.e. the deliberate waits
  (limit orders resting, polls, the request budget); concurrent workers' waits overlap as in real time;
- price: each order's average fill price against the midpoint of the quote at its placement, in basis
  points (positive = worse than the midpoint), weighted by filled value."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import boto3

from the_alchemiser.execution_v2.clock import SimulatedMarketWaitClock
from the_alchemiser.execution_v2.config import ExecutionConfig
from the_alchemiser.execution_v2.service import ExecutionService
from the_alchemiser.local.dynamodb_local import start_dynamodb_local
from the_alchemiser.local.sim_broker import DictPriceSource, start_sim_broker
from the_alchemiser.portfolio_v2.core.planner import PlannerConfig, RebalancePlanner
from the_alchemiser.portfolio_v2.core.state_reader import PortfolioStateReader
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import OrderRequest, OrderSide, OrderType, TimeInForce
from the_alchemiser.shared.broker.retry import RetryPolicy
from the_alchemiser.shared.calendar import NEW_YORK, FixedClock
from the_alchemiser.shared.events import InMemoryPublisher, RebalancePlanned, TradeExecuted
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.schemas import ConsolidatedPortfolio, OrderResult, StrategySignal

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the 30-order market lives with the test that checks the same plan
from tests.support.execution_v2.thirty_orders import PRICES, SYMBOLS  # noqa: E402

D = Decimal
KEY, SECRET = "bench-key", "bench-secret"
CORRELATION_ID = "bench-execution"
SEED = 7
CLOCK_START = datetime(2024, 6, 12, 10, 30, tzinfo=NEW_YORK)  # a Wednesday, open
WALK = ExecutionConfig()
MARKET_ONLY = ExecutionConfig(limit_step_fractions=())


def portfolio() -> ConsolidatedPortfolio:
    def signal(name: str, allocation: str, weights: dict[str, str]) -> StrategySignal:
        return StrategySignal(
            strategy=name,
            strategy_name=name.removesuffix(".clj"),
            allocation=D(allocation),
            weights={s: D(w) for s, w in weights.items()},
            as_of=CLOCK_START.date(),
        )

    return ConsolidatedPortfolio.merge(
        [
            signal("a.clj", "0.5", {s: "0.1" for s in SYMBOLS[5:15]}),
            signal("b.clj", "0.3", {s: "0.1" for s in SYMBOLS[15:25]}),
            signal("c.clj", "0.2", {s: "0.18" for s in SYMBOLS[25:30]} | {"XLK": "0.1"}),
        ]
    )


@dataclass(frozen=True)
class Figures:
    name: str
    wall_seconds: float
    simulated_seconds: float
    orders: list[OrderResult]
    broker_orders: int
    requests: int
    status: str

    def bps(self, side: str | None = None) -> Decimal:
        chosen = [o for o in self.orders if o.slippage_bps is not None and (side is None or o.side == side)]
        value = sum((o.filled_value for o in chosen), D(0))
        if value == 0:
            return D(0)
        weighted = sum((o.slippage_bps * o.filled_value for o in chosen if o.slippage_bps is not None), D(0))
        return (weighted / value).quantize(D("0.01"))

    @property
    def cost_dollars(self) -> Decimal:
        """What the fills cost against the midpoints, in dollars."""
        total = D(0)
        for o in self.orders:
            if o.slippage_bps is not None:
                total += o.slippage_bps / D(10000) * o.filled_value
        return total.quantize(D("0.01"))


def run(
    name: str, config: ExecutionConfig, dynamodb: object, workdir: Path, inside_fill_probability: float = 0.6
) -> Figures:
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb.endpoint,  # type: ignore[attr-defined]
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    table = f"bench-ledger-{name}-{os.getpid()}"
    create_ledger_table(client, table)
    handle = start_sim_broker(
        workdir / f"{name}.sqlite",
        price_source=DictPriceSource(PRICES),
        clock_start=CLOCK_START,
        rate_limit_per_minute=100_000,  # the service keeps its own budget; the broker's is per real minute
        api_key=KEY,
        secret_key=SECRET,
    )
    try:
        handle.set_fill_behaviour(seed=SEED, inside_fill_probability=inside_fill_probability)
        broker = AlpacaBroker(
            KEY,
            SECRET,
            paper=True,
            base_url=handle.base_url,
            data_url=handle.base_url,
            retry=RetryPolicy.fast(4),
        )
        for symbol in SYMBOLS[:10]:
            broker.place_order(
                OrderRequest(
                    symbol=symbol,
                    side=OrderSide.BUY,
                    type=OrderType.MARKET,
                    time_in_force=TimeInForce.DAY,
                    qty=(D(8000) / PRICES[symbol]).quantize(D("0.001")),
                    client_order_id=f"setup-{symbol}",
                )
            )
        pf = portfolio()
        snapshot = PortfolioStateReader(broker, FixedClock(handle.now())).read(pf.target_weights)
        plan = RebalancePlanner(PlannerConfig(deployment_fraction=D("0.97"))).plan(
            pf, snapshot, correlation_id=CORRELATION_ID
        )
        assert len(plan.trades) == 30, len(plan.trades)
        event = RebalancePlanned(
            correlation_id=CORRELATION_ID,
            causation_id="bench",
            source_module="portfolio_v2",
            source_component="benchmark",
            rebalance_plan=plan,
            allocation_comparison={},
            trades_required=True,
            consolidated_portfolio=pf,
        )
        publisher = InMemoryPublisher()
        ledger = DynamoTradeLedger(client, table)
        service = ExecutionService(
            broker, ledger, publisher, clock=SimulatedMarketWaitClock(handle.base_url), config=config
        )
        requests_before = len(handle.requests())
        sim_started = handle.now()
        started = time.perf_counter()
        service.execute(event)
        wall = time.perf_counter() - started
        simulated = (handle.now() - sim_started).total_seconds()
        [traded] = publisher.of_type(TradeExecuted)
        assert isinstance(traded, TradeExecuted)
        orders = traded.execution_data.orders
        placed = [o for o in handle.all_orders() if str(o["client_order_id"]).startswith("alc-")]
        return Figures(
            name=name,
            wall_seconds=wall,
            simulated_seconds=simulated,
            orders=orders,
            broker_orders=len(placed),
            requests=len(handle.requests()) - requests_before,
            status=traded.execution_data.status.value,
        )
    finally:
        handle.stop()


def main() -> int:
    configure_logging("WARNING")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load:.2f} on {os.cpu_count()} CPUs")
    started = time.perf_counter()
    dynamodb = start_dynamodb_local(timeout=120)
    print(f"DynamoDB Local up in {time.perf_counter() - started:.1f} s (not counted)")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = [
                run("walk-the-book", WALK, dynamodb, Path(tmp)),
                run("market-orders", MARKET_ONLY, dynamodb, Path(tmp)),
                run("walk-thin-mkt", WALK, dynamodb, Path(tmp), inside_fill_probability=0.1),
            ]
    finally:
        dynamodb.stop()
    print(f"30-order plan (10 sells, then 20 buys), 10 bps spread, seed {SEED}; thin-mkt: inside fills 1/6 as likely")
    header = (
        f"{'':15} {'status':8} {'wall s':>7} {'sim s':>7} {'orders':>6} {'reqs':>5} "
        f"{'bps all':>8} {'bps buy':>8} {'bps sell':>8} {'cost $':>8} {'filled $':>10}"
    )
    print(header)
    for f in results:
        filled = sum((o.filled_value for o in f.orders), D(0)).quantize(D("0.01"))
        print(
            f"{f.name:15} {f.status:8} {f.wall_seconds:7.2f} {f.simulated_seconds:7.0f} {f.broker_orders:6d} "
            f"{f.requests:5d} {f.bps():8} {f.bps('buy'):8} {f.bps('sell'):8} {f.cost_dollars:8} {filled:10}"
        )
    market = results[1]
    for walk in (results[0], results[2]):
        steps = [o.steps for o in walk.orders]
        print(
            f"{walk.name}: {sum(1 for s in steps if s == 1)} of {len(steps)} filled at the midpoint step, "
            f"max {max(steps)} steps; saves {market.bps() - walk.bps()} bps "
            f"(${market.cost_dollars - walk.cost_dollars}) against market orders; "
            f"estimated real duration (wall + simulated waits) {walk.wall_seconds + walk.simulated_seconds:.0f} s"
        )
    print(f"market-orders: estimated real duration {market.wall_seconds + market.simulated_seconds:.0f} s")
    print(f"ExecutionFunction timeout in template.yaml: {_execution_timeout()} s")
    return 0


def _execution_timeout() -> int:
    from the_alchemiser.local.template import load_template

    template = load_template(Path(__file__).resolve().parents[1] / "template.yaml")
    function = template["Resources"]["ExecutionFunction"]["Properties"]
    return int(function.get("Timeout") or template.get("Globals", {}).get("Function", {}).get("Timeout", 3))


if __name__ == "__main__":
    sys.exit(main())
