"""How fast the local paper broker answers the real adapter (alpaca-py over HTTP): prints figures, asserts nothing.

uv run python benchmarks/sim_broker.py [--orders 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from the_alchemiser.local.sim_broker import DictPriceSource, start_sim_broker
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import OrderRequest, OrderSide, OrderType
from the_alchemiser.shared.broker.retry import RetryPolicy
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.logging import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_sim_broker(
            Path(tmp) / "bench.sqlite",
            price_source=DictPriceSource({"SPY": "500", "TLT": "92"}),
            clock_start=datetime(2024, 6, 12, 10, 30, tzinfo=NEW_YORK),
            initial_cash=Decimal(10_000_000),
            rate_limit_per_minute=1_000_000,
        )
        broker = AlpacaBroker("k", "s", base_url=handle.base_url, retry=RetryPolicy.fast())
        try:
            broker.get_account()  # warm the connection
            started = time.perf_counter()
            for _ in range(args.orders):
                broker.get_account()
            reads = time.perf_counter() - started

            started = time.perf_counter()
            for n in range(args.orders):
                broker.place_order(
                    OrderRequest(
                        symbol="TLT",
                        side=OrderSide.BUY,
                        type=OrderType.LIMIT,
                        qty=Decimal(1),
                        limit_price=Decimal("80.00"),
                        client_order_id=f"bench-{n}",
                    )
                )
            places = time.perf_counter() - started

            started = time.perf_counter()
            listed = broker.list_orders(status="open")
            listing = time.perf_counter() - started

            started = time.perf_counter()
            handle.advance(60)
            tick = time.perf_counter() - started
        finally:
            handle.stop()
    print(
        f"GET /v2/account:            {args.orders / reads:8.0f} requests/s ({reads / args.orders * 1000:.2f} ms each)"
    )
    each = places / args.orders * 1000
    rate = args.orders / places
    print(f"POST /v2/orders (resting):  {rate:8.0f} orders/s   ({each:.2f} ms each, up to {args.orders} open)")
    print(f"list {len(listed)} open orders:     {listing * 1000:8.1f} ms")
    print(f"one tick over them:         {tick * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
