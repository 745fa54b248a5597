"""`sim-broker`: serve the local Alpaca-compatible paper broker until interrupted."""

from __future__ import annotations

import argparse
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

NAME = "sim-broker"
HELP = "serve the local Alpaca-compatible paper broker (trading and data API at one base URL) on 127.0.0.1"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--state", type=Path, default=Path(".sim-broker/state.sqlite"), help="SQLite state file (kept across restarts)"
    )
    parser.add_argument("--cash", type=Decimal, default=Decimal(100_000), help="starting cash of a new state file")
    parser.add_argument(
        "--clock", type=datetime.fromisoformat, default=None, help="simulated start time, ISO with offset (new files)"
    )
    parser.add_argument("--rate-limit", type=int, default=200, help="requests per minute before 429")
    parser.add_argument("--spread-bps", type=Decimal, default=Decimal(10), help="quoted spread in basis points")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic market and of fills")
    parser.add_argument("--market-end", type=date.fromisoformat, default=None, help="last day of synthetic bars")


def run(args: argparse.Namespace) -> int:
    import signal
    import threading

    from the_alchemiser.local.sim_broker import FillBehaviour, default_clock_start, start_sim_broker
    from the_alchemiser.local.sim_broker.prices import default_price_source
    from the_alchemiser.shared.calendar import NEW_YORK

    start = args.clock or default_clock_start()
    if start.tzinfo is None:
        start = start.replace(tzinfo=NEW_YORK)
    end = args.market_end or start.astimezone(NEW_YORK).date()
    handle = start_sim_broker(
        args.state,
        port=args.port,
        price_source=default_price_source(end=end, seed=args.seed),
        clock_start=start,
        initial_cash=args.cash,
        rate_limit_per_minute=args.rate_limit,
        behaviour=FillBehaviour(spread_bps=args.spread_bps, seed=args.seed),
    )
    print(f"sim broker on {handle.base_url} (state {args.state}, clock {handle.now().isoformat()})", flush=True)
    print(f"  ALPACA_BASE_URL={handle.base_url} ALPACA_DATA_URL={handle.base_url}; Ctrl-C to stop", flush=True)
    stop = threading.Event()
    # SIGTERM (a supervisor, a test's terminate()) stops as cleanly as Ctrl-C: the state file is closed
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
    print("sim broker stopped", flush=True)
    return 0
