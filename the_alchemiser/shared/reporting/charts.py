"""Charts as inline SVG, drawn in Python (stdlib only): lines with several series (log scale on a
button), drawdowns, a stacked-area allocation and a monthly-returns heat map. Each chart is a
`<div class="chart">` with the SVG, the thinned data for the page script's hover read-out, and a
legend whose entries show and hide series. Long series are thinned (per bucket the first, lowest and
highest point, so no spike disappears), which keeps a 10-year, 18-series chart at tens of KB."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from the_alchemiser.shared.reporting.page import Html, escape, join, tag
from the_alchemiser.shared.reporting.series import extremes, thin

WIDTH = 960
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 14, 26
HOVER_POINTS = 320  # samples the hover read-out knows
AREA_POINTS = 160  # runs of days the allocation is averaged over (~2 weeks in 7 years)
PALETTE = (
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
    "#4f46e5", "#65a30d", "#0d9488", "#b45309", "#7c3aed", "#e11d48", "#059669", "#0284c7",
    "#a16207", "#c026d3", "#475569", "#15803d",
)  # fmt: skip
PORTFOLIO_COLOR = "#111827"
BENCHMARK_COLOR = "#6b7280"


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    color: str = PORTFOLIO_COLOR
    width: float = 1.4
    dash: str | None = None
    opacity: float = 1.0
    fill: bool = False  # shade the area between the line and 0
    detail: int = 420  # buckets the line is thinned to (2 points each): lower for background lines


def _number(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _hover_value(value: float | None, kind: str = "multiple") -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(value, 2) if kind == "money" else float(f"{value:.5g}")


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def linear_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = _nice_step(hi - lo, count)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks between lo and hi (> 0); fewer when the range is wide."""
    ticks = []
    for exponent in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1):
        for mantissa in (1, 2, 5):
            value = mantissa * 10.0**exponent
            if lo <= value <= hi:
                ticks.append(value)
    if len(ticks) > 8:
        ticks = [t for t in ticks if math.isclose(t / 10 ** math.floor(math.log10(t)), 1.0)] or ticks
    if len(ticks) < 3:  # a narrow range: evenly spaced values read better than one lone power of ten
        ticks = [t for t in linear_ticks(lo, hi, 4) if t > 0]
    return ticks


def format_value(value: float, kind: str) -> str:
    value = value + 0.0  # no "-0"
    if abs(value) < 1e-12:
        value = 0.0
    if kind == "percent":
        return f"{value * 100:.0f}%" if abs(value) >= 0.1 or value == 0 else f"{value * 100:.1f}%"
    if kind == "multiple":
        return f"{value:g}"
    if kind == "money":
        return f"-${-value:,.0f}" if value < 0 else f"${value:,.0f}"
    return f"{value:g}"


def axis_labels(ticks: Sequence[float], kind: str) -> list[str]:
    """The ticks' labels, with more decimals where the usual ones would repeat (a drawdown of 0.03 %)."""
    labels = [format_value(value, kind) for value in ticks]
    for digits in range(1, 5):
        if len(set(labels)) == len(labels) or kind not in ("percent", "money"):
            break
        labels = [_fixed(value, kind, digits) for value in ticks]
    return labels


def _fixed(value: float, kind: str, digits: int) -> str:
    value = 0.0 if abs(value) < 1e-12 else value + 0.0
    if kind == "percent":
        return f"{value * 100:.{digits}f}%"
    return f"-${-value:,.{digits}f}" if value < 0 else f"${value:,.{digits}f}"


def _x_positions(count: int) -> list[float]:
    width = WIDTH - LEFT - RIGHT
    if count <= 1:
        return [LEFT + width / 2] * count
    return [LEFT + width * i / (count - 1) for i in range(count)]


def _date_ticks(dates: Sequence[date], xs: Sequence[float], height: int) -> Html:
    """Year labels (month labels for short ranges) under the plot, with faint grid lines."""
    if not dates:
        return Html("")
    span_days = (dates[-1] - dates[0]).days
    marks: list[tuple[int, str]] = []
    for i, day in enumerate(dates):
        previous = dates[i - 1] if i else None
        if span_days > 700:
            if previous is None or day.year != previous.year:
                marks.append((i, str(day.year)))
        elif previous is None or day.month != previous.month:
            marks.append((i, day.strftime("%b %Y")))
    if len(marks) > 12:
        keep = max(1, math.ceil(len(marks) / 12))
        marks = marks[::keep]
    bottom = height - BOTTOM
    parts = []
    for i, label in marks:
        x = _number(xs[i])
        parts.append(f'<line class="grid" x1="{x}" x2="{x}" y1="{TOP}" y2="{bottom}"/>')
        parts.append(f'<text x="{x}" y="{bottom + 16}" text-anchor="middle">{escape(label)}</text>')
    return Html("".join(parts))


def _y_axis(ticks: Sequence[float], to_y: object, kind: str, css: str) -> Html:
    parts = []
    for value, label in zip(ticks, axis_labels(ticks, kind), strict=True):
        y = _number(to_y(value))  # type: ignore[operator]
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y}" y2="{y}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y}" dy="4" text-anchor="end">{escape(label)}</text>')
    return Html(f'<g class="{css}">{"".join(parts)}</g>')


def _path(xs: Sequence[float], values: Sequence[float | None], to_y: object, keep: Sequence[int]) -> str:
    commands: list[str] = []
    pen_up = True
    for i in keep:
        value = values[i]
        if value is None or not math.isfinite(value):
            pen_up = True
            continue
        commands.append(f"{'M' if pen_up else 'L'}{_number(xs[i])},{_number(to_y(value))}")  # type: ignore[operator]
        pen_up = False
    return "".join(commands)


def _chart(
    chart_id: str,
    svg: Html,
    hover: dict[str, object] | None,
    legend: Sequence[Series],
    *,
    tools: str = "",
    log: bool = False,
) -> Html:
    parts = [svg]
    if hover is not None:
        data = json.dumps(hover, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
        parts.append(Html(f'<script type="application/json">{data}</script>'))
        parts.append(Html('<div class="tip"></div>'))
    if tools:
        parts.append(Html(f'<div class="tools">{tools}</div>'))
    box = tag("div", join(parts), class_="chart log" if log else "chart", id=chart_id)
    if not legend:
        return box
    items = join(
        tag("li", join([Html(f'<i style="background:{s.color}"></i>'), s.name]), data_series=str(i))
        for i, s in enumerate(legend)
    )
    return join([box, tag("ul", items, class_="legend", data_for=chart_id)])


def _hover(dates: Sequence[date], xs: Sequence[float], series: Sequence[Series], kind: str) -> dict[str, object]:
    sample = thin(len(dates), HOVER_POINTS)
    return {
        "d": [dates[i].isoformat() for i in sample],
        "x": [round(xs[i], 1) for i in sample],
        "f": kind,
        "s": [{"n": s.name, "c": s.color, "v": [_hover_value(s.values[i], kind) for i in sample]} for s in series],
    }


def line_chart(
    chart_id: str,
    dates: Sequence[date],
    series: Sequence[Series],
    *,
    kind: str = "multiple",
    log_scale: bool = False,
    height: int = 320,
    log_first: bool | None = None,
    zero_line: bool = False,
) -> Html:
    """Several series over the same dates. `kind`: "multiple" (equity, growth of 1), "percent"
    (fractions) or "money" (dollars); a series with a single point is drawn as a dot. With `log_scale`
    (positive values only) a button switches to a log axis; it is shown first when `log_first`, or by
    default when the values span more than a factor of 4."""
    xs = _x_positions(len(dates))
    finite = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if zero_line or any(s.fill for s in series):
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 * (abs(lo) or 1.0) * 0.1, hi + 0.5 * (abs(hi) or 1.0) * 0.1
    bottom = height - BOTTOM
    pad = (hi - lo) * 0.04

    def linear_y(value: float) -> float:
        return bottom - (value - lo + pad) / (hi - lo + 2 * pad) * (bottom - TOP)

    scales = [("lin", linear_y, linear_ticks(lo, hi))]
    can_log = log_scale and finite and lo > 0
    if can_log:
        llo, lhi = math.log(lo), math.log(hi)
        lpad = max((lhi - llo) * 0.04, 1e-9)

        def log_y(value: float) -> float:
            return bottom - (math.log(value) - llo + lpad) / (lhi - llo + 2 * lpad) * (bottom - TOP)

        scales.append(("logscale", log_y, log_ticks(lo, hi)))
    parts = [_date_ticks(dates, xs, height)]
    for css, to_y, ticks in scales:
        parts.append(_y_axis(ticks, to_y, kind, css))
        group = []
        for i, s in enumerate(series):
            keep = extremes(s.values, s.detail)
            d = _path(xs, s.values, to_y, keep)
            if not d:
                continue
            if "L" not in d:  # lone points: a line of no length would not show
                for point in d[1:].split("M"):
                    x, y = point.split(",")
                    group.append(f'<circle data-series="{i}" cx="{x}" cy="{y}" r="4" fill="{s.color}"/>')
                continue
            if s.fill:
                zero = _number(to_y(0.0))
                first, last = next(j for j in keep if s.values[j] is not None), keep[-1]
                area = f"{d}L{_number(xs[last])},{zero}L{_number(xs[first])},{zero}Z"
                group.append(f'<path data-series="{i}" d="{area}" fill="{s.color}" fill-opacity="0.18" stroke="none"/>')
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            group.append(
                f'<path data-series="{i}" d="{d}" fill="none" stroke="{s.color}" stroke-width="{s.width}"'
                f' stroke-opacity="{s.opacity}" stroke-linejoin="round"{dash}/>'
            )
        if lo < 0 <= hi:
            y0 = _number(to_y(0.0))
            group.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y0}" y2="{y0}" stroke="#98a2b3"/>')
        parts.append(Html(f'<g class="{css}">{"".join(group)}</g>'))
    parts.append(
        Html(f'<line class="rule" x1="0" x2="0" y1="{TOP}" y2="{bottom}" stroke="#98a2b3" style="display:none"/>')
    )
    svg = Html(f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(chart_id)}">{"".join(parts)}</svg>')
    tools = ""
    start_log = False
    if can_log:
        start_log = (hi / lo > 4) if log_first is None else log_first
        tools = f'<button class="toggle-log" type="button">{"linear" if start_log else "log"} scale</button>'
    return _chart(chart_id, svg, _hover(dates, xs, series, kind), series, tools=tools, log=start_log)


def drawdown_chart(chart_id: str, dates: Sequence[date], series: Sequence[Series], height: int = 220) -> Html:
    """Drawdowns (negative fractions, 0 at a new high), shaded down from 0."""
    shaded = [Series(s.name, s.values, s.color, s.width, s.dash, s.opacity, True, s.detail) for s in series]
    return line_chart(chart_id, dates, shaded, kind="percent", height=height, zero_line=True)


def bucket_means(count: int, buckets: int) -> list[tuple[int, int]]:
    """[lo, hi) index ranges splitting range(count) into at most `buckets` nearly equal parts."""
    buckets = max(1, min(count, buckets))
    edges = [round(b * count / buckets) for b in range(buckets + 1)]
    return [(lo, hi) for lo, hi in itertools.pairwise(edges) if hi > lo]


def stacked_area_chart(
    chart_id: str,
    dates: Sequence[date],
    layers: Sequence[tuple[str, Sequence[float]]],
    height: int = 280,
    buckets: int = AREA_POINTS,
) -> Html:
    """Weights stacked bottom-up in the order given (fractions; a day's total <= 1), each drawn as its
    mean over `buckets` equal runs of days, so a strategy that switches daily reads as its average
    exposure instead of noise."""
    ranges = bucket_means(len(dates), buckets)
    xs_all = _x_positions(len(dates))
    xs = [(xs_all[lo] + xs_all[hi - 1]) / 2 for lo, hi in ranges]
    if len(xs) > 1:
        xs[0], xs[-1] = xs_all[0], xs_all[-1]
    bottom = height - BOTTOM

    def to_y(value: float) -> float:
        return bottom - value * (bottom - TOP)

    parts = [_date_ticks(dates, xs_all, height), _y_axis([0, 0.25, 0.5, 0.75, 1.0], to_y, "percent", "lin")]
    below = [0.0] * len(ranges)
    legend = []
    hover_dates = [dates[lo] for lo, _ in ranges]
    for index, (name, values) in enumerate(layers):
        means = [math.fsum(values[lo:hi]) / (hi - lo) for lo, hi in ranges]
        above = [b + m for b, m in zip(below, means, strict=True)]
        top_edge = " ".join(f"{_number(x)},{_number(to_y(v))}" for x, v in zip(xs, above, strict=True))
        bottom_edge = " ".join(
            f"{_number(x)},{_number(to_y(v))}" for x, v in reversed(list(zip(xs, below, strict=True)))
        )
        fill = color(index) if name != "other" else "#cbd5e1"
        parts.append(
            Html(
                f'<polygon data-series="{index}" points="{top_edge} {bottom_edge}" fill="{fill}" fill-opacity="0.85"/>'
            )
        )
        legend.append(Series(name, means, fill))
        below = above
    parts.append(
        Html(f'<line class="rule" x1="0" x2="0" y1="{TOP}" y2="{bottom}" stroke="#475569" style="display:none"/>')
    )
    svg = Html(f'<svg viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(chart_id)}">{"".join(parts)}</svg>')
    return _chart(chart_id, svg, _hover(hover_dates, xs, legend, "percent"), legend)


MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _heat(value: float, scale: float) -> str:
    strength = min(1.0, abs(value) / scale) if scale > 0 else 0.0
    base = (22, 163, 74) if value >= 0 else (220, 38, 38)
    mixed = [round(255 + (c - 255) * (0.12 + 0.78 * strength)) for c in base]
    return f"rgb({mixed[0]},{mixed[1]},{mixed[2]})"


def heatmap(
    chart_id: str, monthly: dict[tuple[int, int], float], yearly: dict[int, float], month_scale: float = 0.08
) -> Html:
    """Monthly returns: a row per year, a column per month and the year's total, colour by sign and size
    (full colour at `month_scale` for months, five times that for years)."""
    years = sorted({year for year, _ in monthly})
    cell_w, cell_h, label_w, head_h = 64, 24, 48, 20
    width = label_w + cell_w * 13 + 8
    height = head_h + cell_h * len(years) + 4
    parts = []
    for c, name in enumerate((*MONTHS, "Year")):
        x = label_w + c * cell_w + cell_w / 2
        parts.append(f'<text x="{_number(x)}" y="14" text-anchor="middle">{name}</text>')
    for r, year in enumerate(years):
        y = head_h + r * cell_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">{year}</text>')
        cells = [(c, monthly.get((year, c + 1))) for c in range(12)] + [(12, yearly.get(year))]
        for c, value in cells:
            if value is None:
                continue
            x = label_w + c * cell_w
            fill = _heat(value, month_scale * (5 if c == 12 else 1))
            title = f"{year} {(*MONTHS, 'year')[c]}: {value * 100:+.2f}%"
            parts.append(
                f'<rect x="{x + 1}" y="{y + 1}" width="{cell_w - 2}" height="{cell_h - 2}" rx="3" fill="{fill}">'
                f"<title>{escape(title)}</title></rect>"
            )
            parts.append(
                f'<text x="{x + cell_w / 2}" y="{y + 16}" text-anchor="middle" style="fill:#1d2433">'
                f"{value * 100:+.1f}</text>"
            )
    svg = Html(
        f'<svg viewBox="0 0 {width} {height}" style="max-width:{width}px" role="img" '
        f'aria-label="{escape(chart_id)}">{"".join(parts)}</svg>'
    )
    return tag("div", svg, class_="chart", id=chart_id)
