"""Shared test set-up. Fixture modules live in tests/fixtures/ (one per area) and load automatically."""

from __future__ import annotations

import pathlib

_FIXTURES = pathlib.Path(__file__).parent / "fixtures"
pytest_plugins = sorted(f"tests.fixtures.{p.stem}" for p in _FIXTURES.glob("*.py") if p.stem != "__init__")
