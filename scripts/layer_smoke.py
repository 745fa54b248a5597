"""Try SharedCodeLayer for real on this machine: build the layer (uv.lock, manylinux wheels, the same trim)
for Lambda's python3.12 when the build finds one (scripts/build_env.sh: PATH, pyenv, uv), else for this
machine's python, package every function, then in that python started without site-packages (`-S`: only
the layer and the unit on the path, as on Lambda) import every handler and exercise the heavy dependencies
(fastparquet Parquet, the NYSE calendar, boto3 clients for each service the code calls, alpaca-py,
Powertools idempotency).

It needs the package index (wheels are downloaded) and takes a minute or two. tests/infra/test_layer_build.py
runs the same check on the built layer when a python3.12 is at hand.

    python scripts/layer_smoke.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = {
    "StrategyOrchestratorFunction": "strategy_orchestrator",
    "StrategyFunction": "strategy_worker",
    "StrategyAggregatorFunction": "signal_aggregator",
    "PortfolioFunction": "portfolio",
    "ExecutionFunction": "execution",
    "NotificationsFunction": "notifications",
    "DataRefreshFunction": "data_refresh",
}
CHECK = """
import importlib.util, io, sys
from pathlib import Path
layer, units = sys.argv[1], Path(sys.argv[2])
sys.path[:0] = [layer, str(units / "StrategyFunction")]
import the_alchemiser
assert the_alchemiser.__file__.startswith(str(units)), the_alchemiser.__file__
for unit in sorted(units.iterdir()):
    spec = importlib.util.spec_from_file_location(f"shim_{unit.name}", unit / "lambda_handler.py")
    shim = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shim)
    assert callable(shim.lambda_handler)
    print("handler imports:", unit.name)
import boto3, io, fastparquet, numpy as np
from the_alchemiser.shared.market_data.datalake import from_parquet, to_parquet
from the_alchemiser.shared.market_data.stored_bars import StoredBars
dates = np.array(["2026-11-19", "2026-11-20"], dtype="datetime64[D]")
body = to_parquet(StoredBars(dates, *([np.array([1.0, 2.0])] * 6)))
back = from_parquet("SPY", body)
assert len(back) == 2 and len(fastparquet.ParquetFile(io.BytesIO(body)).to_pandas()) == 2
print("parquet (zstd) round trip rows, flat_parquet and fastparquet:", len(back))
from the_alchemiser.shared.calendar import nyse_calendar
from datetime import date
calendar = nyse_calendar()
assert calendar.is_early_close(date(2026, 11, 27)) and not calendar.is_trading_day(date(2026, 11, 26))
print("NYSE calendar: 2026-11-26 holiday, 2026-11-27 early close")
for service in ("s3", "events", "dynamodb", "lambda", "sqs", "sns", "secretsmanager"):
    boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
print("boto3 clients: ok")
from alpaca.trading.client import TradingClient
TradingClient("key", "secret", paper=True)
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
print("alpaca-py, powertools: ok")
"""


def lambda_python() -> str:
    """The python3.12 the build compiles with, or "" when there is none."""
    found = subprocess.run(
        ["bash", "-c", 'source scripts/build_env.sh && find_lambda_python && printf %s "$LAMBDA_PYTHON"'],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return found.stdout.strip()


def main() -> int:
    python = lambda_python() or sys.executable
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="layer-smoke-") as temp:
        root = Path(temp)
        print(f"building the layer for python {version} ({python}; Lambda's is 3.12) ...", flush=True)
        subprocess.run(
            ["bash", "scripts/build_layer.sh", str(root / "layer")],
            cwd=REPO,
            check=True,
            env={**os.environ, "LAYER_PYTHON_VERSION": version, "LAMBDA_PYTHON": python},
        )
        for function, directory in FUNCTIONS.items():
            subprocess.run(
                ["bash", "scripts/package_function.sh", f"functions/{directory}", str(root / "units" / function)],
                cwd=REPO,
                check=True,
            )
        result = subprocess.run(
            [python, "-S", "-B", "-c", CHECK, str(root / "layer" / "python"), str(root / "units")], cwd=root
        )
        print("layer smoke check:", "passed" if result.returncode == 0 else "FAILED")
        return result.returncode


if __name__ == "__main__":
    sys.exit(main())
