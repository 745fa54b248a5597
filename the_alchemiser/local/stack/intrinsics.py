"""Resolve CloudFormation intrinsic functions against the local stack's physical names.

Just enough of CloudFormation to read template.yaml as AWS would for one stage: Ref, GetAtt, Sub,
Join, If/Conditions, Select, Split, FindInMap and the pseudo parameters."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


class TemplateError(ValueError):
    """The template says something the local stack cannot resolve."""


@dataclass
class Resolver:
    """Holds the template, the parameter values and a callback giving a resource's Ref/GetAtt values."""

    template: dict[str, Any]
    parameters: dict[str, str]
    attribute: Callable[[str, str], str]  # (logical id, attribute or "Ref") -> value
    _conditions: dict[str, bool] = field(default_factory=dict)

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": f"alchemiser-{self.parameters.get('Stage', 'local')}",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        if name not in values:
            raise TemplateError(f"unknown pseudo parameter {name}")
        return values[name]

    def ref(self, name: str) -> str:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.template.get("Parameters", {}):
            if name in self.parameters:
                return self.parameters[name]
            default = self.template["Parameters"][name].get("Default")
            if default is None:
                raise TemplateError(f"parameter {name} has no value and no default")
            return str(default)
        if name in self.template.get("Resources", {}):
            return self.attribute(name, "Ref")
        raise TemplateError(f"Ref to unknown name {name}")

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            definition = self.template.get("Conditions", {}).get(name)
            if definition is None:
                raise TemplateError(f"unknown condition {name}")
            self._conditions[name] = self._truth(definition)
        return self._conditions[name]

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            ((fn, arg),) = node.items()
            if fn == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return bool(left == right)
            if fn == "Fn::Not":
                return not self._truth(arg[0])
            if fn == "Fn::And":
                return all(self._truth(a) for a in arg)
            if fn == "Fn::Or":
                return any(self._truth(a) for a in arg)
            if fn == "Condition":
                return self.condition(arg)
        raise TemplateError(f"not a condition: {node!r}")

    def resolve(self, node: Any) -> Any:
        """Resolve every intrinsic inside `node`; `AWS::NoValue` removes the key or item."""
        if isinstance(node, list):
            return [self.resolve(item) for item in node if not _is_no_value(item)]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, arg)
        return {k: self.resolve(v) for k, v in node.items() if not _is_no_value(v)}

    def sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        resolved_vars = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in resolved_vars:
                return str(resolved_vars[name])
            if "." in name and not name.startswith("AWS::"):
                logical, attr = name.split(".", 1)
                return self.attribute(logical, attr)
            return self.ref(name)

        return _SUB_VAR.sub(replace, text).replace("${!", "${")


def _is_no_value(node: Any) -> bool:
    return isinstance(node, dict) and node == {"Ref": "AWS::NoValue"}


def _get_att(resolver: Resolver, arg: Any) -> str:
    logical, attr = arg.split(".", 1) if isinstance(arg, str) else arg
    return resolver.attribute(logical, attr)


def _if(resolver: Resolver, arg: Any) -> Any:
    name, when_true, when_false = arg
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _find_in_map(resolver: Resolver, arg: Any) -> Any:
    name, top, second = (resolver.resolve(a) for a in arg)
    return resolver.template["Mappings"][name][top][second]


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Ref": lambda r, a: r.ref(a),
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::Join": lambda r, a: str(a[0]).join(str(x) for x in r.resolve(a[1])),
    "Fn::If": _if,
    "Fn::Select": lambda r, a: r.resolve(a[1])[int(r.resolve(a[0]))],
    "Fn::Split": lambda r, a: str(r.resolve(a[1])).split(a[0]),
    "Fn::FindInMap": _find_in_map,
    "Fn::GetAZs": lambda r, a: [f"{REGION}a", f"{REGION}b"],
    "Fn::Base64": lambda r, a: r.resolve(a),
}
