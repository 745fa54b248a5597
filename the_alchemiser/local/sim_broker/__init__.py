"""A local Alpaca-compatible paper broker: alpaca-py talks to it over HTTP like to Alpaca's paper API.

    handle = start_sim_broker(Path("state.sqlite"), price_source=DictPriceSource({"SPY": "500"}))
    TradingClient("k", "s", paper=True, url_override=handle.base_url)
    StockHistoricalDataClient("k", "s", url_override=handle.base_url)   # same base URL for data
    handle.advance(seconds=60)   # move the simulated clock one minute and tick the market
    handle.stop()

The market model and the closed-market behaviour are described in `engine.py`; the HTTP surface (and the
`/_sim/` control endpoints the methods below mirror) in `server.py`."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from the_alchemiser.local.sim_broker.engine import MAX_ORDERS_PAGE, FillBehaviour, SimApiError, SimBrokerEngine
from the_alchemiser.local.sim_broker.prices import (
    BarsPriceSource,
    BarsSource,
    DailyBar,
    DictPriceSource,
    PriceSource,
    SyntheticPriceSource,
    default_price_source,
)
from the_alchemiser.local.sim_broker.server import Fault, RequestRecord, SimBrokerApp, make_server
from the_alchemiser.shared.calendar import NEW_YORK, nyse_calendar
from the_alchemiser.shared.logging import get_logger

__all__ = [
    "BarsPriceSource",
    "BarsSource",
    "DailyBar",
    "DictPriceSource",
    "FillBehaviour",
    "PriceSource",
    "RequestRecord",
    "SimApiError",
    "SimBrokerHandle",
    "SyntheticPriceSource",
    "default_clock_start",
    "start_sim_broker",
]

log = get_logger(__name__)


def default_clock_start(now: datetime | None = None) -> datetime:
    """10:30 New York time on the latest trading day on or before today: the market is open."""
    today = (now or datetime.now(UTC)).astimezone(NEW_YORK).date()
    day = nyse_calendar().latest_trading_day(today)
    return datetime.combine(day, time(10, 30), tzinfo=NEW_YORK)


@dataclass
class SimBrokerHandle:
    """A running simulated broker. The control methods act on the engine directly (same as `/_sim/`)."""

    engine: SimBrokerEngine
    app: SimBrokerApp
    host: str
    port: int
    _server: Any = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def base_url(self) -> str:
        """Give this to alpaca-py's `url_override` (trading and data): without `/v2`."""
        return f"http://{self.host}:{self.port}"

    @property
    def state_path(self) -> Path:
        return self.engine.state_path

    def stop(self) -> None:
        """Stop serving and close the state file. Safe to call twice."""
        if self._stopped:
            return
        self._stopped = True
        self._server.close_connections()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.engine.close()
        log.info("sim broker stopped", port=self.port)

    def __enter__(self) -> SimBrokerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- control (mirrors /_sim/)
    def now(self) -> datetime:
        return self.engine.now()

    def set_clock(self, moment: datetime, *, tick: bool = True) -> datetime:
        return self.engine.set_clock(moment, tick=tick)

    def advance(self, seconds: float = 60, *, ticks: int = 1) -> datetime:
        return self.engine.advance(seconds, ticks=ticks)

    def tick(self, count: int = 1) -> int:
        return self.engine.tick(count)

    def set_prices(self, prices: Mapping[str, Decimal | str | float | int]) -> None:
        self.engine.set_prices(prices)

    def clear_prices(self) -> None:
        self.engine.clear_prices()

    def fund(self, amount: Decimal | str | int) -> Decimal:
        return self.engine.fund(Decimal(str(amount)))

    def set_fill_behaviour(self, **changes: Any) -> FillBehaviour:
        """spread_bps, displayed_size, inside_fill_probability, seed, cancel_race."""
        return self.engine.set_behaviour(changes)

    def inject_fault(
        self, status: int, *, count: int = 1, path: str = "", method: str | None = None, when: str = "before"
    ) -> None:
        """Answer the next `count` requests whose path starts with `path` with `status`.
        `when="after"` handles the request first and then loses the response (an ambiguous failure)."""
        self.app.faults.add(
            Fault(status=status, count=count, path=path, method=method.upper() if method else None, when=when)
        )

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def requests(self, path: str = "", method: str | None = None) -> list[RequestRecord]:
        """The `/v2/` requests served so far, oldest first, filtered by path prefix and method."""
        return self.app.requests(path, method)

    def halt(self, symbol: str, halted: bool = True) -> None:
        self.engine.halt(symbol, halted)

    def fill_order(self, order_id: str, *, qty: Decimal | None = None, price: Decimal | None = None) -> dict[str, Any]:
        return self.engine.fill_order(order_id, qty=qty, price=price)

    def fills(self, order_id: str | None = None) -> list[dict[str, Any]]:
        return self.engine.fills(order_id)

    def all_orders(self) -> list[dict[str, Any]]:
        """Every order ever placed, oldest first (Alpaca's JSON)."""
        return self.engine.list_orders(status="all", limit=MAX_ORDERS_PAGE, direction="asc")

    def state(self) -> dict[str, Any]:
        return self.engine.state()


def start_sim_broker(
    state_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    price_source: PriceSource | None = None,
    clock_start: datetime | None = None,
    initial_cash: Decimal | str | int = Decimal(100_000),
    rate_limit_per_minute: int = 200,
    behaviour: FillBehaviour | None = None,
    non_fractionable: Sequence[str] = (),
    api_key: str | None = None,
    secret_key: str | None = None,
) -> SimBrokerHandle:
    """Start the broker in a background thread; `port=0` picks a free port (see `.port` / `.base_url`).

    A fresh state file gets `initial_cash` and the clock at `clock_start` (default: 10:30 New York on the
    latest trading day); an existing one keeps its account, positions, orders and clock. `api_key` /
    `secret_key`, when given, are required of clients; otherwise any non-empty keys are accepted."""
    start = clock_start or default_clock_start()
    source = price_source or default_price_source(end=start.astimezone(NEW_YORK).date())
    engine = SimBrokerEngine(
        Path(state_path),
        price_source=source,
        clock_start=start,
        initial_cash=Decimal(str(initial_cash)),
        behaviour=behaviour,
        non_fractionable=non_fractionable,
    )
    app = SimBrokerApp(engine, rate_limit_per_minute=rate_limit_per_minute, api_key=api_key, secret_key=secret_key)
    server = make_server(app, host, port)
    bound_port = int(server.server_address[1])
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sim-broker-{bound_port}", daemon=True
    )
    thread.start()
    log.info("sim broker started", url=f"http://{host}:{bound_port}", state=str(state_path))
    return SimBrokerHandle(engine=engine, app=app, host=host, port=bound_port, _server=server, _thread=thread)
