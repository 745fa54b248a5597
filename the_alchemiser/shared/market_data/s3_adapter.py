"""MarketDataPort over the datalake (S3, or a local directory of the same layout), with a freshness check
and a cache that can never serve an old day.

Each `daily_bars` call lists the datalake once (ETags of every object, one request per 1000 objects) and
re-reads any symbol whose object (its `daily.csv` copy, numpy only, or a `daily.parquet` written before the
copies existed) differs in key or ETag from the cached copy. The cache is process-wide (a warm Lambda
keeps it across invocations) but keyed by (object key, ETag): a refreshed object has a new ETag, so the
next invocation reads it; nothing is served on the strength of a previous invocation's view.

Freshness is judged against the day the caller asks for, never against the wall clock: with `end` (the
workflow passes `as_of`, the previous trading day of the session's date) every symbol's last bar must be
the latest trading day on or before `end`; a warm Lambda, a clock off by a day or a rerun for an old date
cannot change that. Only `end=None` ("everything you have") falls back to the clock: the last bar must then
be the previous trading day of today (New York). Otherwise StaleBarsError names each stale symbol with
its last bar.

Served bars: DailyBars of adjusted prices (`StoredBars.adjusted_bars`), read-only arrays shared with the
cache (a caller cannot change what the next invocation is served). The worker checks freshness; the
command line (`--data s3://...` or a datalake directory) does not: it evaluates the last bar it has and
says so."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

from the_alchemiser.shared.calendar import NEW_YORK, Clock, NyseCalendar, nyse_calendar
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.market_data.bars import DailyBars
from the_alchemiser.shared.market_data.datalake import Datalake, StoredBarsInfo, object_version
from the_alchemiser.shared.market_data.port import MissingMarketDataError, StaleMarketDataError

log = get_logger(__name__)

READ_THREADS = 16


class StaleBarsError(StaleMarketDataError):
    """Symbols whose newest stored bar is older than the day the caller needs."""

    def __init__(self, required: date, last_bars: dict[str, date]) -> None:
        self.required = required
        self.last_bars = dict(sorted(last_bars.items()))
        self.symbols = list(self.last_bars)
        listed = ", ".join(f"{s} (last bar {d})" for s, d in self.last_bars.items())
        super().__init__(f"stale market data, bars through {required} needed: {listed}")


@dataclass(frozen=True)
class _CachedBars:
    etag: str  # datalake.object_version of the object read
    info: StoredBarsInfo
    bars: DailyBars  # adjusted, read-only arrays


class BarCache:
    """Adjusted bars keyed by (object key, ETag); least recently used entries go first. Thread-safe."""

    def __init__(self, max_entries: int = 2000) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _CachedBars] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, etag: str) -> _CachedBars | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.etag != etag:
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: str, entry: _CachedBars) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


PROCESS_CACHE = BarCache()


def _read_only(bars: DailyBars) -> DailyBars:
    for name in ("dates", "open", "high", "low", "close", "volume"):
        getattr(bars, name).flags.writeable = False
    return bars


def required_last_bar(calendar: NyseCalendar, end: date | None, clock: Clock | None = None) -> date:
    """The newest bar a caller asking for bars up to `end` must be served: the latest trading day on or
    before `end`; with no `end`, the previous trading day of the clock's New York date."""
    if end is not None:
        return calendar.latest_trading_day(end)
    if clock is None:
        raise ValueError("a clock is needed to judge freshness when no end day is given")
    return calendar.previous_trading_day(clock.now().astimezone(NEW_YORK).date())


class DatalakeMarketData:
    """The strategy engine's MarketDataPort over a datalake (see the module docstring)."""

    def __init__(
        self,
        datalake: Datalake,
        *,
        clock: Clock | None = None,
        calendar: NyseCalendar | None = None,
        cache: BarCache | None = None,
        check_freshness: bool = True,
    ) -> None:
        self.datalake = datalake
        self._clock = clock
        self.calendar = calendar or nyse_calendar()
        self.cache = PROCESS_CACHE if cache is None else cache
        self.check_freshness = check_freshness

    @property
    def clock(self) -> Clock:
        """Only consulted for `end=None`; defaults to Settings' clock (system, or the local stack's)."""
        if self._clock is None:
            from the_alchemiser.shared.config.settings import get_settings

            self._clock = get_settings().clock()
        return self._clock

    def daily_bars(self, symbols: Sequence[str], end: date | None = None) -> dict[str, DailyBars]:
        wanted = list(dict.fromkeys(symbols))
        etags = self.datalake.read_versions()  # the current versions: one listing per call, never cached
        keys = {symbol: self.datalake.key_for(symbol) for symbol in wanted}
        missing = [symbol for symbol in wanted if keys[symbol] not in etags]
        if missing:
            raise MissingMarketDataError(missing)

        entries: dict[str, _CachedBars] = {}
        to_read: list[str] = []
        for symbol in wanted:
            cached = self.cache.get(self._cache_key(keys[symbol]), etags[keys[symbol]])
            if cached is None:
                to_read.append(symbol)
            else:
                entries[symbol] = cached
        if to_read:
            with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(to_read))) as pool:
                for symbol, entry in zip(to_read, pool.map(self._read, to_read), strict=True):
                    entries[symbol] = entry
        log.debug("market data read", symbols=len(wanted), from_s3=len(to_read), from_cache=len(wanted) - len(to_read))

        if self.check_freshness:
            required = required_last_bar(self.calendar, end, None if end is not None else self.clock)
            stale = {s: e.info.last_bar for s, e in entries.items() if e.info.last_bar < required}
            if stale:
                raise StaleBarsError(required, stale)

        return {s: entries[s].bars.until(end) for s in wanted}

    def _read(self, symbol: str) -> _CachedBars:
        found = self.datalake.read_adjusted(symbol)
        if found is None:  # deleted between the listing and the read
            raise MissingMarketDataError([symbol])
        bars, info = found
        entry = _CachedBars(etag=object_version(info.key, info.etag), info=info, bars=_read_only(bars))
        self.cache.put(self._cache_key(self.datalake.key_for(symbol)), entry)
        return entry

    def _cache_key(self, key: str) -> str:
        return f"{self.datalake.location}|{key}"  # one process may read several datalakes (the CLI, tests)


class S3MarketData(DatalakeMarketData):
    """DatalakeMarketData over `s3://bucket/prefix`."""

    def __init__(self, s3_client: Any, bucket: str, *, prefix: str = "", **kwargs: Any) -> None:
        super().__init__(Datalake(s3_client, bucket, prefix), **kwargs)
