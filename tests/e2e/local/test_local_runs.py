"""The local day's records and timeline: each run its own folder, earlier runs never touched, a holiday
answered before anything starts, the kept account never moved back in time, the simulated clock on
every event and log line."""

from __future__ import annotations

import json
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from the_alchemiser.local.stack.day import DayOptions, DayResult, run_trading_day
from the_alchemiser.shared.calendar import NEW_YORK

DAY = date(2026, 11, 20)  # a Friday
NEXT_DAY = date(2026, 11, 23)
HOLIDAY = date(2026, 11, 26)  # Thanksgiving
TODAY = date(2026, 11, 27)  # what "today" is for these tests: the market's last bars are of this day

pytestmark = pytest.mark.timeout(900)


def run_day(output: Path, day: date = DAY, **changes: Any) -> DayResult:
    return run_trading_day(DayOptions(day=day, output_dir=output, quiet=True, today=TODAY, **changes))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_holiday_answers_in_under_two_seconds_of_cpu_without_starting_dynamodb_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import the_alchemiser.local.dynamodb_local as dynamodb_local

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a holiday must not start DynamoDB Local")

    monkeypatch.setattr(dynamodb_local, "start_dynamodb_local", refuse)
    monkeypatch.setattr(dynamodb_local, "launch_dynamodb_local", refuse)
    started = time.process_time()
    result = run_day(tmp_path, HOLIDAY)
    cpu = time.process_time() - started
    assert cpu < 2.0, f"{cpu:.2f} s of CPU for a holiday"
    assert result.holiday and result.outcome == "none" and not result.events
    (note,) = result.notes
    assert "2026-11-26 is not a trading day" in note and "next trading day is 2026-11-27" in note
    assert (result.output_dir / "summary.txt").read_text().startswith(note)


def test_reruns_and_failed_reruns_leave_every_earlier_runs_files_byte_identical(tmp_path: Path) -> None:
    first = run_day(tmp_path)
    assert first.outcome == "completed", first.summary
    day_dir = tmp_path / DAY.isoformat()
    assert first.output_dir.parent == day_dir and first.output_dir != day_dir
    assert (day_dir / "latest").resolve() == first.output_dir.resolve()
    before = snapshot(first.output_dir)
    assert {"summary.txt", "email.txt", "report.csv", "report.html", "events.jsonl", "logs.jsonl"} <= set(before)
    output_line = next(line for line in first.printed.splitlines() if line.startswith("Output:"))
    assert "report.csv, report.html," in output_line  # the closing line lists the page

    again = run_day(tmp_path)  # a no-op: the workflow lock holds
    assert again.outcome == "none" and again.output_dir != first.output_dir

    def crash(router: Any) -> None:
        raise RuntimeError("the run died half way")

    with pytest.raises(RuntimeError, match="half way"):
        run_day(tmp_path, before_run=crash)

    assert snapshot(first.output_dir) == before
    assert (day_dir / "latest").resolve() == first.output_dir.resolve()  # the last successful run
    assert len([p for p in day_dir.iterdir() if p.name != "latest"]) == 3
    # the no-op's closing line names only files it wrote
    summary_line = next(line for line in again.printed.splitlines() if line.startswith("Output:"))
    listed = summary_line.split("(", 1)[1].rstrip(")").split(", ")
    assert listed and all((again.output_dir / name).exists() for name in listed)
    assert "report.csv" not in listed and "report.html" not in listed


def test_the_kept_account_refuses_to_move_back_in_time_or_past_the_markets_last_day(tmp_path: Path) -> None:
    assert run_day(tmp_path, NEXT_DAY).outcome == "completed"
    with pytest.raises(SystemExit) as earlier:
        run_day(tmp_path, DAY)
    assert "2026-11-20 is before 2026-11-23" in str(earlier.value) and "--fresh" in str(earlier.value)
    with pytest.raises(SystemExit) as future:
        run_day(tmp_path, date(2027, 3, 15))
    assert "2027-03-15 is after 2026-11-27" in str(future.value)
    assert run_day(tmp_path, DAY, fresh_broker=True).outcome == "completed"  # a new account starts anywhere


def test_every_event_and_log_line_carries_the_simulated_day(tmp_path: Path) -> None:
    result = run_day(tmp_path)
    assert result.outcome == "completed", result.summary
    run_at = datetime(2026, 11, 20, 15, 30, tzinfo=NEW_YORK)
    for event in result.events:
        stamp = event.timestamp.astimezone(NEW_YORK)
        assert stamp.date() == DAY and stamp >= run_at, (event.event_type, stamp)
    stamps = [json.loads(line)["timestamp"] for line in (result.output_dir / "logs.jsonl").read_text().splitlines()]
    assert stamps and all(datetime.fromisoformat(s).astimezone(NEW_YORK).date() == DAY for s in stamps)


def test_the_readme_example_runs_two_of_the_strategies(tmp_path: Path) -> None:
    """`make run ARGS="--strategies nuclear.clj klm.clj"` (here with the path tab completion gives)."""
    result = run_day(tmp_path, strategies=["strategies/nuclear.clj", "klm.clj"])
    assert result.outcome == "completed", result.summary
    started = next(e for e in result.events if e.event_type == "WorkflowStarted")
    assert set(started.strategies) == {"nuclear.clj", "klm.clj"}  # type: ignore[attr-defined]
    assert sum(started.strategies.values()) == 1  # type: ignore[attr-defined]


def test_the_holiday_command_uses_under_two_seconds_of_cpu_from_process_start(tmp_path: Path) -> None:
    """`python -m the_alchemiser run --date <holiday>` as a user types it: imports included."""
    import resource
    import subprocess
    import sys

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-m", "the_alchemiser", "run", "--date", HOLIDAY.isoformat(), "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert done.returncode == 0, done.stderr
    assert "next trading day is 2026-11-27" in done.stdout
    assert cpu < 2.0, f"{cpu:.2f} s of CPU"
    assert not (tmp_path / "state").exists()  # no account, no tables, no DynamoDB Local
