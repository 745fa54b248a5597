"""report.html in a real browser (Debian's chromium driven by Playwright): opens offline from file://,
no console errors, every chart drawn, the log-scale button and the hover read-out work."""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.notifications_v2.helpers import service_for
from tests.support.notifications_v2.scenarios import success_day
from tests.support.shared.reporting.gallery import gallery_page
from tests.support.strategy_v2.backtest.helpers import Book, backtest, days, random_closes
from tests.support.strategy_v2.dsl_helpers import frame
from the_alchemiser.notifications_v2.report import report_key
from the_alchemiser.strategy_v2.backtest.report import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHAPES = "path, rect, polygon, circle"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH (apt-get install -y chromium; .ci/run installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev group (uv sync)")
    with sync_api.sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS, viewport={"width": 1200, "height": 900}
        )
        yield context
        context.close()


def _backtest_report(tmp: Path) -> Path:
    index = days(500)
    bars = {s: frame(random_closes(500, seed=i), dates=index) for i, s in enumerate(["SPY", "QQQ", "TLT", "GLD"])}
    trend = (
        '(defsymphony "Trend" {:rebalance-threshold 0.05} (if (> (current-price "SPY") (moving-average-price "SPY"'
        ' {:window 50})) [(weight-equal [(asset "QQQ") (asset "GLD")])] [(asset "TLT")]))'
    )
    hold = '(defsymphony "Hold QQQ" {} (asset "QQQ"))'
    result = backtest(bars, [Book(trend, 0.6, "trend.clj"), Book(hold, 0.4, "hold.clj")], benchmark="SPY")
    path = tmp / "report.html"
    path.write_text(build_report(result), encoding="utf-8")
    return path


def _open(context: Any, path: Path) -> tuple[Any, list[str], list[str]]:
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors, requests


def _drawn(page: Any) -> dict[str, int]:
    """Per chart: how many of its visible shapes have a non-zero size."""
    counts: dict[str, int] = page.evaluate(
        """(selector) => Object.fromEntries([...document.querySelectorAll('.chart')].map(c => [c.id,
            [...c.querySelectorAll('svg ' + selector.split(', ').join(', svg '))]
              .filter(e => getComputedStyle(e).display !== 'none' && getComputedStyle(e.parentNode).display !== 'none')
              .filter(e => { const b = e.getBBox(); return b.width > 0 && b.height > 0; }).length]))""",
        SHAPES,
    )
    return counts


@pytest.mark.parametrize("which", ["backtest", "daily-report builders"])
def test_report_opens_offline_with_every_chart_drawn(browser: Any, tmp_path: Path, which: str) -> None:
    if which == "backtest":
        path = _backtest_report(tmp_path)
    else:
        path = tmp_path / "gallery.html"
        path.write_text(gallery_page(), encoding="utf-8")
    page, errors, requests = _open(browser, path)
    assert errors == []
    assert requests == [path.as_uri()]  # nothing else is fetched
    drawn = _drawn(page)
    assert set(drawn) == {"equity", "drawdown", "allocation", "monthly"}
    assert all(count > 0 for count in drawn.values()), drawn

    equity = page.locator("#equity")
    button = equity.locator("button.toggle-log")
    was_log = "log" in (equity.get_attribute("class") or "")
    button.click()
    assert ("log" in (equity.get_attribute("class") or "")) != was_log
    assert _drawn(page)["equity"] > 0  # the other scale is drawn too

    box = page.locator("#equity svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    tip = equity.locator(".tip")
    assert tip.is_visible() and tip.inner_text().count(":") >= 2

    legend_item = page.locator('ul.legend[data-for="equity"] li').first
    legend_item.click()
    assert "off" in (legend_item.get_attribute("class") or "")
    page.mouse.move(0, 0)
    shot = Path(os.environ.get("REPORT_SCREENSHOT_DIR", tmp_path)) / f"{which.split(maxsplit=1)[0]}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    assert page.title()
    page.close()


def test_markup_in_data_is_escaped(browser: Any, tmp_path: Path) -> None:
    path = tmp_path / "gallery.html"
    path.write_text(gallery_page(120), encoding="utf-8")
    page, errors, _ = _open(browser, path)
    assert errors == [] and "<script>" in page.locator("table").last.inner_text()
    page.close()


def _daily_report(tmp: Path, *, first_day: bool = False) -> Path:
    """The day's report.html as the notifications service writes it (the golden success day)."""
    scenario = success_day()
    if first_day:
        scenario = dataclasses.replace(scenario, book=scenario.book.model_copy(update={"history": ()}))
    service, _, store, _ = service_for(scenario)
    service.handle_event(scenario.event)
    path = tmp / "report.html"
    path.write_bytes(store.objects[report_key(scenario.event.trading_date, scenario.event.correlation_id, "html")])
    return path


@pytest.mark.parametrize("first_day", [False, True], ids=["three days", "first day"])
def test_daily_report_opens_offline_with_every_chart_drawn(browser: Any, tmp_path: Path, first_day: bool) -> None:
    path = _daily_report(tmp_path, first_day=first_day)
    page, errors, requests = _open(browser, path)
    assert errors == []
    assert requests == [path.as_uri()]  # nothing else is fetched
    drawn = _drawn(page)
    assert set(drawn) == ({"equity"} if first_day else {"equity", "drawdown"})
    assert all(count > 0 for count in drawn.values()), drawn
    box = page.locator("#equity svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.9, box["y"] + box["height"] * 0.5)
    tip = page.locator("#equity .tip")
    assert tip.is_visible() and "account equity: $20,047.73" in tip.inner_text()
    headings = page.locator("section h2").all_inner_texts()
    assert headings[0] == "Account equity to date" and ("Drawdown" in headings) != first_day
    assert "Fills and slippage" in headings and any(h.startswith("P&L by strategy") for h in headings)
    page.mouse.move(0, 0)
    shot = Path(os.environ.get("REPORT_SCREENSHOT_DIR", tmp_path)) / f"daily{'-first' if first_day else ''}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    page.close()
