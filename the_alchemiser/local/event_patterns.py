"""EventBridge event-pattern matching, as EventBridge documents it, for the local router and the tests.

A pattern is a JSON object whose leaves are arrays of matchers. An event matches when every field the
pattern names matches one of that field's matchers (fields the pattern does not name are ignored).
Supported matchers: exact values (string, number, boolean, null), `prefix`, `suffix`,
`equals-ignore-case`, `wildcard`, `anything-but` (values, or prefix/suffix/equals-ignore-case/wildcard),
`numeric` (comparisons), `exists`, `cidr` (IPv4), and `$or` between sub-patterns. An array in the
event matches when any of its elements matches. Unsupported matchers raise `PatternError`, so a
template using one fails locally instead of silently routing nothing.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

_MISSING = object()
_NUMERIC_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "=": lambda a, b: a == b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class PatternError(ValueError):
    """The pattern is not a valid EventBridge pattern (or uses a matcher this module does not know)."""


def matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """True when `event` (the full EventBridge envelope: source, detail-type, detail, ...) matches."""
    if not isinstance(pattern, dict):
        raise PatternError(f"a pattern is a JSON object, got {type(pattern).__name__}")
    return _match_object(pattern, event)


def _match_object(pattern: dict[str, Any], value: Any) -> bool:
    for key, sub in pattern.items():
        if key == "$or":
            if not isinstance(sub, list) or len(sub) < 2:
                raise PatternError("$or takes a list of at least two patterns")
            if not any(_match_object(option, value) for option in sub):
                return False
            continue
        field = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if not _match_field(sub, field):
            return False
    return True


def _match_field(sub: Any, field: Any) -> bool:
    if isinstance(sub, dict):
        if field is _MISSING:
            # only `exists: false` leaves can match inside a missing object
            return _only_absence(sub)
        if isinstance(field, list):
            return any(isinstance(item, dict) and _match_object(sub, item) for item in field)
        return isinstance(field, dict) and _match_object(sub, field)
    if isinstance(sub, list):
        return _match_leaf(sub, field)
    raise PatternError(f"pattern leaves are arrays of matchers, got {sub!r}")


def _only_absence(sub: dict[str, Any]) -> bool:
    for key, child in sub.items():
        if key == "$or":
            return any(_only_absence(option) for option in child)
        if isinstance(child, dict):
            if not _only_absence(child):
                return False
        elif not _match_leaf(child, _MISSING):
            return False
    return True


def _match_leaf(matchers: list[Any], field: Any) -> bool:
    _validate(matchers)
    if field is _MISSING:
        return any(isinstance(m, dict) and m.get("exists") is False for m in matchers)
    values = field if isinstance(field, list) else [field]
    return any(_match_one(matcher, value) for matcher in matchers for value in values)


def _validate(matchers: list[Any]) -> None:
    for matcher in matchers:
        if isinstance(matcher, dict):
            if len(matcher) != 1:
                raise PatternError(f"a matcher object has exactly one key: {matcher!r}")
            (kind,) = matcher
            if kind not in _MATCHERS:
                raise PatternError(f"unsupported matcher {kind!r}")
        elif isinstance(matcher, list):
            raise PatternError(f"nested arrays are not matchers: {matcher!r}")


def _match_one(matcher: Any, value: Any) -> bool:
    if isinstance(matcher, dict):
        ((kind, argument),) = matcher.items()
        result: bool = _MATCHERS[kind](argument, value)
        return result
    return _equal(matcher, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(expected: Any, value: Any) -> bool:
    if _is_number(expected) and _is_number(value):
        return bool(float(expected) == float(value))
    if isinstance(expected, bool) or isinstance(value, bool):
        return type(expected) is type(value) and expected == value
    if expected is None or value is None:
        return expected is None and value is None
    return type(expected) is type(value) and expected == value


def _string_argument(kind: str, argument: Any) -> tuple[str, bool]:
    """(text, ignore_case) for prefix/suffix, which also take {"equals-ignore-case": text}."""
    if isinstance(argument, str):
        return argument, False
    if (
        isinstance(argument, dict)
        and set(argument) == {"equals-ignore-case"}
        and isinstance(argument["equals-ignore-case"], str)
    ):
        return argument["equals-ignore-case"], True
    raise PatternError(f"{kind} takes a string or {{'equals-ignore-case': string}}, got {argument!r}")


def _prefix(argument: Any, value: Any) -> bool:
    text, ignore_case = _string_argument("prefix", argument)
    if not isinstance(value, str):
        return False
    return value.lower().startswith(text.lower()) if ignore_case else value.startswith(text)


def _suffix(argument: Any, value: Any) -> bool:
    text, ignore_case = _string_argument("suffix", argument)
    if not isinstance(value, str):
        return False
    return value.lower().endswith(text.lower()) if ignore_case else value.endswith(text)


def _equals_ignore_case(argument: Any, value: Any) -> bool:
    if not isinstance(argument, str):
        raise PatternError(f"equals-ignore-case takes a string, got {argument!r}")
    return isinstance(value, str) and value.casefold() == argument.casefold()


def _wildcard(argument: Any, value: Any) -> bool:
    if not isinstance(argument, str):
        raise PatternError(f"wildcard takes a string, got {argument!r}")
    if not isinstance(value, str):
        return False
    regex = ".*".join(re.escape(part) for part in argument.split("*"))
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _anything_but(argument: Any, value: Any) -> bool:
    if isinstance(argument, dict):
        if len(argument) != 1:
            raise PatternError(f"anything-but takes one matcher, got {argument!r}")
        ((kind, inner),) = argument.items()
        if kind == "prefix":
            return isinstance(value, str) and not _prefix(inner, value)
        if kind == "suffix":
            return isinstance(value, str) and not _suffix(inner, value)
        if kind == "wildcard":
            return isinstance(value, str) and not _wildcard(inner, value)
        if kind == "equals-ignore-case":
            options = inner if isinstance(inner, list) else [inner]
            return isinstance(value, str) and not any(_equals_ignore_case(o, value) for o in options)
        raise PatternError(f"anything-but does not take {kind!r}")
    options = argument if isinstance(argument, list) else [argument]
    return not any(_equal(option, value) for option in options)


def _numeric(argument: Any, value: Any) -> bool:
    if not isinstance(argument, list) or not argument or len(argument) % 2:
        raise PatternError(f"numeric takes [op, number, ...], got {argument!r}")
    if not _is_number(value):
        return False
    for op, bound in zip(argument[::2], argument[1::2], strict=True):
        if op not in _NUMERIC_OPS or not _is_number(bound):
            raise PatternError(f"numeric: bad comparison {op!r} {bound!r}")
        if not _NUMERIC_OPS[op](float(value), float(bound)):
            return False
    return True


def _exists(argument: Any, value: Any) -> bool:
    if not isinstance(argument, bool):
        raise PatternError(f"exists takes true or false, got {argument!r}")
    # reached only for a present field; EventBridge's exists applies to leaf (non-object) values
    return argument and not isinstance(value, dict)


def _cidr(argument: Any, value: Any) -> bool:
    if not isinstance(argument, str):
        raise PatternError(f"cidr takes a string, got {argument!r}")
    if not isinstance(value, str):
        return False
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(argument, strict=False)
    except ValueError:
        return False


_MATCHERS = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "exists": _exists,
    "cidr": _cidr,
}
