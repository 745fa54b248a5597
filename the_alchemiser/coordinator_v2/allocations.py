"""Which strategy files run in a stage, and each one's share: strategies/allocations.toml."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from the_alchemiser.shared.types import to_decimal

ALLOCATIONS_FILE = "allocations.toml"
# 12 places: far finer than any dollar amount of a portfolio, exact in a TOML file and in Decimal
ALLOCATION_QUANTUM = Decimal("1e-12")


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


def renormalised(allocations: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """Each allocation over their total, as Decimals summing to exactly 1 (a subset of a stage's files).

    Shares are quantised to 1e-12 and the residual (a few quanta at most) goes to the largest share,
    the first in order on ties: thirds or sevenths sum to 1 exactly, not to 0.9999999999999999."""
    positive = {name: Decimal(value) for name, value in allocations.items()}
    if not positive or any(value <= 0 for value in positive.values()):
        raise AllocationConfigError(f"allocations to renormalise must be positive: {dict(allocations)}")
    total = sum(positive.values(), Decimal(0))
    shares = {
        name: (value / total).quantize(ALLOCATION_QUANTUM, rounding=ROUND_HALF_EVEN) for name, value in positive.items()
    }
    largest = max(shares, key=shares.__getitem__)
    shares[largest] += Decimal(1) - sum(shares.values(), Decimal(0))
    return shares
