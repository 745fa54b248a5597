"""The remaining time counts down (issue #17): a handler's context reports the function's Timeout minus the
time elapsed in the invocation (the router's clock: real time, plus the local day's simulated time), and an
invocation that outlives its Timeout fails as Lambda's would ("Task timed out")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.local.router_probe import PROBE
from tests.support.local.router_stack import function, stack


class FakeClock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_the_remaining_time_is_the_timeout_minus_the_elapsed_time(tmp_path: Path) -> None:
    clock = FakeClock()
    seen: list[int] = []

    def spend_twelve_seconds(_event: Any, context: Any) -> None:
        clock.seconds += 12.5
        seen.append(context.get_remaining_time_in_millis())

    with stack(tmp_path, {"Fn": function(Timeout=30)}, clock=clock) as s:
        PROBE.behaviours["Fn"] = spend_twelve_seconds
        delivery = s.router.invoke("Fn", {}, "manual")
        assert delivery.ok
        assert PROBE.of("Fn")[0].remaining_ms == 30_000
        assert seen == [17_500]


def test_an_invocation_that_outlives_its_timeout_fails(tmp_path: Path) -> None:
    clock = FakeClock()

    def too_slow(_event: Any, _context: Any) -> dict[str, bool]:
        clock.seconds += 31
        return {"ok": True}

    with stack(tmp_path, {"Fn": function(Timeout=30)}, clock=clock) as s:
        PROBE.behaviours["Fn"] = too_slow
        delivery = s.router.invoke("Fn", {}, "manual")
        assert not delivery.ok and delivery.error is not None and "timed out after 30" in delivery.error
