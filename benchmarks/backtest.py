"""Backtest benchmark (`make bench`): the whole `backtest` command, as a user runs it, on a 10-year
daily backtest of all 16 corpus files as one portfolio, and of ftl_starburst.clj alone, on the
synthetic market (`data synth`). Prints each run's wall time split into start-up (interpreter and
imports), data (reading the bars), evaluation (the signals engine over the range), statistics (the
simulation and the figures), report (building report.html), write (the four files) and the rest
(argument checks, loading the strategy files, exit), plus the CPU time and the report's size.

Targets on a 2-core machine: under 10 s for the whole command, ftl_starburst alone under 3 s. The
machine is shared: the load average is printed, and a target missed on wall time but met on CPU time
says so. Exits non-zero when there is nothing to measure (no corpus) or a run fails.

Start-up depends on Python's bytecode cache: where PYTHONDONTWRITEBYTECODE is set and the packages
were installed without .pyc files (uv's default), every run compiles pandas from source (~4 s of
CPU). The runs here use a bytecode cache of their own (PYTHONPYCACHEPREFIX in a temporary
directory): the first run of each case fills it and is printed apart as "cold"; the best of the
others is the figure (what every run after the first costs a user).

    python benchmarks/backtest.py [--corpus DIR] [--repeats N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from dsl import verdict  # benchmarks/dsl.py: one rule for "met / met on CPU only / MISSED"

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "symphonies"
END = date(2026, 11, 20)
START = date(2016, 11, 21)  # ten years of trading days before END
HISTORY_DAYS = 3120  # the ten years plus the longest corpus lookback (560 closes) and a margin
PHASES = ("data", "evaluation", "statistics", "report", "write")
TARGET_ALL_S = 10.0
TARGET_ONE_S = 3.0
TIMINGS_ENV = "ALCHEMISER_BACKTEST_TIMINGS"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "the_alchemiser", *args]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_environment(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, TIMINGS_ENV: "1", "PYTHONPYCACHEPREFIX": str(cache)}


def timed_backtest(files: list[Path], data: Path, out: Path, env: dict[str, str]) -> dict[str, float]:
    """One run of the command: wall and CPU seconds, and its phases as it reports them."""
    args = command("backtest", *map(str, files), "--data", str(data), "--start", START.isoformat(),
                   "--end", END.isoformat(), "--out", str(out), "--benchmark", "SPY")  # fmt: skip
    cpu, spawned, wall = children_cpu(), time.time(), time.perf_counter()
    result = subprocess.run(args, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    wall = time.perf_counter() - wall
    cpu = children_cpu() - cpu
    if result.returncode != 0:
        raise RuntimeError(f"backtest failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    line = next((x for x in result.stderr.splitlines() if x.startswith('{"timings"')), None)
    if line is None:
        raise RuntimeError("the command printed no timings line")
    timings = json.loads(line)["timings"]
    figures = {"wall": wall, "cpu": cpu, "start-up": max(0.0, timings["entered"] - spawned)}
    figures.update({phase: timings[phase] for phase in PHASES})
    figures["rest"] = wall - figures["start-up"] - sum(timings[p] for p in PHASES)
    figures["report_bytes"] = float((out / "report.html").stat().st_size)
    figures["late_starts"] = float(result.stderr.count("note: "))
    return figures


def report(title: str, cold: dict[str, float], runs: list[dict[str, float]], target: float) -> None:
    best = min(runs, key=lambda r: r["wall"])
    split = "  ".join(f"{name} {best[name]:.2f}" for name in ("start-up", *PHASES, "rest"))
    print(f"{title}: best of {len(runs)} runs {best['wall']:.2f} s wall, {best['cpu']:.2f} s CPU  "
          f"{verdict(best['wall'], min(r['cpu'] for r in runs), target)}")  # fmt: skip
    print(f"  split (s): {split}")
    walls = ", ".join(f"{r['wall']:.2f}" for r in runs)
    print(f"  report.html {best['report_bytes'] / 1024:.0f} KB; all walls: {walls}; first run "
          f"{cold['wall']:.2f} s wall (start-up {cold['start-up']:.2f} s)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help=f"directory of .clj files ({DEFAULT_CORPUS})"
    )
    parser.add_argument("--repeats", type=int, default=2, help="warm runs of each case; the best counts (2)")
    args = parser.parse_args(argv)
    files = sorted(args.corpus.glob("*.clj"))
    if not files:
        print(f"no .clj files in {args.corpus}: nothing to measure", file=sys.stderr)
        return 1
    starburst = [f for f in files if f.name == "ftl_starburst.clj"]
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="backtest-bench-") as tmp:
        data = Path(tmp) / "market"
        synth = command("data", "synth", "--symbols-from", str(args.corpus), "--days", str(HISTORY_DAYS),
                        "--end", END.isoformat(), "--out", str(data))  # fmt: skip
        made = subprocess.run(synth, cwd=REPO, capture_output=True, text=True, timeout=600)
        if made.returncode != 0:
            print(f"data synth failed: {made.stderr.strip()}", file=sys.stderr)
            return 1
        print(f"market: {made.stdout.strip()}")
        print(f"backtest {START} .. {END} (10 years of trading days), benchmark SPY, the whole command:")
        env = child_environment(Path(tmp) / "pycache")
        try:
            for title, chosen, target in (
                (f"  all {len(files)} files as one portfolio", files, TARGET_ALL_S),
                ("  ftl_starburst.clj alone", starburst, TARGET_ONE_S),
            ):
                if not chosen:
                    print("  ftl_starburst.clj is not in the corpus: its figure is not measured")
                    continue
                runs = [timed_backtest(chosen, data, Path(tmp) / f"out{i}", env) for i in range(args.repeats + 1)]
                report(title, runs[0], runs[1:], target)
                if runs[0]["late_starts"]:
                    print(
                        f"  ({runs[0]['late_starts']:.0f} late-start notes: the history is shorter than the lookbacks)"
                    )
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            print(f"cannot measure: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
