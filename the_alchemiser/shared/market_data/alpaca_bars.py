"""BarsSource over alpaca-py's REST client (the base of its StockHistoricalDataClient, without the data
package's models, which import the trading client): daily bars, raw and split-and-dividend adjusted.

Pages are walked here (not inside alpaca-py) so every HTTP request passes the rate limiter; 429/5xx and
connection failures are retried with the broker adapter's backoff policy. `url_override` (the data URL)
points the client at the local paper broker in tests and the local stack. Composer's `BRK/B` is Alpaca's
`BRK.B`. Daily bar timestamps are midnight New York time in UTC; bars are keyed by that New York date."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from alpaca.common.enums import BaseURL
from alpaca.common.rest import RESTClient

from the_alchemiser.shared.broker.alpaca_http import (
    call_with_retries,
    default_data_url,
    keys_from_settings,
    quiet_client,
)
from the_alchemiser.shared.broker.errors import BrokerError
from the_alchemiser.shared.broker.retry import RetryPolicy
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.config.settings import Settings
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.market_data.stored_bars import StoredBars
from the_alchemiser.shared.secrets import register_secret

log = get_logger(__name__)

BARS_PATH = "/stocks/bars"
PAGE_LIMIT = 10_000  # Alpaca's maximum bars per page
DEFAULT_REQUESTS_PER_MINUTE = 150  # below Alpaca's 200/min per account: the trading functions share it
DEFAULT_TIMEOUT_SECONDS = 30.0
# The consolidated tape (official closes, full volume). Without `feed` Alpaca answers a free account from
# IEX alone; SIP history older than 15 minutes is open to every plan, and the refresh runs after the close.
DEFAULT_FEED = "sip"
_BEYOND_MICROSECONDS = re.compile(r"(\.\d{6})\d+")


class RateLimiter:
    """At most `per_minute` acquisitions in any sliding 60-second window; waits (sleeps) when full."""

    def __init__(
        self,
        per_minute: int = DEFAULT_REQUESTS_PER_MINUTE,
        *,
        window_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be >= 1")
        self.per_minute = per_minute
        self.window_seconds = window_seconds
        self._monotonic = monotonic
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait for a slot; returns the seconds waited."""
        waited = 0.0
        with self._lock:
            while True:
                now = self._monotonic()
                while self._stamps and now - self._stamps[0] >= self.window_seconds:
                    self._stamps.popleft()
                if len(self._stamps) < self.per_minute:
                    self._stamps.append(now)
                    return waited
                pause = self.window_seconds - (now - self._stamps[0])
                self._sleep(pause)
                waited += pause


def to_alpaca_symbol(symbol: str) -> str:
    return symbol.replace("/", ".")


class AlpacaBarsSource:
    """The refresh service's BarsSource over the Alpaca market-data API."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        data_url: str | None = None,
        feed: str | None = DEFAULT_FEED,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        page_limit: int = PAGE_LIMIT,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        register_secret(api_key, secret_key)
        self._client: Any = RESTClient(
            base_url=data_url.rstrip("/") if data_url else BaseURL.DATA,
            api_key=api_key,
            secret_key=secret_key,
            api_version="v2",
            raw_data=True,
        )
        quiet_client(self._client, timeout)
        self.feed = feed
        self.rate_limiter = rate_limiter or RateLimiter()
        self.retry = retry or RetryPolicy()
        self.page_limit = page_limit
        self.requests_made = 0

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> AlpacaBarsSource:
        """Keys from ALPACA_API_KEY/ALPACA_SECRET_KEY, else the Secrets Manager secret ALPACA_CREDENTIALS_SECRET;
        the data URL from ALPACA_DATA_URL, else the trading URL when it is not Alpaca's (the local broker)."""
        key, secret = keys_from_settings(settings)
        return cls(
            key, secret, data_url=settings.alpaca_data_url or default_data_url(settings.alpaca_base_url), **kwargs
        )

    def daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, StoredBars]:
        wanted = list(dict.fromkeys(symbols))
        if not wanted:
            return {}
        raw = self._fetch(wanted, start, end, "raw")
        adjusted = self._fetch(wanted, start, end, "all")
        out: dict[str, StoredBars] = {}
        for symbol in wanted:
            raw_bars, adjusted_bars = raw.get(symbol), adjusted.get(symbol)
            if not raw_bars or not adjusted_bars:
                continue
            bars = _joined(_by_day(raw_bars), _by_day(adjusted_bars)).between(start, end)
            if len(bars):
                out[symbol] = bars
        return out

    def _fetch(self, symbols: list[str], start: date, end: date, adjustment: str) -> dict[str, list[dict[str, Any]]]:
        by_alpaca = {to_alpaca_symbol(s): s for s in symbols}
        params: dict[str, Any] = {
            "symbols": ",".join(by_alpaca),
            "timeframe": "1Day",
            # whole New York days: bars are stamped at midnight New York time (04:00/05:00 UTC)
            "start": f"{start.isoformat()}T00:00:00Z",
            "end": f"{end.isoformat()}T23:59:59Z",
            "adjustment": adjustment,
            "limit": self.page_limit,
            "sort": "asc",
        }
        if self.feed:
            params["feed"] = self.feed
        bars: dict[str, list[dict[str, Any]]] = {}
        page_token: str | None = None
        pages = 0
        while True:
            page_params = params | ({"page_token": page_token} if page_token else {})
            response = self._get(page_params)
            pages += 1
            for alpaca_symbol, items in (response.get("bars") or {}).items():
                bars.setdefault(by_alpaca.get(alpaca_symbol, alpaca_symbol), []).extend(items or [])
            page_token = response.get("next_page_token")
            if not page_token:
                break
        log.debug("bars fetched", symbols=len(symbols), adjustment=adjustment, pages=pages, start=str(start))
        return bars

    def _get(self, params: dict[str, Any]) -> dict[str, Any]:
        def request() -> dict[str, Any]:
            self.rate_limiter.acquire()  # every attempt, retries too
            self.requests_made += 1
            response: dict[str, Any] = self._client.get(BARS_PATH, params)
            return response

        def retried(attempt: int, error: BrokerError, delay: float) -> None:  # a 429 paused until X-RateLimit-Reset
            log.warning("bars request retried", attempt=attempt + 1, error=str(error), delay=delay)

        return call_with_retries(self.retry, request, retried)


def _by_day(items: list[dict[str, Any]]) -> tuple[Any, Any]:
    """(New York dates ascending, their bars as rows [o, h, l, c, v]); the last bar of a day repeated wins."""
    days = [_new_york_day(str(item["t"])) for item in items]
    rows = np.array([[item["o"], item["h"], item["l"], item["c"], item["v"]] for item in items], dtype=np.float64)
    dates = np.array(days, dtype="datetime64[D]")
    order = np.argsort(dates, kind="stable")
    dates, rows = dates[order], rows[order]
    last = np.append(dates[1:] != dates[:-1], True)  # the last of each run of equal dates
    return dates[last], rows[last]


def _new_york_day(stamp: str) -> date:
    """Alpaca's bar stamp (RFC 3339, up to nanoseconds; Python keeps microseconds) as a New York date."""
    return (
        datetime.fromisoformat(_BEYOND_MICROSECONDS.sub(r"\1", stamp).replace("Z", "+00:00"))
        .astimezone(NEW_YORK)
        .date()
    )


def _joined(raw: tuple[Any, Any], adjusted: tuple[Any, Any]) -> StoredBars:
    """Raw bars with the adjusted close of the same day, on the days both have."""
    (raw_dates, rows), (adjusted_dates, adjusted_rows) = raw, adjusted
    both, at_raw, at_adjusted = np.intersect1d(raw_dates, adjusted_dates, assume_unique=True, return_indices=True)
    opens, highs, lows, closes, volumes = (np.ascontiguousarray(column) for column in rows[at_raw].T)
    return StoredBars(both, opens, highs, lows, closes, volumes, adjusted_rows[at_adjusted, 3])
