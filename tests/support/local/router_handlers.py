"""The one handler of the router tests' functions (Handler: router_handlers.handle, CodeUri: tests/support/local/)."""

from __future__ import annotations

from typing import Any

from tests.support.local.router_probe import PROBE


def handle(event: Any, context: Any) -> Any:
    return PROBE.handle(event, context)
