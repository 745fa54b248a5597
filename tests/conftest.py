"""Shared test set-up. Fixture modules live in tests/fixtures/ (one per area) and load for every level.

The levels: tests/unit (no services: no network, no Java), tests/integration (DynamoDB Local, the local
broker over HTTP, a real browser), tests/e2e (whole local trading days), tests/infra (the template, the
packaging, the deploy script). Support code shared by tests lives in tests/support/<module>/."""

from __future__ import annotations

import pathlib

_FIXTURES = pathlib.Path(__file__).parent / "fixtures"
# modules other fixture modules import go first, so pytest registers (and assert-rewrites) them before use
_FIRST = ("aws", "sim_broker", "idempotency", "sessions")
pytest_plugins = [f"tests.fixtures.{name}" for name in _FIRST] + sorted(
    f"tests.fixtures.{p.stem}" for p in _FIXTURES.glob("*.py") if p.stem not in {"__init__", *_FIRST}
)
