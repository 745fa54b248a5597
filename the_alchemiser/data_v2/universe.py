"""The symbols the strategy files mention, read without the DSL package (business modules may not import
each other, and the refresh only needs the tickers, not a validated tree).

A ticker is the first string argument of a call form: `(asset "SPY" "SPDR S&P 500")`, `(rsi "QQQ" {...})`,
`(moving-average-price "BRK/B" {...})`. The forms whose first string is a display name (`defsymphony`,
`group`) are skipped; comments are ignored, strings may contain `;` and escaped quotes. Tests hold this
to the DSL's own `Strategy.universe` over the project's strategies and the Composer corpus."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

NAMED_FORMS = frozenset({"defsymphony", "group"})
STRATEGY_GLOB = "*.clj"

_STRING = r'"(?:[^"\\]|\\.)*"'
# a string (kept) or a comment (dropped): one pass, so a `;` inside a string never starts a comment
_STRING_OR_COMMENT = re.compile(rf"({_STRING})|;[^\n]*")
_FIRST_STRING_ARGUMENT = re.compile(rf"\(\s*([^\s()\[\]{{}}\",;]+)[\s,]+({_STRING})")


class UniverseError(ValueError):
    """No strategy files, or files without a single ticker: refreshing nothing would hide the problem."""


def _without_comments(text: str) -> str:
    return _STRING_OR_COMMENT.sub(lambda m: m.group(1) or " ", text)


def tickers_in(text: str) -> set[str]:
    """The tickers one strategy text mentions."""
    found: set[str] = set()
    for match in _FIRST_STRING_ARGUMENT.finditer(_without_comments(text)):
        if match.group(1) in NAMED_FORMS:
            continue
        ticker = match.group(2)[1:-1].replace('\\"', '"').strip()
        if ticker:
            found.add(ticker)
    return found


def strategy_files(strategies_dir: Path) -> list[Path]:
    return sorted(strategies_dir.glob(STRATEGY_GLOB))


def strategy_universe(strategies_dir: Path, extra: Iterable[str] = ()) -> list[str]:
    """Sorted union of the tickers of every `*.clj` in `strategies_dir`, plus `extra`."""
    files = strategy_files(strategies_dir)
    if not files:
        raise UniverseError(f"no strategy files ({STRATEGY_GLOB}) in {strategies_dir}")
    symbols = {s.strip() for s in extra if s.strip()}
    for path in files:
        found = tickers_in(path.read_text(encoding="utf-8"))
        if not found:
            raise UniverseError(f"{path.name} mentions no ticker")
        symbols |= found
    return sorted(symbols)
