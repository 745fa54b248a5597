"""EventBridge event patterns for the local router and the tests: moto's matcher (moto.events.models.
EventPattern), behind a check that refuses what it would silently get wrong.

moto matches prefix, suffix, equals-ignore-case, wildcard, anything-but, numeric, exists, cidr and $or;
it treats a matcher it does not know as matching everything. `check_pattern` refuses such a pattern (and
malformed arguments) with PatternError, so a template using one fails locally instead of routing wrongly."""

from __future__ import annotations

import json
from typing import Any

_MATCHERS = {"prefix", "suffix", "equals-ignore-case", "wildcard", "anything-but", "numeric", "exists", "cidr"}
_ANYTHING_BUT_INNER = {"prefix", "suffix", "equals-ignore-case", "wildcard"}
_NUMERIC_OPERATORS = {"<", "<=", "=", ">", ">="}


class PatternError(ValueError):
    """The pattern is not a valid EventBridge pattern, or uses a matcher the local router does not know."""


def check_pattern(pattern: Any) -> None:
    """Raise PatternError unless `pattern` is an object whose leaves are arrays of known matchers."""
    if not isinstance(pattern, dict) or not pattern:
        raise PatternError(f"a pattern is a non-empty JSON object, got {pattern!r}")
    for key, sub in pattern.items():
        if key == "$or":
            if not isinstance(sub, list) or len(sub) < 2:
                raise PatternError("$or takes a list of at least two patterns")
            for option in sub:
                check_pattern(option)
        elif isinstance(sub, dict):
            check_pattern(sub)
        elif isinstance(sub, list) and sub:
            for matcher in sub:
                _check_matcher(key, matcher)
        else:
            raise PatternError(f"{key}: pattern leaves are non-empty arrays of matchers, got {sub!r}")


def _check_matcher(key: str, matcher: Any) -> None:
    if matcher is None or isinstance(matcher, str | int | float | bool):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise PatternError(f"{key}: a matcher is a value or an object with one key, got {matcher!r}")
    ((kind, argument),) = matcher.items()
    if kind not in _MATCHERS:
        raise PatternError(f"{key}: unsupported matcher {kind!r} (known: {', '.join(sorted(_MATCHERS))})")
    if kind == "exists" and not isinstance(argument, bool):
        raise PatternError(f"{key}: exists takes true or false, got {argument!r}")
    if kind == "numeric" and not _is_numeric_argument(argument):
        raise PatternError(f"{key}: numeric takes [operator, number, ...], got {argument!r}")
    if kind == "anything-but" and isinstance(argument, dict) and not _is_one_of(argument, _ANYTHING_BUT_INNER):
        raise PatternError(f"{key}: anything-but takes values or one of {sorted(_ANYTHING_BUT_INNER)}")


def _is_one_of(argument: dict[str, Any], kinds: set[str]) -> bool:
    return len(argument) == 1 and next(iter(argument)) in kinds


def _is_numeric_argument(argument: Any) -> bool:
    if not isinstance(argument, list) or not argument or len(argument) % 2:
        return False
    operators, bounds = argument[::2], argument[1::2]
    numbers = all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
    return numbers and all(op in _NUMERIC_OPERATORS for op in operators)


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """True when `event` (the whole envelope: source, detail-type, detail, ...) matches `pattern`."""
    from moto.events.models import EventPattern

    check_pattern(pattern)
    return bool(EventPattern.load(json.dumps(pattern)).matches_event(event))  # type: ignore[arg-type]
