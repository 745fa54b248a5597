"""Read template.yaml into plain dicts, with CloudFormation's short-form tags in their long form.

`!Ref X` becomes {"Ref": "X"}, `!GetAtt A.B` {"Fn::GetAtt": ["A", "B"]}, `!Sub ...` {"Fn::Sub": ...} and
so on, as CloudFormation reads them (and as cfn-lint's decoder does, without importing cfn-lint: seconds).
The result holds only dict, list, str, int, float, bool and None, so it can be deep-copied, compared and
dumped as JSON. A JSON template is read as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

_UNPREFIXED = ("Ref", "Condition")  # every other short tag !X is Fn::X


class TemplateLoadError(ValueError):
    """The file is not a readable CloudFormation template."""


class _CloudFormationLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc,unused-ignore]
    """YAML with CloudFormation's tags; dates stay strings (CloudFormation has no date type); a key
    written twice in one mapping is an error (CloudFormation refuses it)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise TemplateLoadError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


_CloudFormationLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _short_form(loader: _CloudFormationLoader, suffix: str, node: Any) -> dict[str, Any]:
    name = suffix if suffix in _UNPREFIXED else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _short_form)


def load_template(path: str | Path) -> dict[str, Any]:
    """The template at `path` (YAML or JSON) as plain Python data."""
    text = Path(path).read_text(encoding="utf-8")
    return loads_template(text, str(path))


def loads_template(text: str, name: str = "<template>") -> dict[str, Any]:
    """Like `load_template`, from a string."""
    try:
        decoded = json.loads(text) if text.lstrip().startswith("{") else yaml.load(text, _CloudFormationLoader)
    except (yaml.YAMLError, ValueError) as exc:
        raise TemplateLoadError(f"{name}: {exc}") from exc
    if not isinstance(decoded, dict) or "Resources" not in decoded:
        raise TemplateLoadError(f"{name}: not a CloudFormation template (no Resources)")
    return decoded
