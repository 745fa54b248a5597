"""What the router tests' handlers do and saw: each test sets a behaviour per function and reads the calls.

The handlers themselves (tests/support/local/router_handlers.py) are loaded by the router from the test template's
CodeUri, as Lambda would load them; they share this module's state with the test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    function: str  # the physical function name (context.function_name)
    event: Any
    remaining_ms: int  # context.get_remaining_time_in_millis() when the handler started


@dataclass
class Probe:
    behaviours: dict[str, Callable[[Any, Any], Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)

    def reset(self) -> None:
        self.behaviours.clear()
        self.calls.clear()

    def handle(self, event: Any, context: Any) -> Any:
        name = context.function_name.rsplit("-", 1)[-1]  # alchemiser-local-<LogicalId>: the logical id
        self.calls.append(Call(name, event, context.get_remaining_time_in_millis()))
        behaviour = self.behaviours.get(name)
        return behaviour(event, context) if behaviour else {"ok": True}

    def of(self, function: str) -> list[Call]:
        return [c for c in self.calls if c.function == function]


PROBE = Probe()
