"""Read template.yaml into plain dicts, with CloudFormation's short-form tags in their long form.

`!Ref X` becomes {"Ref": "X"}, `!GetAtt A.B` {"Fn::GetAtt": ["A", "B"]}, `!Sub ...` {"Fn::Sub": ...} and
so on (cfn-lint's decoder does the YAML work). The result holds only dict, list, str, int, float, bool
and None, so it can be deep-copied, compared and dumped as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]


class TemplateLoadError(ValueError):
    """The file is not a readable CloudFormation template."""


def load_template(path: str | Path) -> dict[str, Any]:
    """The template at `path` (YAML or JSON) as plain Python data."""
    text = Path(path).read_text(encoding="utf-8")
    return loads_template(text, str(path))


def loads_template(text: str, name: str = "<template>") -> dict[str, Any]:
    """Like `load_template`, from a string."""
    try:
        decoded = cfn_yaml.loads(text, name)
    except Exception as exc:  # cfn-lint raises its own error types, wrap them in one of ours
        raise TemplateLoadError(f"{name}: {exc}") from exc
    plain = _plain(decoded)
    if not isinstance(plain, dict) or "Resources" not in plain:
        raise TemplateLoadError(f"{name}: not a CloudFormation template (no Resources)")
    return plain


def dumps_template(template: dict[str, Any]) -> str:
    """A template as JSON text (CloudFormation reads JSON templates too)."""
    return json.dumps(template, indent=2, sort_keys=False)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(key): _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, str):
        return str(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node
