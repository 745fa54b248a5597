"""A strategy whose only asset lists after --start starts on its listing day, and says why."""

from __future__ import annotations

from tests.support.strategy_v2.backtest.helpers import backtest, days, random_closes
from tests.support.strategy_v2.dsl_helpers import frame


def test_a_top_level_asset_listing_late_moves_the_start() -> None:
    index = days(80)
    bars = {
        "SPY": frame(random_closes(80, seed=1), dates=index),
        "NEW": frame(random_closes(50, seed=2), dates=index[30:]),
    }
    text = '(defsymphony "New" {} (if (> (current-price "SPY") 0) [(asset "NEW")] [(asset "SPY")]))'
    result = backtest(bars, text, start=index[0].date())
    assert result.dates[0] == index[30].date()
    (late,) = result.late_starts
    assert late.first_day == index[30].date() and "cannot be evaluated before then" in late.reason
    assert "NEW" in late.reason
    assert result.portfolio.equity[-1] == bars["NEW"]["close"].iloc[-1] / bars["NEW"]["close"].iloc[0]
    stats = result.stats()
    assert stats["start"] == index[30].date().isoformat() and stats["late_starts"]["New"]["reason"] == late.reason
