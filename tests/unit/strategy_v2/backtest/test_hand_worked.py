"""The backtest's arithmetic on markets small enough to work by hand (docs/backtest.md has the same cases)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.strategy_v2.backtest.helpers import Book, backtest, growth, market, random_closes

HOLD_SPY = '(defsymphony "Hold SPY" {} (asset "SPY"))'
SIXTY_FORTY = '(defsymphony "60/40" {} (weight-specified 0.6 (asset "SPY") 0.4 (asset "TLT")))'
EQUAL_CORRIDOR = '(defsymphony "Corridor" {:rebalance-threshold 0.05} (weight-equal [(asset "A") (asset "B")]))'
EQUAL_DAILY = '(defsymphony "Daily" {} (weight-equal [(asset "A") (asset "B")]))'
SWITCH = '(defsymphony "Switch" {} (if (> (current-price "X") 100) [(asset "UP")] [(asset "DOWN")]))'


def test_buy_and_hold_returns_the_price_ratio() -> None:
    closes = random_closes(300, seed=3)
    result = backtest(market({"SPY": closes}), HOLD_SPY)
    expected = closes[-1] / closes[0] - 1
    assert result.portfolio.equity[-1] - 1 == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert result.stats()["portfolio"]["total_return"] == pytest.approx(expected, rel=1e-12)
    # every day's equity is the price ratio so far, and the book traded once (from cash, turnover 1)
    np.testing.assert_allclose(result.portfolio.equity, np.array(closes) / closes[0], rtol=1e-12)
    assert result.portfolio.turnover[0] == 1.0 and not result.portfolio.turnover[1:].any()


def test_buy_and_hold_over_a_sub_range_uses_its_first_and_last_trading_days() -> None:
    bars = market({"SPY": random_closes(100, seed=4)})
    index = bars["SPY"].index
    result = backtest(bars, HOLD_SPY, start=index[10].date(), end=index[60].date())
    closes = bars["SPY"]["close"].to_numpy()
    assert result.dates[0] == index[10].date() and result.dates[-1] == index[60].date()
    assert result.portfolio.equity[-1] == pytest.approx(closes[60] / closes[10], rel=1e-12)


def test_daily_rebalanced_sixty_forty_is_the_compounded_mix() -> None:
    spy, tlt = np.array(random_closes(250, seed=5)), np.array(random_closes(250, seed=6, vol=0.01))
    result = backtest(market({"SPY": list(spy), "TLT": list(tlt)}), SIXTY_FORTY)
    daily = 0.6 * (spy[1:] / spy[:-1] - 1) + 0.4 * (tlt[1:] / tlt[:-1] - 1)
    np.testing.assert_allclose(result.portfolio.returns, daily, rtol=1e-12, atol=1e-15)
    assert result.portfolio.equity[-1] == pytest.approx(np.prod(1 + daily), rel=1e-12)
    # which is not the same as holding 60/40 without rebalancing
    held = 0.6 * spy[-1] / spy[0] + 0.4 * tlt[-1] / tlt[0]
    assert abs(result.portfolio.equity[-1] - held) > 1e-6


def test_rebalance_threshold_worked_by_hand() -> None:
    # A rises 10 % a day for three days, then B rises 10 %. Weight-equal with a 0.05 corridor:
    # day 0: buy 0.5 / 0.5.
    # day 1: A = 110 / 210 = 0.5238 (drift 0.0238 <= 0.05): hold.   equity 1.05
    # day 2: A = 121 / 221 = 0.5475 (drift 0.0475 <= 0.05): hold.   equity 1.105
    # day 3: A = 133.1 / 233.1 = 0.5710 (drift 0.0710 > 0.05): back to 0.5 / 0.5; equity 1.1655
    # day 4: B +10 % on half the book: equity 1.1655 * 1.05 = 1.223775
    bars = market({"A": [100, 110, 121, 133.1, 133.1], "B": [100, 100, 100, 100, 110]})
    result = backtest(bars, EQUAL_CORRIDOR)
    np.testing.assert_allclose(result.portfolio.equity, [1.0, 1.05, 1.105, 1.1655, 1.223775], rtol=1e-12)
    holdings = result.portfolio.holdings
    np.testing.assert_allclose(holdings[1], [110 / 210, 100 / 210], rtol=1e-12)  # held as drifted
    np.testing.assert_allclose(holdings[2], [121 / 221, 100 / 221], rtol=1e-12)
    np.testing.assert_allclose(holdings[3], [0.5, 0.5], rtol=1e-12)  # reset to target
    np.testing.assert_allclose(result.portfolio.turnover, [1.0, 0.0, 0.0, 133.1 / 233.1 - 0.5], rtol=1e-12)
    # rebalanced daily instead: day 4 earns 5 % on 1.1655 * ... of a book reset every day
    daily = backtest(bars, EQUAL_DAILY)
    expected = (1.05) * (1 + 0.5 * 0.1) * (1 + 0.5 * 0.1) * (1 + 0.5 * 0.1)
    assert daily.portfolio.equity[-1] == pytest.approx(expected, rel=1e-12)
    assert daily.portfolio.equity[-1] != pytest.approx(result.portfolio.equity[-1], rel=1e-6)


def test_a_branch_switch_trades_inside_the_corridor() -> None:
    # the target set changes (a new symbol): the book trades even though nothing drifted
    text = (
        '(defsymphony "Switch corridor" {:rebalance-threshold 0.5}'
        ' (if (> (current-price "X") 100) [(asset "A")] [(asset "B")]))'
    )
    bars = market({"X": [90, 90, 110, 110], "A": [10, 10, 10, 10], "B": [20, 20, 20, 20]})
    result = backtest(bars, text)
    np.testing.assert_allclose(result.portfolio.holdings, [[0, 1], [0, 1], [1, 0], [1, 0]])
    np.testing.assert_allclose(result.portfolio.turnover, [1, 0, 1])


def _switch_market(count: int = 120) -> dict[str, object]:
    rng = np.random.default_rng(11)
    signal = list(100 + rng.choice([-5.0, 5.0], size=count) * rng.uniform(0.5, 1.5, size=count))
    return market({"X": signal, "UP": growth(50, 0.01, count), "DOWN": growth(80, -0.004, count)})


@pytest.mark.parametrize("cost_bps", [0.0, 10.0])
def test_live_curve_is_the_composer_curve_shifted_by_one_day(cost_bps: float) -> None:
    bars = _switch_market()
    composer = backtest(bars, SWITCH, timing="composer", cost_bps=cost_bps)  # type: ignore[arg-type]
    live = backtest(bars, SWITCH, timing="live", cost_bps=cost_bps)  # type: ignore[arg-type]
    assert composer.portfolio.turnover.sum() > 10  # it does switch
    # each asset moves by the same return every day, so holding one day later earns the same day's return
    np.testing.assert_allclose(live.portfolio.equity[1:], composer.portfolio.equity[:-1], rtol=1e-12)
    assert live.portfolio.equity[0] == live.portfolio.equity[1] == 1.0  # the first day is held in cash
    # and in any market, live holds what composer decided the day before
    np.testing.assert_array_equal(live.portfolio.holdings[1:], composer.targets[:-1])
    assert live.stats()["timing"] == "live" and live.stats()["other_timing"]["timing"] == "composer"
    np.testing.assert_allclose(live.other_timing.equity, composer.portfolio.equity, rtol=1e-15)


def test_costs_subtract_exactly_cost_bps_times_turnover() -> None:
    bars = _switch_market()
    free = backtest(bars, SWITCH)  # type: ignore[arg-type]
    costly = backtest(bars, SWITCH, cost_bps=25)  # type: ignore[arg-type]
    np.testing.assert_array_equal(costly.portfolio.turnover, free.portfolio.turnover)
    np.testing.assert_array_equal(costly.portfolio.returns, free.portfolio.returns - 0.0025 * free.portfolio.turnover)
    # buying into the first day's target counts as turnover from cash
    hold = backtest(market({"SPY": [100, 101, 102]}), HOLD_SPY, cost_bps=25)
    assert hold.portfolio.returns[0] == pytest.approx(0.01 - 0.0025, rel=1e-12)
    assert hold.portfolio.returns[1] == pytest.approx(102 / 101 - 1, rel=1e-12)


def test_one_way_turnover_of_a_switch_is_one() -> None:
    bars = market({"X": [90, 110, 110], "UP": [10, 10, 10], "DOWN": [20, 20, 20]})
    result = backtest(bars, SWITCH)  # type: ignore[arg-type]
    # day 0 buys DOWN from cash (1), day 1 sells all DOWN and buys UP (one-way 1)
    np.testing.assert_allclose(result.portfolio.turnover, [1.0, 1.0])
    assert result.stats()["portfolio"]["turnover"] == pytest.approx(1.0)


def test_equal_allocation_of_several_files_and_their_own_curves() -> None:
    spy, tlt = random_closes(80, seed=21), random_closes(80, seed=22, vol=0.01)
    bars = market({"SPY": spy, "TLT": tlt})
    hold_tlt = '(defsymphony "Hold TLT" {} (asset "TLT"))'
    result = backtest(bars, [Book(HOLD_SPY, 0.5, "spy.clj"), Book(hold_tlt, 0.5, "tlt.clj")])
    mix = 0.5 * (np.diff(spy) / spy[:-1]) + 0.5 * (np.diff(tlt) / tlt[:-1])
    np.testing.assert_allclose(result.portfolio.returns, mix, rtol=1e-12)
    own = {run.label: run.curve.equity[-1] for run in result.strategies}
    assert own == pytest.approx({"Hold SPY": spy[-1] / spy[0], "Hold TLT": tlt[-1] / tlt[0]}, rel=1e-12)
    np.testing.assert_allclose(result.targets, 0.5)
