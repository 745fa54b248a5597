"""What an EventBridge rule target receives: the event, or its `Input`, `InputPath` or `InputTransformer`.

As EventBridge documents it: `Input` is constant JSON text; `InputPath` a JSONPath into the event;
`InputTransformer` fills an InputTemplate's `<name>` placeholders from InputPathsMap's paths and the
predefined `aws.events.*` variables. In a template shaped as a JSON object a placeholder outside quotes
takes the value as JSON and one inside a string takes its text; a plain-text template takes the text.
A path that is absent gives null (JSON) or nothing (text).

The local router supports paths of dot names and array indices (`$.detail.items[0].id`); what it does not
support (wildcards, filters, `..`) or what EventBridge refuses is a TemplateError when the template is read."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from the_alchemiser.local.stack.intrinsics import TemplateError

_PATH_STEP = re.compile(r"\.([A-Za-z0-9_\-/]+)|\[(\d+)\]")
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_WHOLE_EVENT = ("aws.events.event", "aws.events.event.json")  # JSON values only: their text is not escaped
_MISSING = object()


@dataclass(frozen=True)
class TargetInput:
    """One target's input shaping; `TargetInput()` passes the event unchanged."""

    constant: str | None = None
    path: tuple[str | int, ...] | None = None
    paths: dict[str, tuple[str | int, ...]] = field(default_factory=dict)
    template: str | None = None

    @classmethod
    def of(cls, target: dict[str, Any], where: str) -> TargetInput:
        """The target's Input/InputPath/InputTransformer, checked as EventBridge would (and for support)."""
        given = [key for key in ("Input", "InputPath", "InputTransformer") if key in target]
        if len(given) > 1:
            raise TemplateError(f"{where}: a target takes only one of Input, InputPath, InputTransformer: {given}")
        if "Input" in target:
            try:
                json.loads(target["Input"])
            except (TypeError, ValueError) as exc:
                raise TemplateError(f"{where}: Input is not valid JSON text: {target['Input']!r}") from exc
            return cls(constant=target["Input"])
        if "InputPath" in target:
            return cls(path=parse_path(target["InputPath"], f"{where} InputPath"))
        if "InputTransformer" in target:
            return cls._transformer(target["InputTransformer"], where)
        return cls()

    @classmethod
    def _transformer(cls, transformer: dict[str, Any], where: str) -> TargetInput:
        template = transformer.get("InputTemplate")
        if not isinstance(template, str) or not template:
            raise TemplateError(f"{where}: InputTransformer needs an InputTemplate")
        raw_paths = transformer.get("InputPathsMap", {})
        if len(raw_paths) > 100:
            raise TemplateError(f"{where}: InputPathsMap takes at most 100 variables")
        paths = {}
        for name, path in raw_paths.items():
            if name.startswith("aws."):
                raise TemplateError(f"{where}: InputPathsMap variable {name} uses the reserved aws. prefix")
            paths[name] = parse_path(path, f"{where} InputPathsMap {name}")
        for match, in_string in _placeholders(template):
            name = match.group(1)
            if name in _WHOLE_EVENT and (in_string or not template.lstrip().startswith("{")):
                raise TemplateError(f"{where}: <{name}> is only allowed as a JSON value, not inside text")
            if name not in paths and not name.startswith("aws.events."):
                raise TemplateError(f"{where}: InputTemplate uses <{name}>, which InputPathsMap does not define")
        return cls(paths=paths, template=template)

    def render(self, event: dict[str, Any], rule_name: str, rule_arn: str) -> str:
        """The text the target receives (the Lambda payload, the SQS message body)."""
        if self.constant is not None:
            return self.constant
        if self.path is not None:
            value = select(event, self.path)
            return json.dumps(None if value is _MISSING else value)
        if self.template is None:
            return json.dumps(event)
        values: dict[str, Any] = {name: select(event, path) for name, path in self.paths.items()}
        values |= {
            "aws.events.rule-name": rule_name,
            "aws.events.rule-arn": rule_arn,
            "aws.events.event.ingestion-time": event.get("time", ""),
            "aws.events.event": {k: v for k, v in event.items() if k != "detail"},
            "aws.events.event.json": event,
        }
        as_json = self.template.lstrip().startswith("{")
        pieces: list[str] = []
        last = 0
        for match, in_string in _placeholders(self.template):
            pieces.append(self.template[last : match.start()])
            pieces.append(_text(values.get(match.group(1), _MISSING), as_json and not in_string, escape=in_string))
            last = match.end()
        pieces.append(self.template[last:])
        return "".join(pieces)


def parse_path(path: Any, where: str) -> tuple[str | int, ...]:
    """`$.a.b[0]` -> ("a", "b", 0); other JSONPath forms are refused."""
    if not isinstance(path, str) or not path.startswith("$"):
        raise TemplateError(f"{where}: {path!r} is not a JSONPath starting with $")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_STEP.match(path, position)
        if match is None:
            raise TemplateError(
                f"{where}: {path!r} is not supported by the local router (dot names and [index] only,"
                " no wildcards, filters or ..)"
            )
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    return tuple(steps)


def select(document: Any, steps: tuple[str | int, ...]) -> Any:
    for step in steps:
        present = (
            step < len(document)
            if isinstance(step, int) and isinstance(document, list)
            else isinstance(step, str) and isinstance(document, dict) and step in document
        )
        if not present:
            return _MISSING
        document = document[step]
    return document


def _placeholders(template: str) -> list[tuple[re.Match[str], bool]]:
    """Each `<name>` with whether it stands inside a JSON string literal of the template."""
    found: list[tuple[re.Match[str], bool]] = []
    in_string = False
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        for char_index in range(position, match.start()):
            if template[char_index] == '"' and _unescaped(template, char_index):
                in_string = not in_string
        position = match.start()
        found.append((match, in_string))
    return found


def _unescaped(text: str, index: int) -> bool:
    backslashes = len(text[:index]) - len(text[:index].rstrip("\\"))
    return backslashes % 2 == 0


def _text(value: Any, as_json_value: bool, *, escape: bool) -> str:
    if as_json_value:
        return "null" if value is _MISSING else json.dumps(value)
    if value is _MISSING or value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value)
    return json.dumps(text)[1:-1] if escape else text
