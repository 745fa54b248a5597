"""Local tooling: the offline stack (`run`), the local paper broker, DynamoDB Local, the synthetic market.

The stack needs the `local` dependency group on top of the runtime dependencies (moto emulates AWS,
PyYAML reads template.yaml). `local_group_missing` says so in one line before anything starts."""

from __future__ import annotations

import importlib.util

# the top-level modules of the `local` group (pyproject.toml) the local stack imports
LOCAL_GROUP_MODULES = ("moto", "yaml")


def local_group_missing(command: str) -> str | None:
    """The one line to print when `command` cannot run for want of the `local` group, else None."""
    missing = [name for name in LOCAL_GROUP_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    return (
        f"error: `{command}` needs the `local` dependency group ({', '.join(missing)} not installed): "
        "uv sync --group local (make run installs it)"
    )
