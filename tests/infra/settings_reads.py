"""Which environment variables each Lambda's code reads through `Settings`, found in the source.

Read statically (AST), so no handler has to be built: in a business module's files, every attribute
read on a `Settings` value (a variable named `settings`, a parameter annotated `Settings`, the result of
`get_settings()`), plus what the shared functions it calls with its settings read (e.g.
`AlpacaBroker.from_settings`, and what that reads through `keys_from_settings`), with Settings' own
properties and methods (`trading_base_url`, `strategies_path`, `clock()`) expanded into the fields they
use, then mapped to each field's environment variable (its validation alias)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from the_alchemiser.shared.config.settings import Settings

PACKAGE = Path(__file__).resolve().parents[2] / "the_alchemiser"
SETTINGS_FILE = PACKAGE / "shared" / "config" / "settings.py"


@dataclass(frozen=True)
class SharedReader:
    """A shared function or method taking a Settings parameter, and what it reads of it."""

    key: str  # "function" or "Class.method"
    fields: frozenset[str]
    calls: frozenset[str] = frozenset()  # the calls it makes that may reach another shared reader


def _is_settings_annotation(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    if isinstance(annotation, ast.Name):
        return annotation.id == "Settings"
    if isinstance(annotation, ast.Constant):
        return annotation.value == "Settings"
    if isinstance(annotation, ast.Attribute):
        return annotation.attr == "Settings"
    return False


def _settings_names(tree: ast.AST) -> set[str]:
    """Names that hold Settings in this tree: `settings`, annotated parameters, `x = get_settings()`."""
    names = {"settings"}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
            names |= {a.arg for a in arguments if _is_settings_annotation(a.annotation)}
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            func = node.value.func
            if isinstance(func, ast.Name) and func.id == "get_settings":
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _attribute_reads(tree: ast.AST, names: set[str]) -> set[str]:
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names
    }


def _call_keys(tree: ast.AST) -> set[str]:
    """`f(...)` -> "f", `Cls.m(...)` -> "Cls.m": the calls a file makes that may reach a shared reader."""
    keys: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name):
            keys.add(node.func.id)
        elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
            keys.add(f"{node.func.value.id}.{node.func.attr}")
    return keys


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@cache
def settings_member_reads() -> dict[str, frozenset[str]]:
    """Each property/method of Settings -> the Settings attributes it reads through `self`."""
    tree = _parse(SETTINGS_FILE)
    (settings_class,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Settings"]
    return {
        member.name: frozenset(_attribute_reads(member, {"self"}))
        for member in settings_class.body
        if isinstance(member, ast.FunctionDef)
    }


def expand_to_fields(attributes: set[str]) -> set[str]:
    """Settings attributes -> the fields behind them (properties and methods expanded, recursively)."""
    members = settings_member_reads()
    fields: set[str] = set()
    pending = list(attributes)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in Settings.model_fields:
            fields.add(name)
        elif name in members:
            pending.extend(members[name])
    return fields


@cache
def shared_readers() -> dict[str, SharedReader]:
    """Every function/method in the_alchemiser/shared taking a Settings parameter (settings.py itself aside)."""
    readers: dict[str, SharedReader] = {}
    for path in sorted((PACKAGE / "shared").rglob("*.py")):
        if path == SETTINGS_FILE:
            continue
        tree = _parse(path)
        scopes: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                scopes.append((node.name, node))
            elif isinstance(node, ast.ClassDef):
                scopes += [
                    (f"{node.name}.{m.name}", m)
                    for m in node.body
                    if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                ]
        for key, function in scopes:
            arguments = [*function.args.posonlyargs, *function.args.args, *function.args.kwonlyargs]
            names = {a.arg for a in arguments if _is_settings_annotation(a.annotation)}
            if names:
                readers[key] = SharedReader(
                    key, frozenset(_attribute_reads(function, names)), frozenset(_call_keys(function))
                )
    # a reader that hands its settings on to another (`from_settings` -> `keys_from_settings`) reads what
    # that one reads: to a fixed point
    changed = True
    while changed:
        changed = False
        for key, reader in list(readers.items()):
            fields = reader.fields.union(*(readers[c].fields for c in reader.calls & readers.keys() if c != key))
            if fields != reader.fields:
                readers[key] = SharedReader(key, fields, reader.calls)
                changed = True
    return readers


def module_fields(module: str) -> set[str]:
    """The Settings fields the code of the_alchemiser/<module>/ reads, directly or through shared readers."""
    files = sorted((PACKAGE / module).rglob("*.py"))
    if not files:
        raise FileNotFoundError(f"no module the_alchemiser/{module}")
    readers = shared_readers()
    attributes: set[str] = set()
    for path in files:
        tree = _parse(path)
        attributes |= _attribute_reads(tree, _settings_names(tree))
        for key in _call_keys(tree) & readers.keys():
            attributes |= readers[key].fields
    return expand_to_fields(attributes)


def environment_variable(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    if not isinstance(alias, str):
        raise TypeError(f"Settings.{field} has no single environment variable")
    return alias


def module_environment(module: str) -> set[str]:
    """The environment variables the_alchemiser/<module>/ reads through Settings."""
    return {environment_variable(field) for field in module_fields(module)}
