"""The symbols the strategy files mention, read without the DSL package (business modules may not import
each other, and the refresh only needs the tickers, not a validated tree).

A ticker is the first string argument of a call form: `(asset "SPY" "SPDR S&P 500")`, `(rsi "QQQ" {...})`,
`(moving-average-price "BRK/B" {...})`. The forms whose first string is a display name (`defsymphony`,
`group`) are skipped; comments are ignored, strings may contain `;` and escaped quotes. Tests hold this
to the DSL's own `Strategy.universe` over the project's strategies and the Composer corpus."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

NAMED_FORMS = frozenset({"defsymphony", "group"})
STRATEGY_GLOB = "*.clj"

_STRING = r'"(?:[^"\\]|\\.)*"'
# a string (kept) or a comment (dropped): one pass, so a `;` inside a string never starts a comment
_STRING_OR_COMMENT = re.compile(rf"({_STRING})|;[^\n]*")
_FIRST_STRING_ARGUMENT = re.compile(rf"\(\s*([^\s()\[\]{{}}\",;]+)[\s,]+({_STRING})")


class UniverseError(ValueError):
    """No strategy files at all: refreshing nothing would hide the problem."""


@dataclass(frozen=True)
class Universe:
    symbols: list[str]  # sorted
    files: list[str]  # the strategy files read
    files_without_tickers: list[str]  # suspicious files: refreshed around, then reported as a failure


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


def strategy_universe(strategies_dir: Path, extra: Iterable[str] = ()) -> Universe:
    """The union of the tickers of every `*.clj` in `strategies_dir`, plus `extra`. A file without a ticker
    does not stop the others' symbols from being refreshed; the caller reports it."""
    files = strategy_files(strategies_dir)
    if not files:
        raise UniverseError(f"no strategy files ({STRATEGY_GLOB}) in {strategies_dir}")
    symbols = {s.strip() for s in extra if s.strip()}
    empty: list[str] = []
    for path in files:
        found = tickers_in(path.read_text(encoding="utf-8"))
        if not found:
            empty.append(path.name)
        symbols |= found
    return Universe(sorted(symbols), [path.name for path in files], empty)
