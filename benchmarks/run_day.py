"""`make run` benchmark (`make bench`): the whole `run` command (one local trading day: emulated AWS from
template.yaml, DynamoDB Local, the local paper broker, the synthetic market, every handler), a fresh process
and a fresh output folder each time, with its set-up split into phases as the run reports them
(ALCHEMISER_RUN_TIMINGS=1): start-up (interpreter and imports, until run_trading_day is entered), local AWS
(moto; DynamoDB Local launched, not waited for), template, provision (queues, buckets, topics, buses),
market and broker, tables (what is left of waiting for DynamoDB Local, then the tables), the day itself
(handlers), outputs.

Wall time, and the CPU time (user+system of the command and of what it waited for: the JVM too) and peak
RSS from the child's own rusage. With `--before REV` the same runs from that commit's tree (git archive,
the same .venv) come side by side, in the same invocation. The first run of each tree is not counted (it
fills the bytecode cache of its own, PYTHONPYCACHEPREFIX; issue #16 excludes the first run after install).

Target on a quiet 2-core machine: the whole `make run` under 8 s wall.

    python benchmarks/run_day.py [--repeats N] [--before REV] [--date YYYY-MM-DD]

Exits non-zero when a run fails or prints no timings."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from dsl import LAUNCHER, MeasureError, Tree, extract  # benchmarks/dsl.py: one launcher, one way to run a tree

REPO = Path(__file__).resolve().parents[1]
DAY = "2026-11-20"
TARGET_S = 8.0
TIMINGS_ENV = "ALCHEMISER_RUN_TIMINGS"


def run_once(tree: Tree, output: Path, day: str) -> dict[str, float]:
    import subprocess

    args = [sys.executable, "-m", "the_alchemiser", "run", "--date", day, "--output", str(output)]
    env = {**tree.env, TIMINGS_ENV: "1"}
    launched = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, *args],
        cwd=tree.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    head, _, tail = launched.stderr.rpartition("\nLAUNCHER ")
    if launched.returncode or not tail:
        raise MeasureError(f"run ({tree.label}) exited {launched.returncode}: {head.strip()[-800:]}")
    wall, cpu, max_rss_kib = tail.split()
    figures = {"wall": float(wall), "cpu": float(cpu), "rss": int(max_rss_kib) / 1024}
    line = next((x for x in head.splitlines() if x.startswith('{"timings"')), None)
    if line is not None:
        timings = json.loads(line)["timings"]
        entered = timings.pop("entered")
        figures["phases"] = timings  # type: ignore[assignment]
        figures["entered"] = entered
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="counted runs per tree; the best counts (2)")
    parser.add_argument("--before", metavar="REV", help="also run from this commit's tree, side by side")
    parser.add_argument("--date", default=DAY, metavar="YYYY-MM-DD", help=f"the trading day ({DAY})")
    args = parser.parse_args(argv)
    if shutil.which("java") is None:
        print("error: java is not on PATH: DynamoDB Local cannot start, nothing comparable to measure", file=sys.stderr)
        return 1
    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="run-day-bench-") as tmp:
        cache = Path(tmp) / "pycache"
        trees = [Tree("now", REPO, cache)]
        try:
            if args.before:
                trees.append(Tree(f"before ({args.before})", extract(args.before, Path(tmp)), cache))
            results: dict[str, list[dict[str, float]]] = {}
            for tree in trees:
                run_once(tree, Path(tmp) / f"warm-{len(results)}", args.date)  # not counted
                results[tree.label] = [
                    run_once(tree, Path(tmp) / f"out-{len(results)}-{i}", args.date) for i in range(args.repeats)
                ]
        except MeasureError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"`run --date {args.date}`, a fresh process and output folder each, best of {args.repeats} by wall:")
    best_now = None
    for label, runs in results.items():
        best = min(runs, key=lambda r: r["wall"])
        best_now = best_now or best
        every = ", ".join(f"{r['wall']:.2f}/{r['cpu']:.2f}" for r in runs)
        print(f"  {label:22s} {best['wall']:6.2f} s wall  {best['cpu']:6.2f} s CPU  {best['rss']:6.1f} MiB")
        print(f"    every run, wall/CPU s: {every}; least CPU {min(r['cpu'] for r in runs):.2f} s")
        phases = best.get("phases")
        if isinstance(phases, dict):
            split = "  ".join(f"{name} {seconds:.2f}" for name, seconds in phases.items())
            print(f"    phases (s): {split}")
    assert best_now is not None
    verdict = "met" if best_now["wall"] < TARGET_S else ("met on CPU only" if best_now["cpu"] < TARGET_S else "MISSED")
    print(f"  target < {TARGET_S:g} s wall on a quiet machine: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
