"""Execution fault table (issue 14): crash points x concurrency x redeliveries, filled vs planned.

Every row runs one plan (sell 6 QQQ of 9, buy 5 SPY, 3 GLD, 2.5 BIL) against a fresh local paper broker
(real alpaca-py over HTTP) with the ledger on DynamoDB Local. `concurrency` deliveries of the same message
start at the same moment, each reading a different market (normal, empty, one-sided, wide, crossed quotes);
each may die at the row's crash point (its broker and ledger calls fail from then on, as if the process
had gone): the one that owns the plan does, the others back off. Then, as SQS would, the message is
redelivered (each later than any lease a dead delivery can hold) until a delivery succeeds. The broker must
then hold exactly the planned quantities, with nothing left working; the script exits non-zero if any row
differs. "crashed" counts the deliveries that reached the crash point (an owner whose quotes made it place
fewer orders than the point never does). With the lease off, every delivery at once owns the plan: the
walk's sequence ids alone must keep them within it (never more than planned; concurrent owners can leave
an item short, which is why the lease is there).

    .venv/bin/python benchmarks/execution_faults.py            # the full table (~1-2 minutes)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the delivery harness lives with the tests it serves

D = Decimal
PRICES = {"SPY": D("500"), "QQQ": D("430"), "GLD": D("215"), "BIL": D("91.50")}
PLANNED = {("QQQ", "sell"): D(6), ("SPY", "buy"): D(5), ("GLD", "buy"): D(3), ("BIL", "buy"): D("2.5")}
QUOTES = ("normal", "empty", "one_sided_ask", "wide", "crossed")
CONCURRENCY = (1, 2, 5)


def crash_points() -> list[tuple[str, dict[str, Any]]]:
    points: list[tuple[str, dict[str, Any]]] = [("none", {})]
    points += [(f"after placement {k}", {"crash_after_placement": k}) for k in (1, 2, 3, 4, 6, 8, 10)]
    points += [
        ("intent recorded, order not sent", {"ledger_crash": ("intent", 2, "after")}),
        ("after an item finished", {"ledger_crash": ("item_done", 1, "after")}),
        ("after the buys were sized", {"ledger_crash": ("resolve_phase:buy", 1, "after")}),
        ("TradeExecuted sent, not noted", {"ledger_crash": ("mark_published:TradeExecuted", 1, "before")}),
        ("outcome sent, plan not closed", {"ledger_crash": ("mark_completed", 1, "before")}),
    ]
    return points


def main() -> int:
    from tests.support.execution_v2.concurrency_support import DeliveryPlan, NoLease, net_fills, run_concurrently
    from tests.support.execution_v2.plans import buy, planned, sell
    from tests.support.execution_v2.sim_support import market_buy
    from the_alchemiser.execution_v2.config import ExecutionConfig
    from the_alchemiser.local.dynamodb_local import start_dynamodb_local
    from the_alchemiser.local.sim_broker import DictPriceSource, start_sim_broker
    from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
    from the_alchemiser.shared.broker.retry import RetryPolicy
    from the_alchemiser.shared.calendar import NEW_YORK
    from the_alchemiser.shared.events import InMemoryPublisher
    from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger, create_ledger_table
    from the_alchemiser.shared.logging import configure_logging

    configure_logging("CRITICAL")
    config = ExecutionConfig(
        limit_step_fractions=(D(0), D(1)),
        step_wait_seconds=2,
        poll_interval_seconds=1,
        market_wait_seconds=2,
        cancel_wait_seconds=2,
        max_workers=4,
    )
    dynamodb = start_dynamodb_local(timeout=120)
    client = boto3.client(
        "dynamodb",
        endpoint_url=dynamodb.endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    table = f"faults-{os.getpid()}"
    create_ledger_table(client, table)
    ledger = DynamoTradeLedger(client, table)
    rows: list[tuple[str, str, int, str, int, int, str, str, str]] = []
    bad = 0
    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n, (point, crash, concurrency, lease) in enumerate(
                (p, c, k, lease) for lease in (True, False) for p, c in crash_points() for k in CONCURRENCY
            ):
                if not lease and concurrency == 1:
                    continue  # one delivery at once: nothing for a lease to do
                if True:
                    handle = start_sim_broker(
                        Path(tmp) / f"{n}-{concurrency}.sqlite",
                        price_source=DictPriceSource(PRICES),
                        rate_limit_per_minute=100_000,
                        api_key="k",
                        secret_key="s",
                    )
                    try:
                        broker = AlpacaBroker(
                            "k", "s", paper=True, base_url=handle.base_url, data_url=handle.base_url,
                            retry=RetryPolicy.fast(4),
                        )  # fmt: skip
                        market_buy(broker, "QQQ", "9", "setup-qqq")
                        handle.set_fill_behaviour(inside_fill_probability=0.3, displayed_size=4, seed=n)
                        items = [
                            sell("QQQ", "6", "430", held="9"),
                            buy("SPY", "5", "500"),
                            buy("GLD", "3", "215"),
                            buy("BIL", "2.5", "91.50"),
                        ]
                        event = planned(
                            items,
                            correlation_id=f"faults-{n}-{concurrency}",
                            trading_date=handle.now().astimezone(NEW_YORK).date(),
                        )
                        # every delivery at once may die at the point: whichever owns the plan does
                        plans = [DeliveryPlan(quotes=QUOTES[i % len(QUOTES)], **crash) for i in range(concurrency)]
                        owned: Any = ledger if lease else NoLease(ledger)
                        outcome = run_concurrently(broker, owned, InMemoryPublisher(), config, event, plans)
                        fills = net_fills(broker, lambda coid: coid.startswith("alc-"))
                        orders = [o for o in broker.list_orders(status="all") if o.client_order_id.startswith("alc-")]
                        working = [o for o in orders if not o.is_terminal]
                        ids = [o.client_order_id for o in orders]
                        finished = not outcome.responses[-1]["batchItemFailures"]
                        exact = fills == PLANNED and not working and len(ids) == len(set(ids)) and finished
                        within = all(fills.get(k, D(0)) <= q for k, q in PLANNED.items()) and not working
                        # with the lease: exactly the plan; without it, never more than the plan
                        bad += not (exact if lease else within)
                        filled_total = sum(fills.values(), D(0))
                        rows.append(
                            (
                                point,
                                "on" if lease else "off",
                                concurrency,
                                str(len(outcome.crashes)) if crash else "-",
                                outcome.deliveries - concurrency,
                                len(orders),
                                f"{filled_total.normalize()} / {sum(PLANNED.values()).normalize()}",
                                "0" if not working else str(len(working)),
                                "yes" if exact else ("under (never over)" if within and not lease else "NO"),
                            )
                        )
                    finally:
                        handle.stop()
    finally:
        dynamodb.stop()
    header = ("crash point", "lease", "deliveries at once", "crashed", "redeliveries", "orders", "filled / planned",
              "left working", "exact")  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print(f"\n{len(rows)} rows, {bad} not exact, {time.perf_counter() - started:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
