"""Cold start figures (`make bench`): how long each Lambda's handler module takes to import in a fresh
interpreter, without and with .pyc, and how large each deploy unit and SharedCodeLayer are unzipped.

Import time, two setups, said in the output:
- Lambda's python3.12 (when scripts/build_env.sh finds one and `make build` has run): the handler shim
  imported by `python3.12 -S -B` with only the built layer and unit on the path, as on Lambda. "with .pyc"
  is the build as shipped (the layer is bytecode, the unit has its __pycache__); "without .pyc" is the same
  layer built from source (LAMBDA_PYTHON=none, cached in .cache/cold-start/) and a copy of the unit without
  its __pycache__: what every cold start paid before the build compiled. The interpreter's own standard
  library keeps its bytecode there, as in Lambda's runtime (a CPython `make install` compiles it, and its
  /var/lang is read-only, so a runtime without it would compile the stdlib on every cold start). "nothing
  compiled" also hides the standard library's bytecode (an empty PYTHONPYCACHEPREFIX): the upper bound.
- Otherwise (or with --proxy) a stated proxy: this machine's python (3.11) with the project's .venv, the
  repo's package; "without .pyc" hides every cache behind an empty PYTHONPYCACHEPREFIX, "with .pyc" uses
  the caches `make install` compiled (a 3.11 .pyc: never shipped, only measurable here).
Each handler is imported RUNS times per way in new processes (medians of wall and CPU time), plus one
`python -X importtime` run for the slowest third-party packages; "pandas/numpy" says whether the handler's
import loaded either. Lambda's own init also pays for reading the zip and starting the runtime.

Sizes: the unzipped bytes of .aws-sam/build/<Function> and .aws-sam/build/SharedCodeLayer (run
`make build` first; without a build only the import times are printed). Issue 16's target is 110 MB for
the layer plus the largest function; Lambda's limit is 250 MB for a function plus its layers, unzipped."""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUILD = REPO / ".aws-sam" / "build"
CACHE = REPO / ".cache" / "cold-start"
RUNS = int(os.environ.get("COLD_START_RUNS", "3"))
OWN_MODULES = {"lambda_handler", "the_alchemiser"}
LAMBDA_LIMIT_BYTES = 250 * 1024 * 1024
TARGET_BYTES = 110 * 1024 * 1024
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
heavy = int(any(m in sys.modules for m in ("pandas", "numpy")))
print(elapsed, cpu, heavy)
"""


@dataclass
class Way:
    """One way of importing a handler: which python, its flags, its environment, the paths per unit."""

    label: str
    python: str
    flags: list[str]
    env: dict[str, str] = field(default_factory=dict)
    layer: str = ""  # the layer's python/ folder, first on the path (Lambda's /opt/python)
    units: dict[str, list[str]] | None = None  # replaces Setup.paths (a unit's copy without __pycache__)


@dataclass
class Setup:
    description: str
    without: Way
    with_pyc: Way
    paths: dict[str, list[str]]  # function -> sys.path entries after the way's layer (the unit, the repo)
    nothing_compiled: Way | None = None


def source_units(units: dict[str, Path], into: Path) -> dict[str, list[str]]:
    """Copies of the built units without their __pycache__ (the build compiles them in place)."""
    copies = {}
    for function, unit in units.items():
        copy = into / function
        shutil.copytree(unit, copy, ignore=shutil.ignore_patterns("__pycache__"))
        copies[function] = [str(copy)]
    return copies


@functools.cache
def template_globals_env() -> dict[str, str]:
    """The plain-string variables every function gets from template.yaml's Globals (Lambda sets them before
    the import); references to resources are left out."""
    from the_alchemiser.local.template import load_template

    variables = load_template(REPO / "template.yaml").get("Globals", {}).get("Function", {})
    variables = variables.get("Environment", {}).get("Variables", {})
    return {name: value for name, value in variables.items() if isinstance(value, str)}


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """No AWS or project variables: the import must not depend on them (handlers build lazily). The
    template's Globals variables are set, as Lambda sets them."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return env | template_globals_env() | (extra or {})


def lambda_python() -> str:
    found = subprocess.run(
        ["bash", "-c", 'source scripts/build_env.sh && find_lambda_python && printf %s "$LAMBDA_PYTHON"'],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout.strip() if found.returncode == 0 else ""


def source_layer() -> Path:
    """The layer as built without a python3.12: source only (cached per uv.lock and build scripts)."""
    digest = hashlib.sha256()
    for path in [
        REPO / "uv.lock",
        *sorted((REPO / "scripts").glob("*.sh")),
        REPO / "scripts" / "layer_requirements.py",
    ]:
        digest.update(path.read_bytes())
    layer = CACHE / f"layer-source-{digest.hexdigest()[:12]}"
    if not (layer / "python").is_dir():
        print(f"building the source-only layer for the 'without .pyc' figures into {layer} ...", flush=True)
        shutil.rmtree(CACHE, ignore_errors=True)
        built = subprocess.run(
            ["bash", "scripts/build_layer.sh", str(layer)],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "LAMBDA_PYTHON": "none"},
        )
        if built.returncode != 0:
            sys.exit(f"building the source-only layer failed:\n{built.stderr[-3000:]}")
    return layer / "python"


def built_units() -> dict[str, Path] | None:
    units = {f: BUILD / f for f in FUNCTIONS}
    if (BUILD / "SharedCodeLayer" / "python").is_dir() and all(
        (u / "lambda_handler.py").is_file() for u in units.values()
    ):
        return units
    return None


def choose_setup(proxy: bool, empty_cache: str) -> Setup:
    hide_caches = {"PYTHONPYCACHEPREFIX": f"{empty_cache}/no-pycache", "PYTHONDONTWRITEBYTECODE": "1"}
    python312 = "" if proxy else lambda_python()
    units = built_units()
    layer = BUILD / "SharedCodeLayer" / "python"
    compiled = units is not None and (layer / "boto3" / "__init__.pyc").is_file()
    if python312 and units is not None and compiled:
        source = str(source_layer())
        copies = source_units(units, Path(empty_cache) / "units")
        return Setup(
            description=f"Lambda's python3.12 ({python312}) over .aws-sam/build, -S: only the layer and the unit",
            without=Way("without .pyc", python312, ["-S", "-B"], {}, source, copies),
            with_pyc=Way("with .pyc", python312, ["-S", "-B"], {}, str(layer)),
            paths={f: [str(u)] for f, u in units.items()},
            nothing_compiled=Way("nothing compiled", python312, ["-S", "-B"], hide_caches, source, copies),
        )
    reason = "--proxy" if proxy else "no python3.12 found" if not python312 else "no compiled build (run `make build`)"
    return Setup(
        description=f"PROXY ({reason}): python {sys.version.split()[0]} with .venv and the repo's package; "
        "Lambda runs 3.12, and a 3.11 .pyc is never shipped",
        without=Way("without .pyc", sys.executable, [], hide_caches),
        with_pyc=Way("with .pyc", sys.executable, []),
        paths={f: [str(REPO / "functions" / d), str(REPO)] for f, d in FUNCTIONS.items()},
    )


def _command(way: Way, paths: list[str], code: str, *extra_flags: str) -> tuple[list[str], dict[str, str]]:
    full_paths = ([way.layer] if way.layer else []) + paths
    return [way.python, *way.flags, *extra_flags, "-c", code, *full_paths], clean_env(way.env)


def import_seconds(way: Way, paths: list[str]) -> tuple[float, float, bool]:
    """(wall, CPU, pandas or numpy loaded) of importing the handler module in a fresh interpreter."""
    command, env = _command(way, paths, TIMED_IMPORT)
    result = subprocess.run(command, cwd="/tmp", env=env, capture_output=True, text=True, check=True)
    wall, cpu, heavy = result.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu), heavy == "1"


def slowest_packages(way: Way, paths: list[str], count: int = 4) -> list[tuple[str, float]]:
    """Third-party top-level packages by cumulative import time (ms), from `python -X importtime`: the
    cumulative time of a package's own line covers everything imported while it loaded."""
    code = "import sys; sys.path[:0] = sys.argv[1:]; import lambda_handler"
    command, env = _command(way, paths, code, "-X", "importtime")
    result = subprocess.run(command, cwd="/tmp", env=env, capture_output=True, text=True, check=True)
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


def measure(setup: Setup) -> dict[str, dict[str, object]]:
    results: dict[str, dict[str, object]] = {}
    # one warm-up per handler so the proxy's "with .pyc" caches exist (the repo's package is compiled)
    for paths in setup.paths.values():
        import_seconds(setup.with_pyc, paths)
    for function, paths in setup.paths.items():
        row: dict[str, object] = {}
        cells = []
        heavy = False
        ways = [("without_pyc", setup.without), ("with_pyc", setup.with_pyc)]
        if setup.nothing_compiled is not None:
            ways.append(("nothing_compiled", setup.nothing_compiled))
        for key, way in ways:
            way_paths = way.units[function] if way.units else paths
            timings = [import_seconds(way, way_paths) for _ in range(RUNS)]
            wall = statistics.median(t[0] for t in timings) * 1000
            cpu = statistics.median(t[1] for t in timings) * 1000
            heavy = heavy or any(t[2] for t in timings)
            row[key] = {"median_wall_ms": round(wall), "median_cpu_ms": round(cpu)}
            cells.append(f"{way.label}: wall {wall:5.0f} ms CPU {cpu:5.0f} ms")
        row["pandas_or_numpy"] = heavy
        top = ", ".join(f"{name} {ms:.0f} ms" for name, ms in slowest_packages(setup.with_pyc, paths))
        print(f"  {function:29s} {' | '.join(cells)} | pandas/numpy: {'yes' if heavy else 'no '} (slowest: {top})")
        results[function] = row
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proxy", action="store_true", help="measure with this machine's python and .venv")
    args = parser.parse_args(argv)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="cold-start-nocache-") as empty_cache:
        setup = choose_setup(args.proxy, empty_cache)
        print(f"import: {setup.description}; {RUNS} fresh processes per handler and way, medians")
        print(f"load average {load} on {os.cpu_count()} CPUs: on a busy machine the CPU time is the steadier figure")
        results = measure(setup)

    if not (BUILD / "SharedCodeLayer").is_dir():
        print("sizes: no .aws-sam/build (run `make build` first)")
        print(json.dumps({"import": results, "setup": setup.description}))
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
    target = "under" if largest + layer < TARGET_BYTES else "OVER"
    print(
        f"largest function + layer: {mb(largest + layer)} ({target} the 110 MB target, "
        f"{verdict} Lambda's 250 MB unzipped limit)"
    )
    print(json.dumps({"import": results, "setup": setup.description, "layer_bytes": layer, "function_bytes": sizes}))
    return 0 if verdict == "under" else 1


if __name__ == "__main__":
    sys.exit(main())
