"""The page and chart builders: pure Python (the notifications Lambda must not import numpy), small,
self-contained, and the series helpers worked by hand."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from tests.support.shared.reporting.gallery import gallery_page
from the_alchemiser.shared.reporting.charts import linear_ticks, log_ticks
from the_alchemiser.shared.reporting.page import Html, escape, table
from the_alchemiser.shared.reporting.series import (
    drawdowns,
    extremes,
    monthly_returns,
    thin,
    worst_drawdowns,
    yearly_returns,
)


def test_page_and_chart_modules_import_no_numpy_or_pandas() -> None:
    code = (
        "import sys\n"
        "import the_alchemiser.shared.reporting.page, the_alchemiser.shared.reporting.charts\n"
        "import the_alchemiser.shared.reporting.series, the_alchemiser.shared.reporting\n"
        "from tests.support.shared.reporting.gallery import gallery_page\n"
        "gallery_page(50)\n"
        "bad = sorted(m for m in ('numpy', 'pandas') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_page_is_self_contained_and_small() -> None:
    text = gallery_page(2520)
    assert text.startswith("<!DOCTYPE html>") and text.count("<script>") == 1
    assert "src=" not in text and "href=" not in text and "@import" not in text
    assert len(text) < 200_000


def test_escaping() -> None:
    assert escape("<a & b>") == "&lt;a &amp; b&gt;"
    assert escape(Html("<b>x</b>")) == "<b>x</b>"
    assert "<td>&lt;x&gt;</td>" in table(["", "v"], [["<x>", "1"]]).replace(' class="l"', "")


def test_drawdowns_and_the_worst_episodes() -> None:
    days = [date(2024, 1, d) for d in range(1, 11)]
    equity = [1.0, 1.1, 0.99, 1.1, 1.2, 0.9, 0.96, 1.3, 1.2, 1.25]
    assert drawdowns(equity)[:3] == pytest.approx([0.0, 0.0, -0.1])
    worst = worst_drawdowns(days, equity)
    assert [(w.peak.day, w.trough.day, w.recovered and w.recovered.day) for w in worst] == [
        (5, 6, 8),
        (2, 3, 4),
        (8, 9, None),
    ]
    assert worst[0].depth == pytest.approx(0.25) and worst[0].days == 3
    assert worst[2].recovered is None and worst[2].days == 2  # still below the peak on the last day


def test_monthly_and_yearly_returns() -> None:
    days = [date(2023, 12, 28), date(2023, 12, 29), date(2024, 1, 2), date(2024, 1, 31), date(2024, 2, 1)]
    equity = [1.0, 1.1, 1.2, 1.21, 1.331]
    monthly = monthly_returns(days, equity)
    assert monthly == pytest.approx({(2023, 12): 0.1, (2024, 1): 0.1, (2024, 2): 0.1})
    assert yearly_returns(monthly) == pytest.approx({2023: 0.1, 2024: 0.21})


def test_thinning_keeps_ends_and_extremes() -> None:
    values = [float(i % 17) for i in range(5000)]
    values[2345] = -50.0
    kept = extremes(values, 100)
    assert kept[0] == 0 and kept[-1] == 4999 and 2345 in kept and len(kept) <= 202
    assert thin(10, 20) == list(range(10)) and thin(1000, 5) == [0, 250, 500, 749, 999]


def test_ticks() -> None:
    assert linear_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert log_ticks(0.8, 12) == [1, 2, 5, 10]
    assert log_ticks(0.58, 1.1) == [0.6, 0.8, 1.0]


def test_a_money_axis_and_a_lone_point_drawn_as_a_dot() -> None:
    from the_alchemiser.shared.reporting.charts import Series, format_value, line_chart

    assert format_value(20047.73, "money") == "$20,048" and format_value(-1500.0, "money") == "-$1,500"
    one = line_chart("equity", [date(2026, 11, 24)], [Series("account equity", [20047.73])], kind="money")
    assert one.count("<circle") == 1 and "<path" not in one
    assert '"v":[20047.73]' in one  # the hover read-out keeps the cents
    gap = line_chart("x", [date(2026, 11, d) for d in (23, 24, 25)], [Series("s", [1.0, None, 2.0])])
    assert gap.count("<circle") == 2  # two lone points either side of a gap
    line = line_chart("x", [date(2026, 11, d) for d in (23, 24)], [Series("s", [1.0, 2.0])])
    assert "<circle" not in line and "<path" in line


def test_axis_labels_never_repeat_for_small_moves() -> None:
    from the_alchemiser.shared.reporting.charts import axis_labels, linear_ticks

    ticks = linear_ticks(-0.0012, 0.0)  # a drawdown of 0.12 %: 0.0 %, -0.0 %, -0.1 % ... with one decimal
    labels = axis_labels(ticks, "percent")
    assert len(set(labels)) == len(labels) and labels[-1] == "0.00%" and "-0.05%" in labels
    assert axis_labels([0.0, -0.1, -0.2], "percent") == ["0%", "-10%", "-20%"]  # unchanged when they differ
    assert axis_labels([20000.0, 20000.5, 20001.0], "money") == ["$20,000.0", "$20,000.5", "$20,001.0"]
