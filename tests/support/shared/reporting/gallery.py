"""A page with every shared builder, as the daily report will use them (stdlib data, no numpy)."""

from __future__ import annotations

import math
from datetime import date, timedelta

from the_alchemiser.shared.reporting.charts import (
    Series,
    color,
    drawdown_chart,
    heatmap,
    line_chart,
    stacked_area_chart,
)
from the_alchemiser.shared.reporting.page import Page, stats_table, table
from the_alchemiser.shared.reporting.series import drawdowns, monthly_returns, yearly_returns


def gallery_page(count: int = 600) -> str:
    dates = [date(2022, 1, 3) + timedelta(days=i) for i in range(count)]
    equity = [math.exp(0.0004 * i + 0.08 * math.sin(i / 37.0)) for i in range(count)]
    other = [math.exp(0.0002 * i + 0.05 * math.cos(i / 23.0)) for i in range(count)]
    page = Page("Daily report 2023-08-25", subtitle="every shared builder on one page")
    page.headline = [("equity", "$101,234"), ("day", "+0.4%")]
    page.add(
        "Equity",
        line_chart("equity", dates, [Series("account", equity), Series("SPY", other, color(1))], log_scale=True),
    )
    page.add("Drawdown", drawdown_chart("drawdown", dates, [Series("account", drawdowns(equity))]))
    layers = [("AAA", [0.5 + 0.3 * math.sin(i / 50) for i in range(count)]), ("BBB", [0.2] * count)]
    page.add("Allocation", stacked_area_chart("allocation", dates, layers))
    monthly = monthly_returns(dates, equity)
    page.add("Monthly", heatmap("monthly", monthly, yearly_returns(monthly)))
    page.add("Stats", stats_table([("account", {"total_return": 0.1, "cagr": 0.05, "sharpe": None, "days": 3})]))
    page.add("Fills", table(["symbol", "qty", "slippage"], [["SPY", "3", "0.02%"], ["<script>", "1", "–"]]))
    return page.render()
