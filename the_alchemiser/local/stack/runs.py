"""What a local run keeps: its own folder per run, a `latest` link, and the kept account's timeline.

- `output/<date>/<run-id>/`: every run writes only into a folder of its own (the run id is the wall
  time it started, unique), so a rerun, a no-op or a failed run never removes or overwrites an earlier
  run's files. `output/<date>/latest` points at the day's last run whose workflow completed.
- `output/state/timeline.json`: the first and last day the kept account traded. A day before the last
  one would trade an account that already lived past it, and a day after the market's last bars has no
  market: both are refused (a fresh account may start on any day the market has)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path

from the_alchemiser.shared.calendar import NEW_YORK

PROJECT_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_OUTPUT = PROJECT_ROOT / "output"

LATEST = "latest"
TIMELINE_FILE = "timeline.json"
OUTPUT_FILES = (
    "summary.txt",
    "email.txt",
    "report.csv",
    "report.html",
    "positions.txt",
    "events.jsonl",
    "logs.jsonl",
)


def state_dir(output_dir: Path) -> Path:
    """What runs in `output_dir` keep for the next: the broker's account, the tables, the timeline."""
    return output_dir / "state"


def new_run_dir(output_dir: Path, day: date, now: datetime | None = None) -> Path:
    """A folder no earlier run has used: output/<date>/<UTC start time>[-n]."""
    day_dir = output_dir / day.isoformat()
    day_dir.mkdir(parents=True, exist_ok=True)
    stem = (now or datetime.now(UTC)).strftime("run-%Y%m%dT%H%M%SZ")
    for attempt in range(1, 1000):
        candidate = day_dir / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"no free run folder under {day_dir}")


def mark_latest(run_dir: Path) -> None:
    """Point output/<date>/latest at `run_dir` (a relative symlink, replaced atomically)."""
    link = run_dir.parent / LATEST
    staging = run_dir.parent / f".{LATEST}-{run_dir.name}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(run_dir.name, target_is_directory=True)
    os.replace(staging, link)


def written_outputs(run_dir: Path) -> list[str]:
    """The run's output files that exist, in the order the README lists them."""
    return [name for name in OUTPUT_FILES if (run_dir / name).is_file()]


@dataclass(frozen=True)
class Timeline:
    first_day: date
    last_day: date

    @classmethod
    def read(cls, state_dir: Path) -> Timeline | None:
        path = state_dir / TIMELINE_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(date.fromisoformat(data["first_day"]), date.fromisoformat(data["last_day"]))

    def after(self, day: date) -> Timeline:
        return Timeline(min(self.first_day, day), max(self.last_day, day))

    def write(self, state_dir: Path) -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        body = {"first_day": self.first_day.isoformat(), "last_day": self.last_day.isoformat()}
        (state_dir / TIMELINE_FILE).write_text(json.dumps(body, indent=2) + "\n")


def timeline_refusal(day: date, kept: Timeline | None, market_last_day: date, *, fresh: bool) -> str | None:
    """Why `day` cannot run on the kept account (None when it can)."""
    if day > market_last_day:
        return f"{day} is after {market_last_day}, the last day the market has bars for: there is no market to trade"
    if kept is not None and not fresh and day < kept.last_day:
        return (
            f"{day} is before {kept.last_day}, the last day the kept account traded (since {kept.first_day}): "
            "trading an earlier day would move the account back in time. Use --fresh for a new account, "
            "or a day from " + kept.last_day.isoformat()
        )
    return None


def today_in_new_york() -> date:
    return datetime.now(NEW_YORK).date()


def choose_day(requested: date | None, today: date) -> date:
    """The requested day, or the most recent trading day (so a weekend run still trades)."""
    from the_alchemiser.shared.calendar import nyse_calendar

    return requested if requested is not None else nyse_calendar().latest_trading_day(today)


def not_a_trading_day(day: date) -> str | None:
    """Why nothing runs on `day` (naming the next trading day), or None on a trading day."""
    from the_alchemiser.shared.calendar import nyse_calendar

    calendar = nyse_calendar()
    if calendar.run_time(day) is not None:
        return None
    return (
        f"{day} is not a trading day (a weekend or a market holiday): nothing ran; "
        f"the next trading day is {calendar.next_trading_day(day)}"
    )


def record_closed_day(run_dir: Path, day: date, note: str, say: Callable[[str], None]) -> None:
    """Decided before anything starts: the note as the summary, one log line, no stack, no DynamoDB Local."""
    from the_alchemiser.shared.logging import configure_logging, get_logger
    from the_alchemiser.shared.stamps import stamped_by

    stamp = datetime.combine(day, time(15, 30), NEW_YORK)
    with (run_dir / "logs.jsonl").open("w") as log_file, stamped_by(lambda: stamp):
        configure_logging("INFO", stream=log_file)
        try:
            get_logger(__name__).info("not_a_trading_day", day=day.isoformat(), note=note)
        finally:
            configure_logging("INFO", stream=sys.stdout)
    (run_dir / "summary.txt").write_text(note + "\n")
    say(note)
    say(f"Output: {run_dir} ({', '.join(written_outputs(run_dir))})")
