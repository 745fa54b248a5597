"""report.html of a backtest: the shared reporting page with the backtest's statistics and charts."""

from __future__ import annotations

from typing import Any

import numpy as np

from the_alchemiser.shared.reporting.charts import (
    BENCHMARK_COLOR,
    PORTFOLIO_COLOR,
    Series,
    color,
    drawdown_chart,
    heatmap,
    line_chart,
    stacked_area_chart,
)
from the_alchemiser.shared.reporting.page import Page, percent, stats_table, table
from the_alchemiser.shared.reporting.series import drawdowns, monthly_returns, worst_drawdowns, yearly_returns
from the_alchemiser.strategy_v2.backtest.run import BacktestResult

ALLOCATION_LAYERS = 12  # symbols drawn by name; the rest is "other"
STRATEGY_DETAIL = 120  # the strategies' own lines are background: thinner data
TIMING_TEXT = {
    "composer": "composer timing: the weights decided at the close of day t are held from t to t+1",
    "live": "live timing: the weights decided as of day t-1 are traded at t (the 15:30 run on completed bars)",
}


def build_report(result: BacktestResult) -> str:
    request = result.request
    stats = result.stats()
    dates = result.dates
    portfolio = stats["portfolio"]
    other_name = result.other_timing_name
    other = stats["other_timing"]["portfolio"]
    several = len(result.strategies) > 1
    late = {item.label: item.reason for item in result.late_starts}
    title = "Backtest: " + (f"{len(result.strategies)} strategies" if several else result.strategies[0].label)
    page = Page(
        title,
        subtitle=f"{dates[0]} .. {dates[-1]} ({portfolio['days']} trading days after the first) · "
        f"{TIMING_TEXT[request.timing]} · costs {request.cost_bps:g} bps of turnover"
        + (f" · benchmark {request.benchmark} bought and held" if request.benchmark else ""),
    )
    if result.late_starts and dates[0] > request.start:
        page.lines.append(
            f"The portfolio starts on {dates[0]}, not {request.start}: {len(result.late_starts)} of its strategies "
            "cannot be evaluated earlier (their first days and reasons: the Strategies table)."
        )
    page.headline = [
        ("total return", percent(portfolio["total_return"])),
        ("CAGR", percent(portfolio["cagr"])),
        ("max drawdown", percent(portfolio["max_drawdown"])),
        ("Sharpe", "–" if portfolio["sharpe"] is None else f"{portfolio['sharpe']:.2f}"),
        (f"CAGR with {other_name} timing", percent(other["cagr"])),
    ]
    if stats["benchmark"] is not None:
        page.headline.append((f"{request.benchmark} CAGR", percent(stats["benchmark"]["cagr"])))

    lines = [Series("portfolio", list(result.portfolio.equity), PORTFOLIO_COLOR, width=2.2)]
    lines.append(
        Series(f"portfolio, {other_name} timing", list(result.other_timing.equity), PORTFOLIO_COLOR, 1.2, "5 4")
    )
    if result.benchmark is not None:
        lines.append(Series(str(request.benchmark), list(result.benchmark.equity), BENCHMARK_COLOR, 1.6, "2 3"))
    if several:
        lines += [
            Series(run.label, list(run.curve.equity), color(i), 1.0, opacity=0.75, detail=STRATEGY_DETAIL)
            for i, run in enumerate(result.strategies)
        ]
    gap = _lag_note(portfolio, other, request.timing)
    page.add(
        "Equity (growth of 1)",
        line_chart("equity", dates, lines, kind="multiple", log_scale=True),
        note=f"{gap} Click a legend entry to hide or show its line; hover for values.",
    )
    falls = [Series("portfolio", drawdowns(result.portfolio.equity.tolist()), PORTFOLIO_COLOR, 1.6)]
    if result.benchmark is not None:
        falls.append(Series(str(request.benchmark), drawdowns(result.benchmark.equity.tolist()), BENCHMARK_COLOR, 1.2))
    page.add("Drawdown", drawdown_chart("drawdown", dates, falls))

    rows: list[tuple[str, dict[str, Any]]] = [("portfolio", portfolio), (f"portfolio, {other_name} timing", other)]
    rows += [(run.label, stats["strategies"][run.label]) for run in result.strategies] if several else []
    if stats["benchmark"] is not None:
        rows.append((f"{request.benchmark} (benchmark)", stats["benchmark"]))
    page.add(
        "Statistics",
        stats_table(rows),
        note="Fractions of equity; volatility, Sharpe and Sortino annualised over 252 days (risk-free rate 0); "
        "turnover is the mean daily one-way turnover. A dash: not defined for this series (docs/backtest.md).",
    )
    page.add(
        "Allocation over time (target weights, averaged over runs of a few days)",
        stacked_area_chart("allocation", dates, _layers(result)),
    )
    monthly = monthly_returns(dates, result.portfolio.equity.tolist())
    page.add("Monthly returns of the portfolio (%)", heatmap("monthly", monthly, yearly_returns(monthly)))
    worst = worst_drawdowns(dates, result.portfolio.equity.tolist(), 5)
    page.add(
        "Worst drawdowns of the portfolio",
        table(
            ["peak", "trough", "recovered", "depth", "trading days"],
            [
                [d.peak.isoformat(), d.trough.isoformat(), d.recovered.isoformat() if d.recovered else "not yet",
                 percent(-d.depth), d.days]
                for d in worst
            ] or [["–", "–", "–", "0.0%", 0]],
            left=3,
        ),
    )  # fmt: skip
    page.add(
        "Strategies",
        table(
            ["strategy", "file", "allocation", "rebalance threshold", "first evaluable day", "why it starts then"],
            [
                [run.label, run.file, percent(run.allocation), _threshold(run.threshold), run.first_day.isoformat(),
                 late.get(run.label, "")]
                for run in result.strategies
            ],
            left=2,
            text=(5,),
        ),
    )  # fmt: skip
    return page.render()


def _threshold(value: float | None) -> str:
    return "daily" if value is None else f"{value:g}"


def _lag_note(portfolio: dict[str, Any], other: dict[str, Any], timing: str) -> str:
    if portfolio["cagr"] is None or other["cagr"] is None:
        return ""
    composer, live = (portfolio, other) if timing == "composer" else (other, portfolio)
    return (
        f"The dashed black line is the same portfolio with {'live' if timing == 'composer' else 'composer'} timing: "
        f"the one-day lag of the live run moves the CAGR from {percent(composer['cagr'])} (composer) to "
        f"{percent(live['cagr'])} (live)."
    )


def _layers(result: BacktestResult) -> list[tuple[str, list[float]]]:
    targets = result.targets
    if targets.shape[1] == 0:
        return []
    order = np.argsort(-targets.mean(axis=0), kind="stable")
    named = order[:ALLOCATION_LAYERS]
    layers = [(result.symbols[i], targets[:, i].tolist()) for i in named]
    rest = order[ALLOCATION_LAYERS:]
    if len(rest):
        layers.append(("other", targets[:, rest].sum(axis=1).tolist()))
    return layers
