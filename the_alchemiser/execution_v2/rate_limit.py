"""A token bucket shared by every worker thread, and a broker wrapper that spends it on each call.

Alpaca allows 200 requests a minute per account; with refill r/min and burst b, any 60 s window sees at
most b + r requests, so the defaults (180 + 20) stay within it. Transient failures (429, 5xx, connection)
are retried here with backoff; if they persist the error propagates and the message is redelivered."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TypeVar

from the_alchemiser.execution_v2.clock import WaitClock
from the_alchemiser.shared.broker import BrokerPort
from the_alchemiser.shared.broker.errors import TransientBrokerError
from the_alchemiser.shared.broker.models import (
    Account,
    Asset,
    CalendarDay,
    MarketClock,
    Order,
    OrderRequest,
    Position,
    Quote,
)
from the_alchemiser.shared.logging import get_logger

T = TypeVar("T")
_log = get_logger("execution_v2.rate_limit")
# Float refills land a hair under a whole token; a wait too short for the clock to register (a virtual
# clock at a large time, the simulated broker's microsecond clock) would then spin for ever.
_TOKEN_EPSILON = 1e-9
_MIN_WAIT_SECONDS = 0.001


class TokenBucket:
    def __init__(self, clock: WaitClock, per_minute: int, burst: int) -> None:
        if per_minute <= 0 or burst <= 0:
            raise ValueError("a token bucket needs a positive rate and burst")
        self._clock = clock
        self._rate = per_minute / 60.0
        self._capacity = float(burst)
        self._tokens = float(burst)
        self._last = clock.monotonic()
        self._lock = threading.Lock()
        self.acquired = 0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock.monotonic()
                self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
                self._last = now
                if self._tokens >= 1 - _TOKEN_EPSILON:
                    self._tokens = max(0.0, self._tokens - 1)
                    self.acquired += 1
                    return
                wait = max((1 - self._tokens) / self._rate, _MIN_WAIT_SECONDS)
            self._clock.sleep(wait)


class RateLimitedBroker:
    """BrokerPort over another BrokerPort: trading calls share one bucket, quotes (data API) another."""

    def __init__(
        self,
        inner: BrokerPort,
        clock: WaitClock,
        trading: TokenBucket,
        data: TokenBucket,
        *,
        retries: int = 3,
        backoff_seconds: float = 1.0,
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._trading = trading
        self._data = data
        self._retries = retries
        self._backoff = backoff_seconds

    def _call(self, bucket: TokenBucket, name: str, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            bucket.acquire()
            try:
                return fn()
            except TransientBrokerError as exc:
                attempt += 1
                if attempt > self._retries:
                    raise
                delay = self._backoff * 2 ** (attempt - 1)
                _log.warning("broker_transient_error", call=name, attempt=attempt, retry_in=delay, error=str(exc))
                self._clock.sleep(delay)

    def get_account(self) -> Account:
        return self._call(self._trading, "get_account", self._inner.get_account)

    def get_positions(self) -> list[Position]:
        return self._call(self._trading, "get_positions", self._inner.get_positions)

    def get_position(self, symbol: str) -> Position | None:
        return self._call(self._trading, "get_position", lambda: self._inner.get_position(symbol))

    def get_asset(self, symbol: str) -> Asset:
        return self._call(self._trading, "get_asset", lambda: self._inner.get_asset(symbol))

    def get_latest_quotes(self, symbols: Sequence[str]) -> dict[str, Quote]:
        return self._call(self._data, "get_latest_quotes", lambda: self._inner.get_latest_quotes(symbols))

    def place_order(self, request: OrderRequest) -> Order:
        # The adapter never blindly resubmits: on an ambiguous failure it looks the id up first, and the
        # id is deterministic, so a retry here can at worst be rejected as a duplicate.
        return self._call(self._trading, "place_order", lambda: self._inner.place_order(request))

    def get_order(self, order_id: str) -> Order:
        return self._call(self._trading, "get_order", lambda: self._inner.get_order(order_id))

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        return self._call(
            self._trading, "get_order_by_client_id", lambda: self._inner.get_order_by_client_id(client_order_id)
        )

    def cancel_order(self, order_id: str) -> None:
        self._call(self._trading, "cancel_order", lambda: self._inner.cancel_order(order_id))

    def replace_order(self, order_id: str, *, qty: Decimal | None = None, limit_price: Decimal | None = None) -> Order:
        return self._call(
            self._trading,
            "replace_order",
            lambda: self._inner.replace_order(order_id, qty=qty, limit_price=limit_price),
        )

    def list_orders(
        self, *, status: str = "all", after: datetime | None = None, symbols: Sequence[str] | None = None
    ) -> list[Order]:
        return self._call(
            self._trading, "list_orders", lambda: self._inner.list_orders(status=status, after=after, symbols=symbols)
        )

    def get_clock(self) -> MarketClock:
        return self._call(self._trading, "get_clock", self._inner.get_clock)

    def get_calendar(self, start: date, end: date) -> list[CalendarDay]:
        return self._call(self._trading, "get_calendar", lambda: self._inner.get_calendar(start, end))
