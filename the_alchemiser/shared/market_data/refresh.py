"""Keeps the datalake current: fetch missing daily bars, append, and re-seed what corporate actions changed.

Per symbol, against the last complete trading day (the target: today once `settle` has passed after
today's close, else the previous trading day; the settle time lets the closing auction's prints reach the
daily bar, and keeps a free data plan's "no SIP data from the last 15 minutes" out of the way):
- no object yet -> seed: fetch from `seed_start` to the target and write;
- last bar >= target -> up to date (nothing fetched);
- otherwise fetch from `overlap_days` stored bars back to the target. If the fetched bars on the stored
  overlap days differ from the stored ones (adjusted close: a split or dividend re-based the history;
  raw close: the tape was corrected), the whole history is fetched again and the object replaced
  (re-seed). Else the new days are appended.
Symbols are fetched in batches sharing a start date (one source request per batch); the source pages
and rate-limits its own HTTP calls. A failure is reported per symbol and the others go on.

The store is the S3 datalake, its directory twin, or a CSV directory (`csv_store.CsvBarStore`, what
`data fetch` writes by default). A CSV directory keeps only the adjusted bars (`keeps_raw_bars` False):
its overlap check compares adjusted closes alone."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

import numpy as np

from the_alchemiser.shared.calendar import NEW_YORK, Clock, NyseCalendar, nyse_calendar
from the_alchemiser.shared.logging import get_logger
from the_alchemiser.shared.market_data.datalake import StoredBarsInfo
from the_alchemiser.shared.market_data.stored_bars import StoredBars

log = get_logger(__name__)

RefreshAction = Literal["seeded", "appended", "reseeded", "up_to_date", "behind", "no_data", "failed"]
OK_ACTIONS: frozenset[str] = frozenset({"seeded", "appended", "reseeded", "up_to_date"})


class BarsSource(Protocol):
    def daily_bars(self, symbols: Sequence[str], start: date, end: date) -> dict[str, StoredBars]:
        """Daily bars per symbol on trading days `start`..`end` inclusive, in the datalake's shape
        (StoredBars: open, high, low, close, volume as traded and the adjusted close). Symbols without any
        bar are left out."""
        ...


class BarStore(Protocol):
    """Where refreshed bars are kept (datalake.Datalake, csv_store.CsvBarStore)."""

    keeps_raw_bars: bool  # False: only adjusted bars are kept, so only adjusted closes can be compared

    def head(self, symbol: str) -> StoredBarsInfo | None: ...

    def read(self, symbol: str) -> tuple[StoredBars, StoredBarsInfo] | None: ...

    def write(self, symbol: str, bars: StoredBars) -> StoredBarsInfo: ...


Progress = Callable[[int, int, list[str]], None]  # (symbols done, symbols to fetch, the batch just fetched)


@dataclass(frozen=True)
class RefreshPolicy:
    seed_start: date = date(2016, 1, 4)  # Alpaca's SIP daily history is dependable from 2016
    overlap_days: int = 5  # stored trading days fetched again to detect changed adjusted history
    batch_size: int = 100  # symbols per source request
    rtol: float = 1e-6  # relative difference that counts as a change (far below a 0.01 % dividend)
    settle: timedelta = timedelta(minutes=20)  # after the close before today's bar counts as complete

    def __post_init__(self) -> None:
        if self.overlap_days < 1 or self.batch_size < 1:
            raise ValueError("overlap_days and batch_size must be >= 1")
        if self.settle < timedelta(0):
            raise ValueError("settle must not be negative")


@dataclass(frozen=True)
class SymbolRefresh:
    symbol: str
    action: RefreshAction
    last_bar: date | None = None
    rows_added: int = 0
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.action in OK_ACTIONS


@dataclass(frozen=True)
class RefreshReport:
    target: date
    results: list[SymbolRefresh] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    @property
    def problems(self) -> list[SymbolRefresh]:
        return [r for r in self.results if not r.ok]

    def counts(self) -> dict[str, int]:
        counted: dict[str, int] = defaultdict(int)
        for result in self.results:
            counted[result.action] += 1
        return dict(sorted(counted.items()))


def last_complete_trading_day(calendar: NyseCalendar, moment: datetime, settle: timedelta = timedelta(0)) -> date:
    """Today (New York) once `settle` has passed after today's close, else the previous trading day."""
    local = moment.astimezone(NEW_YORK)
    today = local.date()
    close = calendar.close_time(today)
    if close is not None and local >= close + settle:
        return today
    return calendar.previous_trading_day(today)


def find_change(stored: StoredBars, fetched: StoredBars, rtol: float, *, raw: bool = True) -> str | None:
    """Why the fetched overlap disagrees with the stored bars, or None when it agrees."""
    absent = stored.dates[~np.isin(stored.dates, fetched.dates)]
    if len(absent):
        return f"source no longer has stored day {absent[0]}"
    inside = fetched.dates[(fetched.dates >= stored.dates[0]) & (fetched.dates <= stored.dates[-1])]
    gained = inside[~np.isin(inside, stored.dates)]
    if len(gained):
        return f"source now has day {gained[0]} that the store lacks"
    at = np.searchsorted(fetched.dates, stored.dates)
    for column, what in (("adjusted", "adjusted close"), ("close", "raw close"))[: 2 if raw else 1]:
        old = getattr(stored, column)
        new = getattr(fetched, column)[at]
        differs = ~np.isclose(new, old, rtol=rtol, atol=0.0)
        if differs.any():
            i = int(np.argmax(differs))
            return f"{what} changed on {stored.dates[i]}: stored {float(old[i])!r}, fetched {float(new[i])!r}"
    return None


class MarketDataRefresher:
    """The refresh service (see the module docstring)."""

    def __init__(
        self,
        datalake: BarStore,
        source: BarsSource,
        *,
        clock: Clock,
        calendar: NyseCalendar | None = None,
        policy: RefreshPolicy | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.datalake = datalake
        self.progress = progress
        self._to_fetch = self._fetched = 0
        self.source = source
        self.clock = clock
        self.calendar = calendar or nyse_calendar()
        self.policy = policy or RefreshPolicy()

    def target_day(self) -> date:
        return last_complete_trading_day(self.calendar, self.clock.now(), self.policy.settle)

    def refresh(self, symbols: Sequence[str], target: date | None = None) -> RefreshReport:
        target = target or self.target_day()
        wanted = sorted(dict.fromkeys(symbols))
        results: dict[str, SymbolRefresh] = {}
        to_seed: list[str] = []
        to_extend: dict[date, list[tuple[str, StoredBars]]] = defaultdict(list)

        for symbol in wanted:
            try:
                info = self.datalake.head(symbol)
                if info is None:
                    to_seed.append(symbol)
                elif info.last_bar >= target:
                    results[symbol] = SymbolRefresh(symbol, "up_to_date", info.last_bar)
                else:
                    found = self.datalake.read(symbol)
                    if found is None:
                        to_seed.append(symbol)
                        continue
                    stored, _ = found
                    to_extend[stored.tail(self.policy.overlap_days).first_date].append((symbol, stored))
            except Exception as exc:
                results[symbol] = _failed(symbol, exc)

        self._to_fetch, self._fetched = len(to_seed) + sum(len(p) for p in to_extend.values()), 0
        for batch in _batches(to_seed, self.policy.batch_size):
            self._fetch_batch(batch, self.policy.seed_start, target, results, self._seed)
        stored_bars = {symbol: stored for pairs in to_extend.values() for symbol, stored in pairs}
        for start, pairs in sorted(to_extend.items()):
            for batch in _batches([symbol for symbol, _ in pairs], self.policy.batch_size):
                self._fetch_batch(
                    batch,
                    start,
                    target,
                    results,
                    lambda symbol, fetched, t: self._extend(symbol, stored_bars[symbol], fetched, t),
                )

        report = RefreshReport(target, [results[s] for s in wanted])
        log.info(
            "market data refreshed",
            target=str(target),
            symbols=len(wanted),
            counts=report.counts(),
            problems=[f"{r.symbol}: {r.action} {r.detail}".strip() for r in report.problems][:50],
        )
        return report

    # ----- steps
    def _fetch_batch(
        self,
        batch: list[str],
        start: date,
        target: date,
        results: dict[str, SymbolRefresh],
        handle: Callable[[str, StoredBars, date], SymbolRefresh],
    ) -> None:
        try:
            fetched = self.source.daily_bars(batch, start, target)
        except Exception as exc:
            for symbol in batch:
                results[symbol] = _failed(symbol, exc)
            return
        finally:
            self._fetched += len(batch)
            if self.progress is not None:
                self.progress(self._fetched, self._to_fetch, batch)
        for symbol in batch:
            bars = fetched.get(symbol)
            if bars is None or not len(bars):
                results[symbol] = SymbolRefresh(symbol, "no_data", detail=f"no bars from {start} to {target}")
                continue
            try:
                results[symbol] = handle(symbol, _only_through(symbol, bars, target), target)
            except Exception as exc:
                results[symbol] = _failed(symbol, exc)

    def _seed(self, symbol: str, fetched: StoredBars, target: date) -> SymbolRefresh:
        info = self.datalake.write(symbol, fetched)
        action: RefreshAction = "seeded" if info.last_bar >= target else "behind"
        detail = "" if action == "seeded" else f"source has bars only through {info.last_bar}"
        return SymbolRefresh(symbol, action, info.last_bar, info.row_count, detail)

    def _extend(self, symbol: str, stored: StoredBars, fetched: StoredBars, target: date) -> SymbolRefresh:
        overlap = stored.tail(self.policy.overlap_days)
        change = find_change(overlap, fetched, self.policy.rtol, raw=self.datalake.keeps_raw_bars)
        if change is not None:
            return self._reseed(symbol, stored, target, change)
        new_rows = fetched.after(stored.dates[-1])
        if not len(new_rows):
            last = stored.last_date
            return SymbolRefresh(symbol, "behind", last, 0, f"source has no bars after {last}")
        info = self.datalake.write(symbol, stored.then(new_rows))
        action: RefreshAction = "appended" if info.last_bar >= target else "behind"
        return SymbolRefresh(symbol, action, info.last_bar, len(new_rows), "" if action == "appended" else "partial")

    def _reseed(self, symbol: str, stored: StoredBars, target: date, reason: str) -> SymbolRefresh:
        start = min(self.policy.seed_start, stored.first_date)
        log.warning("re-seeding a symbol whose history changed", symbol=symbol, reason=reason, start=str(start))
        fetched = self.source.daily_bars([symbol], start, target).get(symbol)
        if fetched is None or not len(fetched):
            return SymbolRefresh(symbol, "failed", stored.last_date, 0, f"{reason}; re-seed found no bars")
        info = self.datalake.write(symbol, _only_through(symbol, fetched, target))
        added = int((fetched.dates > stored.dates[-1]).sum())
        detail = reason if info.last_bar >= target else f"{reason}; source has bars only through {info.last_bar}"
        return SymbolRefresh(symbol, "reseeded" if info.last_bar >= target else "behind", info.last_bar, added, detail)


def _only_through(symbol: str, bars: StoredBars, target: date) -> StoredBars:
    return bars.validated(symbol).through(target)


def _batches(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _failed(symbol: str, exc: Exception) -> SymbolRefresh:
    log.error("market data refresh failed for a symbol", symbol=symbol, error=f"{type(exc).__name__}: {exc}")
    return SymbolRefresh(symbol, "failed", detail=f"{type(exc).__name__}: {' '.join(str(exc).split())}")
