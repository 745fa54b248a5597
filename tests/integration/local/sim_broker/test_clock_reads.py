"""The engine's clock is readable from anywhere at any moment: the local day stamps every log line with it,
and the broker logs inside its own transactions (a read through SQLite there used to fail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from the_alchemiser.local.sim_broker import DictPriceSource
from the_alchemiser.local.sim_broker.engine import SimBrokerEngine
from the_alchemiser.shared.calendar import NEW_YORK

START = datetime(2026, 11, 20, 15, 30, tzinfo=NEW_YORK)


def engine(tmp_path: Path) -> SimBrokerEngine:
    return SimBrokerEngine(tmp_path / "state.sqlite", price_source=DictPriceSource({"SPY": "500"}), clock_start=START)


def test_the_clock_reads_inside_the_engines_own_transaction_and_moves_with_each_step(tmp_path: Path) -> None:
    broker = engine(tmp_path)
    seen: list[datetime] = []
    tick = broker._tick

    def tick_and_read(db: object, now: datetime) -> None:  # where the broker logs fills: inside its transaction
        seen.append(broker.now())
        tick(db, now)  # type: ignore[arg-type]

    broker._tick = tick_and_read  # type: ignore[method-assign]
    assert broker.advance(90, ticks=3) == START + timedelta(seconds=90)
    assert seen == [START + timedelta(seconds=s) for s in (30, 60, 90)]
    assert broker.now() == START + timedelta(seconds=90)
    broker.close()
    assert broker.now() == START + timedelta(seconds=90), "a stopped broker's last time stands"


def test_a_rolled_back_advance_moves_the_clock_back_and_a_reopened_file_keeps_it(tmp_path: Path) -> None:
    broker = engine(tmp_path)
    broker.advance(60)

    def failing_tick(db: object, now: datetime) -> None:
        raise RuntimeError("the tick failed")

    broker._tick = failing_tick  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        broker.advance(600)
    assert broker.now() == START + timedelta(seconds=60)
    broker.close()
    again = SimBrokerEngine(
        tmp_path / "state.sqlite", price_source=DictPriceSource({}), clock_start=datetime(2020, 1, 1, tzinfo=UTC)
    )
    assert again.now() == START + timedelta(seconds=60)
    again.close()
