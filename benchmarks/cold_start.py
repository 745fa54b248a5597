"""Cold start figures (`make bench`): how long each Lambda's handler module takes to import in a fresh
interpreter, and how large each deploy unit and SharedCodeLayer are unzipped.

Import time: each deploy unit's shim (`functions/<name>/lambda_handler.py`) imported in a new process,
RUNS times, median wall and CPU time printed, with the slowest third-party packages from
`python -X importtime` (one run, so noisy on a busy machine).
It runs on this machine's python (3.11) with the project's .venv for third-party packages, from the
built unit in .aws-sam/build/<Function> when it exists (else from the repo): a proxy for Lambda's
python3.12 init, which also pays for reading the zip and starting the runtime.

Sizes: the unzipped bytes of .aws-sam/build/<Function> and .aws-sam/build/SharedCodeLayer (run
`make build` first; without a build only the import times are printed). Lambda's limit is 250 MB for a
function plus its layers, unzipped."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / ".aws-sam" / "build"
RUNS = int(os.environ.get("COLD_START_RUNS", "3"))
OWN_MODULES = {"lambda_handler", "the_alchemiser"}
LAMBDA_LIMIT_BYTES = 250 * 1024 * 1024
FUNCTIONS = {
    "StrategyOrchestratorFunction": "strategy_orchestrator",
    "StrategyFunction": "strategy_worker",
    "StrategyAggregatorFunction": "signal_aggregator",
    "PortfolioFunction": "portfolio",
    "ExecutionFunction": "execution",
    "NotificationsFunction": "notifications",
    "DataRefreshFunction": "data_refresh",
}
TIMED_IMPORT = """
import sys, time
sys.path[:0] = sys.argv[1:]
start, cpu_start = time.perf_counter(), time.process_time()
import lambda_handler
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
assert callable(lambda_handler.lambda_handler)
print(elapsed, cpu)
"""


def unit_dir(function: str, directory: str) -> tuple[Path, str]:
    built = BUILD / function
    if (built / "lambda_handler.py").is_file():
        return built, "built unit"
    return REPO / "functions" / directory, "repo"


def clean_env() -> dict[str, str]:
    """No AWS or project variables: the import must not depend on them (handlers build lazily)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}


def import_seconds(paths: list[str], cwd: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of importing the handler module in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", TIMED_IMPORT, *paths],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    wall, cpu = result.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def slowest_packages(paths: list[str], cwd: Path, count: int = 4) -> list[tuple[str, float]]:
    """Third-party top-level packages by cumulative import time (ms), from `python -X importtime`: the
    cumulative time of a package's own line covers everything imported while it loaded."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import sys; sys.path[:0] = {paths!r}; import lambda_handler"],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    totals: dict[str, float] = {}
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or line.count("|") != 2:
            continue
        _, cumulative, name = line.removeprefix("import time:").split("|")
        name = name.strip()
        if not cumulative.strip().isdigit() or "." in name or name in OWN_MODULES or name in sys.stdlib_module_names:
            continue
        totals[name] = max(totals.get(name, 0.0), int(cumulative) / 1000)
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def main() -> int:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"python {sys.version.split()[0]} (Lambda runs 3.12); {RUNS} fresh processes per handler, medians")
    print(f"load average {load} on {os.cpu_count()} CPUs: on a busy machine the CPU time is the steadier figure")
    cwd = Path("/tmp")
    results: dict[str, dict[str, object]] = {}
    for function, directory in FUNCTIONS.items():
        unit, source = unit_dir(function, directory)
        # without a built unit the shim's the_alchemiser comes from the repo
        paths = [str(unit)] if source == "built unit" else [str(unit), str(REPO)]
        timings = [import_seconds(paths, cwd) for _ in range(RUNS)]
        slowest = slowest_packages(paths, cwd)
        median_ms = statistics.median(wall for wall, _ in timings) * 1000
        cpu_ms = statistics.median(cpu for _, cpu in timings) * 1000
        results[function] = {"source": source, "median_wall_ms": round(median_ms), "median_cpu_ms": round(cpu_ms)}
        top = ", ".join(f"{name} {ms:.0f} ms" for name, ms in slowest)
        print(f"  {function:30s} import wall {median_ms:6.0f} ms  CPU {cpu_ms:6.0f} ms  ({source}; slowest: {top})")

    if not (BUILD / "SharedCodeLayer").is_dir():
        print("sizes: no .aws-sam/build (run `make build` first)")
        print(json.dumps({"import": results}))
        return 0
    layer = tree_bytes(BUILD / "SharedCodeLayer")
    print(f"sizes (unzipped, .aws-sam/build): SharedCodeLayer {mb(layer)}")
    sizes = {}
    for function in FUNCTIONS:
        if (BUILD / function).is_dir():
            sizes[function] = tree_bytes(BUILD / function)
            print(f"  {function:30s} {mb(sizes[function]):>9s}  with the layer {mb(sizes[function] + layer):>9s}")
    largest = max(sizes.values(), default=0)
    verdict = "under" if largest + layer < LAMBDA_LIMIT_BYTES else "OVER"
    print(f"largest function + layer: {mb(largest + layer)} ({verdict} Lambda's 250 MB unzipped limit)")
    print(json.dumps({"import": results, "layer_bytes": layer, "function_bytes": sizes}))
    return 0 if verdict == "under" else 1


if __name__ == "__main__":
    sys.exit(main())
