"""Which strategy files run in a stage, and each one's share: strategies/allocations.toml."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

from the_alchemiser.shared.types import to_decimal

ALLOCATIONS_FILE = "allocations.toml"


class AllocationConfigError(ValueError):
    """allocations.toml is missing, has no table for the stage, or is inconsistent: nothing may run."""


def load_allocations(strategies_dir: Path, stage: str) -> dict[str, Decimal]:
    """`"file.clj" = allocation` for the stage, in file order; every file exists, allocations sum to 1."""
    path = strategies_dir / ALLOCATIONS_FILE
    try:
        # parse_float=str keeps 0.1 as "0.1" instead of a binary float
        config = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=str)
    except OSError as exc:
        raise AllocationConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AllocationConfigError(f"{path} is not valid TOML: {exc}") from exc
    table = config.get(stage)
    if not isinstance(table, dict) or not table:
        raise AllocationConfigError(f"{path} has no [{stage}] table of strategy allocations")
    allocations: dict[str, Decimal] = {}
    for file_name, raw in table.items():
        try:
            allocation = to_decimal(raw)
        except ValueError as exc:
            raise AllocationConfigError(f"[{stage}] {file_name}: {exc}") from exc
        if not Decimal(0) < allocation <= 1:
            raise AllocationConfigError(f"[{stage}] {file_name}: allocation {allocation} is not in (0, 1]")
        if Path(file_name).name != file_name or not file_name.endswith(".clj"):
            raise AllocationConfigError(f"[{stage}] {file_name}: expected a .clj file name in {strategies_dir}")
        if not (strategies_dir / file_name).is_file():
            raise AllocationConfigError(f"[{stage}] {file_name}: no such file in {strategies_dir}")
        allocations[file_name] = allocation
    total = sum(allocations.values(), Decimal(0))
    if total != 1:
        raise AllocationConfigError(f"[{stage}] allocations sum to {total}, not 1")
    return allocations
