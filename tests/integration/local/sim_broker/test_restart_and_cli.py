"""The local broker's state survives restarts (in-process and a killed CLI process) on the same SQLite file."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, TimeInForce
from alpaca.trading.models import Order, Position
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from the_alchemiser.local.sim_broker import SimBrokerHandle
from the_alchemiser.shared.broker.alpaca_adapter import AlpacaBroker
from the_alchemiser.shared.broker.models import OrderRequest, OrderType
from the_alchemiser.shared.broker.models import OrderSide as Side
from the_alchemiser.shared.broker.models import OrderStatus as Status
from the_alchemiser.shared.calendar import NEW_YORK

REPO = Path(__file__).resolve().parents[4]


def order(symbol: str, side: str, cid: str, qty: str, limit: str | None = None) -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side=Side(side),
        type=OrderType.LIMIT if limit else OrderType.MARKET,
        qty=Decimal(qty),
        limit_price=Decimal(limit) if limit else None,
        client_order_id=cid,
    )


def test_restart_keeps_every_order_position_fill_and_the_clock(
    tmp_path: Path,
    sim_broker_factory: Callable[..., SimBrokerHandle],
    alpaca_broker_factory: Callable[..., AlpacaBroker],
) -> None:
    state = tmp_path / "broker.sqlite"
    first = sim_broker_factory(state_path=state)
    broker = alpaca_broker_factory(first)
    broker.place_order(order("SPY", "buy", "r-filled", "10"))
    canceled = broker.place_order(order("QQQ", "buy", "r-canceled", "2", "400.00"))
    broker.cancel_order(canceled.id)
    replaced = broker.place_order(order("TLT", "buy", "r-replaced", "5", "91.00"))
    broker.replace_order(replaced.id, limit_price=Decimal("91.10"), client_order_id="r-replacement")
    first.set_fill_behaviour(displayed_size=4)
    partial = broker.place_order(order("GLD", "buy", "r-partial", "10", "216.00"))  # 4 of 10 now
    held = broker.place_order(order("SPY", "sell", "r-held", "3", "520.00"))
    first.set_prices({"UVXY": "26.50"})
    first.halt("SQQQ")
    first.advance(30)  # the partial order fills 4 more: 8 of 10
    before = (first.all_orders(), first.fills(), broker.get_positions(), broker.get_account(), first.now())
    assert broker.get_order(partial.id).filled_qty == Decimal(8)
    first.stop()

    second = sim_broker_factory(state_path=state, clock_start=datetime(2030, 1, 2, 10, tzinfo=NEW_YORK))
    broker = alpaca_broker_factory(second)
    after = (second.all_orders(), second.fills(), broker.get_positions(), broker.get_account(), second.now())
    assert after == before  # every order (all statuses), fill, position, the cash and the clock
    assert len(before[0]) == 6
    assert second.state()["tick"] > 0
    assert (
        broker.get_latest_quotes(["UVXY"])["UVXY"].bid
        < Decimal("26.50")
        < broker.get_latest_quotes(["UVXY"])["UVXY"].ask
    )
    assert broker.get_asset("SQQQ").tradable is False
    spy = broker.get_position("SPY")
    assert spy is not None and spy.qty_available == Decimal(7)  # the open sell still holds its shares
    second.set_fill_behaviour(displayed_size=4)
    second.advance(30)  # the partial order carries on where it left off: filled_qty is cumulative
    done = broker.get_order(partial.id)
    assert (done.status, done.filled_qty) == (Status.FILLED, Decimal(10))
    broker.cancel_order(held.id)
    spy = broker.get_position("SPY")
    assert spy is not None and spy.qty_available == Decimal(10)


class CliBroker:
    """`python -m the_alchemiser sim-broker` as a child process; its stdout drained in the background."""

    def __init__(self, state: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "the_alchemiser",
                "sim-broker",
                "--port",
                "0",
                "--state",
                str(state),
                "--clock",
                "2024-06-12T10:30:00-04:00",
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._url: str | None = None
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"sim broker on (http://127\.0\.0\.1:\d+)", line)
            if found and self._url is None:
                self._url = found.group(1)
                self._ready.set()
        self._ready.set()  # the process ended

    def url(self) -> str:
        if not self._ready.wait(timeout=90) or self._url is None:
            self.process.kill()
            raise AssertionError("the sim broker did not start:\n" + "".join(self.lines[-20:]))
        return self._url

    def stop(self, sig: int) -> int:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self._reader.join(timeout=5)
        return code


def test_cli_serves_alpaca_py_and_a_killed_process_loses_nothing(tmp_path: Path) -> None:
    state = tmp_path / "cli-state.sqlite"
    first = CliBroker(state)
    try:
        client = TradingClient("any-key", "any-secret", paper=True, url_override=first.url())
        account = client.get_account()
        assert account.cash == "100000"  # type: ignore[union-attr]
        bought = client.submit_order(
            MarketOrderRequest(
                symbol="SPY", qty=3, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, client_order_id="cli-1"
            )
        )
        resting = client.submit_order(
            LimitOrderRequest(
                symbol="SPY",
                qty=1,
                side=OrderSide.SELL,
                limit_price=9999,
                time_in_force=TimeInForce.GTC,
                client_order_id="cli-2",
            )
        )
        assert isinstance(bought, Order) and bought.status == OrderStatus.FILLED
        assert isinstance(resting, Order) and resting.status == OrderStatus.NEW
    finally:
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL  # a crash, not a clean shutdown

    second = CliBroker(state)
    try:
        client = TradingClient("any-key", "any-secret", paper=True, url_override=second.url())
        position = client.get_open_position("SPY")
        assert isinstance(position, Position)
        assert (position.qty, position.qty_available) == ("3", "2")
        kept = client.get_order_by_client_id("cli-2")
        assert isinstance(kept, Order) and (kept.id, kept.status) == (resting.id, OrderStatus.NEW)
        cash = Decimal(client.get_account().cash or "0")  # type: ignore[union-attr]
        assert cash == Decimal(100_000) - 3 * Decimal(bought.filled_avg_price or "0")
    finally:
        assert second.stop(signal.SIGTERM) == 0  # SIGTERM stops cleanly
    assert any("sim broker stopped" in line for line in second.lines)
