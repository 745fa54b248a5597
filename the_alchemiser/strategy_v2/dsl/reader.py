"""The reader: strategy text -> forms (lists, vectors, maps, strings, numbers, keywords, symbols).

One regular expression tokenises; an explicit stack builds the nested forms, so nesting depth never
touches Python's recursion limit and a 2 MB export reads in a fraction of a second. Nothing is eval-ed.
Equal forms are read as one object (at the first one's position): real exports repeat whole subtrees,
and the builder then builds each distinct one once."""

from __future__ import annotations

import bisect
import re
import sys
from dataclasses import dataclass, field

from the_alchemiser.strategy_v2.dsl.errors import DslParseError

# Deeper forms are refused: real exports nest up to ~220 deep; the builder and evaluator recurse per level.
MAX_NESTING = 2000
RECURSION_LIMIT = 20_000

_TOKEN = re.compile(
    r"""[\s,]*(?:;[^\n]*[\s,]*)*"""  # whitespace, commas and comments before the token
    r"""(?:("[^"\\]*(?:\\.[^"\\]*)*")"""  # 1 string
    r"""|([(\[{])"""  # 2 opener
    r"""|([)\]}])"""  # 3 closer
    r"""|([^\s,;()\[\]{}"]+)"""  # 4 atom
    r"""|(.|$))""",  # 5 a lone quote (unterminated string) or the end
    re.S,
)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_INTEGER = re.compile(r"[-+]?\d+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_CLOSER_OF = {"(": ")", "[": "]", "{": "}"}


def ensure_recursion_limit() -> None:
    """The builder and evaluators recurse a few frames per nesting level (at most MAX_NESTING). They
    recurse through Python frames only (no generator handed to a builtin per level), so C-level
    recursion limits are not reached either; a RecursionError all the same becomes a DslError."""
    if sys.getrecursionlimit() < RECURSION_LIMIT:
        sys.setrecursionlimit(RECURSION_LIMIT)


class Symbol(str):
    """A bare word: an operator name, `nil`, `>`..."""

    __slots__ = ()


class Keyword(str):
    """`:window` is Keyword("window")."""

    __slots__ = ()


Atom = str | int | float  # str covers plain strings, Symbol and Keyword


@dataclass(frozen=True, slots=True)
class ListForm:
    items: tuple[Form, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class VectorForm:
    items: tuple[Form, ...]
    offset: int


@dataclass(frozen=True, slots=True)
class MapForm:
    pairs: tuple[tuple[Form, Form], ...]
    offset: int


Form = ListForm | VectorForm | MapForm | Atom


@dataclass(slots=True)
class Source:
    """The text with its file name; turns character offsets into 1-based line:column."""

    text: str
    file: str | None = None
    _line_starts: list[int] = field(default_factory=list)

    def position(self, offset: int) -> tuple[int, int]:
        if not self._line_starts:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_right(self._line_starts, offset)
        return line, offset - self._line_starts[line - 1] + 1

    def error(self, message: str, offset: int) -> DslParseError:
        line, column = self.position(offset)
        return DslParseError(message, line, column, self.file)


def _unescape(body: str) -> str:
    if "\\" not in body:
        return body
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.S)


def _atom(text: str) -> Atom:
    if text[0] == ":" and len(text) > 1:
        return Keyword(text[1:])
    if _NUMBER.fullmatch(text):
        return int(text) if _INTEGER.fullmatch(text) else float(text)
    return Symbol(text)


def read(source: Source) -> Form:
    """Read exactly one top-level form from the source."""
    text = source.text
    top: list[Form] = []
    items = top
    # Each open form: (opener char, its items, its offset, the enclosing items list).
    stack: list[tuple[str, list[Form], int, list[Form]]] = []
    atoms: dict[str, Atom] = {}  # by token text: equal atoms are one object
    forms: dict[tuple[object, ...], Form] = {}  # by opener and items' identities: equal forms are one object
    for m in _TOKEN.finditer(text):
        kind = m.lastindex  # by frequency in real exports: openers and closers, then atoms, then strings
        if kind == 2:
            if len(stack) >= MAX_NESTING:
                raise source.error(f"nesting deeper than {MAX_NESTING} levels", m.start(2))
            new: list[Form] = []
            stack.append((m[2], new, m.start(2), items))
            items = new
        elif kind == 3:
            if not stack:
                raise source.error(f"unexpected '{m[3]}' with no open form", m.start(3))
            opener, body, offset, parent = stack.pop()
            if _CLOSER_OF[opener] != m[3]:
                raise source.error(
                    f"expected '{_CLOSER_OF[opener]}' to close '{opener}' opened at "
                    f"{':'.join(map(str, source.position(offset)))}, found '{m[3]}'",
                    m.start(3),
                )
            key = (opener, *map(id, body))
            form = forms.get(key)
            if form is None:
                form = forms[key] = _close(source, opener, body, offset)
            parent.append(form)
            items = parent
        elif kind in (4, 1):
            word = m[kind]
            value = atoms.get(word)
            if value is None:
                value = atoms[word] = _atom(word) if kind == 4 else _unescape(word[1:-1])
            items.append(value)
        else:  # 5: end of text or a lone quote
            if m[5] == '"':
                raise source.error("unterminated string: expected a closing '\"'", m.start(5))
            break
    if stack:
        opener, _, offset, _ = stack[-1]
        raise source.error(f"expected '{_CLOSER_OF[opener]}' before end of text to close '{opener}'", offset)
    if not top:
        raise source.error("empty text: expected one form", len(text))
    if len(top) > 1:
        raise source.error("expected one top-level form, found more", _offset_of_second(source))
    return top[0]


def _close(source: Source, opener: str, body: list[Form], offset: int) -> Form:
    if opener == "(":
        return ListForm(tuple(body), offset)
    if opener == "[":
        return VectorForm(tuple(body), offset)
    if len(body) % 2:
        raise source.error("a map needs an even number of forms (key value pairs)", offset)
    return MapForm(tuple(zip(body[0::2], body[1::2], strict=True)), offset)


def _offset_of_second(source: Source) -> int:
    """Where the second top-level form starts (slow path, errors only)."""
    depth = 0
    seen_first = False
    for m in _TOKEN.finditer(source.text):
        kind = m.lastindex
        start = m.start(kind) if kind else len(source.text)
        if kind == 5:
            break
        if depth == 0 and seen_first:
            return start
        if kind == 2:
            depth += 1
        elif kind == 3:
            depth -= 1
        if depth == 0:
            seen_first = True
    return len(source.text)
