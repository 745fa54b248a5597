"""Figures a report derives from an equity curve: drawdowns, the worst drawdown episodes, monthly and
yearly returns, and thinning a long series for drawing. Plain Python (no numpy): the notifications
Lambda builds its daily report with these too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date


def drawdowns(equity: Sequence[float]) -> list[float]:
    """Per day, the fall from the running peak as a negative fraction (0 at a new high)."""
    out: list[float] = []
    peak = 0.0
    for value in equity:
        peak = max(peak, value)
        out.append(value / peak - 1.0 if peak > 0 else 0.0)
    return out


@dataclass(frozen=True)
class Drawdown:
    peak: date
    trough: date
    recovered: date | None  # the first day back at the peak; None while still below it
    depth: float  # positive fraction
    days: int  # trading days from the peak to the recovery (or to the last day)


def worst_drawdowns(dates: Sequence[date], equity: Sequence[float], count: int = 5) -> list[Drawdown]:
    """The `count` deepest peak-to-recovery episodes, deepest first."""
    episodes: list[Drawdown] = []
    peak_index = trough_index = 0
    for i in range(1, len(equity) + 1):
        at_end = i == len(equity)
        if not at_end and equity[i] < equity[peak_index]:
            if equity[i] < equity[trough_index]:
                trough_index = i
            continue
        if trough_index != peak_index:
            depth = 1.0 - equity[trough_index] / equity[peak_index]
            recovered = None if at_end else dates[i]
            length = (len(equity) - 1 if at_end else i) - peak_index
            episodes.append(Drawdown(dates[peak_index], dates[trough_index], recovered, depth, length))
        if not at_end:
            peak_index = trough_index = i
    return sorted(episodes, key=lambda d: -d.depth)[:count]


def monthly_returns(dates: Sequence[date], equity: Sequence[float]) -> dict[tuple[int, int], float]:
    """(year, month) -> the month's return, from the last equity of the month before (the first month:
    from the first day's equity)."""
    out: dict[tuple[int, int], float] = {}
    if not equity:
        return out
    base = equity[0]
    month = (dates[0].year, dates[0].month)
    last = base
    for day, value in zip(dates, equity, strict=True):
        key = (day.year, day.month)
        if key != month:
            out[month] = last / base - 1.0
            base, month = last, key
        last = value
    out[month] = last / base - 1.0
    return out


def yearly_returns(monthly: dict[tuple[int, int], float]) -> dict[int, float]:
    """Year -> the compounded return of its months."""
    out: dict[int, float] = {}
    for (year, _), value in sorted(monthly.items()):
        out[year] = (1.0 + out.get(year, 0.0)) * (1.0 + value) - 1.0
    return out


def thin(count: int, limit: int) -> list[int]:
    """At most `limit` indices spread evenly over range(count), first and last included."""
    if count <= limit:
        return list(range(count))
    step = (count - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def extremes(values: Sequence[float | None], buckets: int) -> list[int]:
    """Indices that keep a long line's shape: per bucket its lowest and highest point (so no spike or
    drawdown disappears), and the first and last points."""
    count = len(values)
    if count <= 2 * buckets:
        return list(range(count))
    keep: set[int] = {0, count - 1}
    size = count / buckets
    for b in range(buckets):
        lo, hi = int(b * size), min(count, int((b + 1) * size))
        present = [i for i in range(lo, hi) if values[i] is not None]
        if not present:
            continue
        keep.add(min(present, key=lambda i: values[i]))  # type: ignore[arg-type, return-value]
        keep.add(max(present, key=lambda i: values[i]))  # type: ignore[arg-type, return-value]
    return sorted(keep)
