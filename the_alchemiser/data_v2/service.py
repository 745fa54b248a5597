"""The data-refresh service: which symbols, up to which day, then one call to the shared refresher.

Failure is loud: when any symbol could not be brought up to the target (failed, no data, source behind),
the whole summary is logged and DataRefreshFailed raised, so the invocation counts as a Lambda error
(alarm; the scheduler's retry re-runs it, and symbols already current cost one HEAD each)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from the_alchemiser.data_v2.request import DataRefreshRequest
from the_alchemiser.data_v2.universe import strategy_universe
from the_alchemiser.shared.logging import get_logger, workflow_context
from the_alchemiser.shared.market_data.refresh import RefreshReport

log = get_logger(__name__)

PROBLEMS_IN_MESSAGE = 20


class Refresher(Protocol):
    """shared.market_data.refresh.MarketDataRefresher, as this service uses it."""

    def target_day(self) -> date: ...

    def refresh(self, symbols: Sequence[str], target: date | None = None) -> RefreshReport: ...


class DataRefreshFailed(RuntimeError):
    """Some symbols are not current, or a strategy file names no ticker: the summary says which and why."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        problems = summary["problems"]
        listed = "; ".join(
            f"{p['symbol']}: {p['action']} {p['detail']}".strip() for p in problems[:PROBLEMS_IN_MESSAGE]
        )
        more = f" (+{len(problems) - PROBLEMS_IN_MESSAGE} more)" if len(problems) > PROBLEMS_IN_MESSAGE else ""
        files = summary.get("strategy_files_without_tickers") or []
        unread = f"; strategy files naming no ticker: {', '.join(files)}" if files else ""
        super().__init__(
            f"market data not current through {summary['target']} for {len(problems)} symbol(s): {listed}{more}{unread}"
        )


def summarise(report: RefreshReport, trigger_id: str, files_without_tickers: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "trigger_id": trigger_id,
        "ok": report.ok and not files_without_tickers,
        "target": report.target.isoformat(),
        "symbols": len(report.results),
        "counts": report.counts(),
        "rows_added": sum(r.rows_added for r in report.results),
        "problems": [
            {
                "symbol": r.symbol,
                "action": r.action,
                "last_bar": None if r.last_bar is None else r.last_bar.isoformat(),
                "detail": r.detail,
            }
            for r in report.problems
        ],
        "strategy_files_without_tickers": list(files_without_tickers),
    }


class DataRefreshService:
    def __init__(self, refresher: Refresher, *, strategies_dir: Path) -> None:
        self._refresher = refresher
        self._strategies_dir = strategies_dir

    def run(self, request: DataRefreshRequest) -> dict[str, Any]:
        """The summary dict of a refresh in which every symbol is current; else raises DataRefreshFailed."""
        with workflow_context(request.trigger_id, request.trigger_id, component="data_v2"):
            latest = self._refresher.target_day()
            if request.target_date is not None and request.target_date > latest:
                raise ValueError(f"target_date {request.target_date} is after the last complete trading day {latest}")
            target = request.target_date or latest
            empty: list[str] = []
            if request.symbols:
                symbols = list(request.symbols)
            else:
                universe = strategy_universe(self._strategies_dir)
                symbols, empty = universe.symbols, universe.files_without_tickers
                if empty:
                    log.error("strategy files name no ticker", files=empty)
            log.info("data refresh started", target=str(target), symbols=len(symbols), manual=bool(request.symbols))
            summary = summarise(self._refresher.refresh(symbols, target), request.trigger_id, empty)
            if not summary["ok"]:
                log.error("data refresh left symbols behind", **summary)
                raise DataRefreshFailed(summary)
            log.info("data refresh done", **summary)
            return summary
