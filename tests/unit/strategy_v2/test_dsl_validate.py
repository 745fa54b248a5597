"""`validate`: every error of a file (not only the first), JSON for errors too, warnings for weights that
are normalised, and "did you mean" for an unknown operator."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from the_alchemiser.strategy_v2.dsl import DslValidationError, parse_strategy

REPO = Path(__file__).resolve().parents[3]
THREE_ERRORS = """(defsymphony "Three" {}
 (weight-equal
  [(wieght-equal [(asset "A")])
   (if (> (rsi "B" {:window 0}) 50) [(asset "B")] [(asset "C")])
   (filter (cumulative-return {:window 5}) (select-top 1) [(asset "D") (frobnicate "E")])]))
"""
UNNORMALISED = """(defsymphony "Weights" {}
 (weight-specified 0.5 (asset "A") 0.3 (asset "B")))
"""


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "the_alchemiser", "validate", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_invalid_node_is_reported_first_one_raised() -> None:
    with pytest.raises(DslValidationError) as caught:
        parse_strategy(THREE_ERRORS, file="three.clj")
    error = caught.value
    assert str(error).startswith("three.clj:3:4: unknown operator 'wieght-equal'")  # the first, as before
    assert [(e.line, e.column) for e in error.errors] == [(3, 4), (4, 11), (5, 72)]
    messages = [e.message for e in error.errors]
    assert messages[0] == "unknown operator 'wieght-equal' (did you mean 'weight-equal'?)"
    assert messages[1] == ":window must be a whole number >= 1, found 0"
    assert messages[2].startswith("unknown operator 'frobnicate'")


def test_unknown_operator_did_you_mean() -> None:
    for typo, meant in (
        ("weight-equl", "weight-equal"),
        ("select-tpo", "select-top"),
        ("moving-average-prise", "moving-average-price"),
    ):
        body = f'({typo} [(asset "A")])' if typo == "weight-equl" else None
        if typo == "select-tpo":
            body = f'(filter (rsi {{:window 3}}) ({typo} 1) [(asset "A")])'
        if typo == "moving-average-prise":
            body = f'(if (> ({typo} "A" {{:window 3}}) 1) [(asset "A")] [(asset "B")])'
        with pytest.raises(DslValidationError, match=rf"unknown operator '{typo}' \(did you mean '{meant}'\?\)"):
            parse_strategy(f'(defsymphony "T" {{}} {body})')
    with pytest.raises(DslValidationError) as caught:
        parse_strategy('(defsymphony "T" {} (zzzzzz [(asset "A")]))')
    assert caught.value.message == "unknown operator 'zzzzzz'"  # nothing close: no guess


def test_weights_that_do_not_sum_to_one_or_a_hundred_warn_and_are_normalised() -> None:
    strategy = parse_strategy(UNNORMALISED, file="w.clj")
    assert strategy.warnings == ("w.clj:2:2: weight-specified weights sum to 0.8, not 1 or 100: they are normalised",)
    assert strategy.root.weights == pytest.approx((0.625, 0.375))  # type: ignore[attr-defined]
    for fine in ('0.6 (asset "A") 0.4 (asset "B")', '60 (asset "A") 40 (asset "B")', '1 (asset "A") 0 (asset "B")'):
        assert parse_strategy(f'(defsymphony "T" {{}} (weight-specified {fine}))').warnings == ()


def test_validate_json_reports_errors_and_warnings_per_file(tmp_path: Path) -> None:
    (tmp_path / "three.clj").write_text(THREE_ERRORS)
    (tmp_path / "weights.clj").write_text(UNNORMALISED)
    (tmp_path / "broken.clj").write_text('(defsymphony "x" {} (asset "A")')
    result = cli("--json", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == ""
    reports = {Path(r["file"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(reports) == {"three.clj", "weights.clj", "broken.clj"}
    three = reports["three.clj"]
    assert three["ok"] is False and three["warnings"] == []
    assert [(e["line"], e["column"]) for e in three["errors"]] == [(3, 4), (4, 11), (5, 72)]
    assert three["errors"][0]["text"].startswith(f"{tmp_path / 'three.clj'}:3:4: unknown operator 'wieght-equal'")
    broken = reports["broken.clj"]
    assert broken["ok"] is False and len(broken["errors"]) == 1 and broken["errors"][0]["line"] == 1
    weights = reports["weights.clj"]
    assert weights["ok"] is True and weights["errors"] == []
    assert weights["universe"] == ["A", "B"] and weights["max_lookback"] == 1
    assert weights["warnings"] == [
        f"{tmp_path / 'weights.clj'}:2:2: weight-specified weights sum to 0.8, not 1 or 100: they are normalised"
    ]


def test_validate_text_prints_every_error_and_warning_on_stderr(tmp_path: Path) -> None:
    (tmp_path / "three.clj").write_text(THREE_ERRORS)
    (tmp_path / "weights.clj").write_text(UNNORMALISED)
    result = cli(str(tmp_path / "three.clj"), str(tmp_path / "weights.clj"))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[0] for line in lines] == ["error", "error", "error", "warning"]
    assert "three.clj:5:72: unknown operator 'frobnicate'" in lines[2]
    assert "weights.clj: OK" in result.stdout and "three.clj" not in result.stdout


def test_a_repeated_subtree_is_built_once_and_counted_as_written() -> None:
    branch = '(if (> (rsi "A" {:window 3}) 50) [(asset "A")] [(asset "B")])'
    strategy = parse_strategy(f'(defsymphony "T" {{}} (weight-equal [{branch} {branch} (group "g" [{branch}])]))')
    assert strategy.node_count == 3 * 6 + 2  # each copy: if, compare, rsi, 50, two assets; group, weight-equal
    assert strategy.distinct_nodes == 8  # the copy's six once, the group, the weight-equal
    bad = '(if (> (rsi "A" {:window 0}) 50) [(asset "A")] [(asset "B")])'
    with pytest.raises(DslValidationError) as caught:
        parse_strategy(f'(defsymphony "T" {{}}\n (weight-equal [{bad}\n {bad}]))')
    assert [e.line for e in caught.value.errors] == [2]  # an invalid subtree repeated: named once, where first
