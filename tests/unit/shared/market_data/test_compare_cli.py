"""`compare` against a Composer CSV built from the engine's own answers, with days deliberately changed:
exactly those days are reported, each with the decision that differs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from the_alchemiser.cli import main
from the_alchemiser.local.synthetic_market import generate_market
from the_alchemiser.shared.calendar import nyse_calendar
from the_alchemiser.shared.market_data.csv_directory import CsvDirectoryMarketData
from the_alchemiser.strategy_v2.dsl import evaluate_strategy, load_strategy

END = date(2024, 6, 28)
IF_STRATEGY = """
(defsymphony "Flip" {:asset-class "EQUITIES" :rebalance-frequency :daily}
  (if (> (rsi "SPY" {:window 5}) 50)
    [(asset "QQQ" nil)]
    [(weight-equal [(asset "TLT" nil) (asset "GLD" nil)])]))
"""
FILTER_STRATEGY = """
(defsymphony "Pick one" {:asset-class "EQUITIES" :rebalance-frequency :daily}
  (group "Momentum"
    [(filter (cumulative-return {:window 3}) (select-top 1) [(asset "QQQ" nil) (asset "GLD" nil) (asset "TLT" nil)])]))
"""


@pytest.fixture
def data(tmp_path: Path) -> Path:
    market = CsvDirectoryMarketData(tmp_path / "bars")
    for symbol, frame in generate_market(["SPY", "QQQ", "TLT", "GLD"], end=END, days=120, seed=5).items():
        market.write(symbol, frame)
    return market.directory


def composer_rows(path: Path, data: Path, days: list[date], name: str) -> list[dict[str, object]]:
    """What Composer would show for day D: the engine's answer as of the previous trading day, 3 decimals."""
    strategy = load_strategy(path)
    calendar = nyse_calendar()
    rows = []
    for day in days:
        weights = evaluate_strategy(strategy, CsvDirectoryMarketData(data), calendar.previous_trading_day(day)).weights
        rows.append({"date": day, "strategy": name, "weights": {s: round(w, 3) for s, w in weights.items()}})
    return rows


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    lines = ["date,strategy,weights"]
    lines += [f'{r["date"]},{r["strategy"]},"{json.dumps(r["weights"]).replace(chr(34), chr(34) * 2)}"' for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["compare", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_one_changed_day_is_reported_with_the_if_that_differs(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strategy = tmp_path / "flip.clj"
    strategy.write_text(IF_STRATEGY)
    days = nyse_calendar().trading_days(date(2024, 6, 3), END)
    rows = composer_rows(strategy, data, days, "flip.clj")
    composer = tmp_path / "composer.csv"
    write_csv(composer, rows)

    code, out, err = run(capsys, str(strategy), "--data", str(data), "--composer", str(composer))
    assert code == 0, out + err
    assert out.strip().splitlines()[-1] == f"{len(days)}/{len(days)} strategy-days match"
    assert "match (as of D-1" in out

    # one day where Composer shows the other branch; the name may be the defsymphony name too
    changed = next(i for i, r in enumerate(rows) if "QQQ" in r["weights"])  # type: ignore[operator]
    rows[changed]["weights"] = {"TLT": 0.5, "GLD": 0.5}
    for row in rows[::2]:
        row["strategy"] = "Flip"
    write_csv(composer, rows)
    code, out, _ = run(capsys, str(strategy), "--data", str(data), "--composer", str(composer))
    assert code == 1
    lines = out.strip().splitlines()
    mismatches = [line for line in lines if "MISMATCH" in line]
    assert mismatches == [f"{days[changed]}  Flip  MISMATCH: Composer {{GLD: 0.500, TLT: 0.500}}"]
    decision = next(line for line in lines if "first differing decision" in line)
    assert "first differing decision: if rsi(SPY, 5) > 50: rsi(SPY, 5)=" in decision
    assert " > 50 (margin " in decision and "the engine took then, Composer's holdings are in else" in decision
    assert lines[-1] == f"{len(days) - 1}/{len(days)} strategy-days match"


def test_a_filter_that_kept_another_candidate_is_named_with_its_scores(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strategy = tmp_path / "pick.clj"
    strategy.write_text(FILTER_STRATEGY)
    days = nyse_calendar().trading_days(date(2024, 6, 17), END)
    rows = composer_rows(strategy, data, days, "pick")
    held = next(iter(rows[3]["weights"]))  # type: ignore[call-overload]
    rows[3]["weights"] = {next(s for s in ("QQQ", "GLD", "TLT") if s != held): 1.0}
    code, out, _ = run(
        capsys, str(strategy), "--data", str(data), "--composer", str(write_csv(tmp_path / "c.csv", rows))
    )
    assert code == 1
    decision = next(line for line in out.splitlines() if "first differing decision" in line)
    assert "[Momentum] filter cumulative-return" in decision and f"the engine kept {held}=" in decision
    assert "(margin " in decision
    assert out.strip().splitlines()[-1] == f"{len(days) - 1}/{len(days)} strategy-days match"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("day,name,w\n", "header must name date,strategy,weights"),
        ('date,strategy,weights\n2024-06-03,flip,"{not json}"\n', "composer.csv:2"),
        ('date,strategy,weights\n2024-06-03,someone else,"{}"\n', "strategies not given: someone else"),
    ],
)
def test_bad_composer_files_are_one_line(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    strategy = tmp_path / "flip.clj"
    strategy.write_text(IF_STRATEGY)
    composer = tmp_path / "composer.csv"
    composer.write_text(content)
    code, _, err = run(capsys, str(strategy), "--data", str(data), "--composer", str(composer))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
