"""`run --strategies`: names or paths, exact renormalised allocations, the known names on error."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from the_alchemiser.coordinator_v2.allocations import load_allocations
from the_alchemiser.local.stack import day
from the_alchemiser.local.stack.day import PROJECT_ROOT, DayOptions


def prepared(tmp_path: Path, strategies: list[str], strategies_dir: Path = PROJECT_ROOT / "strategies") -> Path:
    target = tmp_path / "run"
    target.mkdir()
    return day._strategies_for_run(DayOptions(strategies=strategies, strategies_dir=strategies_dir), target)


def test_the_readme_example_renormalises_to_exactly_one(tmp_path: Path) -> None:
    folder = prepared(tmp_path, ["nuclear.clj", "klm.clj"])
    allocations = load_allocations(folder, "local")
    assert sum(allocations.values()) == 1
    assert set(allocations) == {"nuclear.clj", "klm.clj"}
    assert allocations["nuclear.clj"] == 2 * allocations["klm.clj"] or abs(
        allocations["nuclear.clj"] - 2 * allocations["klm.clj"]
    ) < Decimal("1e-11")


@pytest.mark.parametrize("count", [3, 6, 7, 9])
def test_awkward_fractions_renormalise_exactly(tmp_path: Path, count: int) -> None:
    """Ten files of 0.1; a subset of 3, 6, 7 or 9 gives thirds, sixths, sevenths, ninths: still exactly 1."""
    source = tmp_path / "strategies"
    source.mkdir()
    names = [f"s{index}.clj" for index in range(10)]
    for name in names:
        (source / name).write_text('(defsymphony "x" {} (asset "SPY"))\n')
    (source / "allocations.toml").write_text("[local]\n" + "".join(f'"{name}" = 0.1\n' for name in names))
    folder = prepared(tmp_path, names[:count], strategies_dir=source)
    allocations = load_allocations(folder, "local")
    assert sum(allocations.values()) == 1
    assert list(allocations) == names[:count]
    shares = set(allocations.values())
    assert max(shares) - min(shares) < Decimal("1e-11")  # equal inputs stay equal to the last places


def test_paths_from_tab_completion_and_bare_names_are_accepted(tmp_path: Path) -> None:
    folder = prepared(tmp_path, ["strategies/nuclear.clj", "tecl"])
    assert set(load_allocations(folder, "local")) == {"nuclear.clj", "tecl.clj"}


def test_an_unknown_strategy_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as raised:
        prepared(tmp_path, ["nucleer.clj"])
    message = str(raised.value)
    assert "nucleer.clj" in message
    for known in ("klm.clj", "nuclear.clj", "tecl.clj"):
        assert known in message
