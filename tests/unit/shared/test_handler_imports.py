"""What each Lambda's handler module imports (a cold start pays for every module): one fresh interpreter per
deploy unit, importing its shim (`functions/<unit>/lambda_handler.py`) as Lambda does, with no AWS or
project variables (handlers build their clients lazily). Read from sys.modules after the import:

- only the strategy worker and the data refresh may import numpy (they read and write bars);
- none imports pandas or fastparquet (the data refresh reads and writes its Parquet objects with
  `flat_parquet`; fastparquet, and pandas with it, is imported only to read an object written before),
  exchange_calendars (the calendar is a generated table), pyarrow or rich (structlog's optional
  pretty-printer)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
UNITS = sorted(p.parent.name for p in (REPO / "functions").glob("*/lambda_handler.py"))
MAY_IMPORT_BARS = {"strategy_worker", "data_refresh"}  # numpy
NEVER = ("pandas", "fastparquet", "exchange_calendars", "pyarrow", "rich")
BARS = ("pandas", "numpy")
IMPORT = """
import json, sys
sys.path[:0] = sys.argv[1:]
import lambda_handler
assert callable(lambda_handler.lambda_handler)
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})))
"""


def imported_by(unit: str) -> set[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    env |= {k: v for k, v in os.environ.items() if k in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    result = subprocess.run(
        [sys.executable, "-c", IMPORT, str(REPO / "functions" / unit), str(REPO)],
        cwd="/tmp",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_every_deploy_unit_is_listed() -> None:
    assert len(UNITS) == 7
    assert MAY_IMPORT_BARS <= set(UNITS)


@pytest.mark.parametrize("unit", UNITS)
def test_handler_imports_only_what_its_cold_start_needs(unit: str) -> None:
    modules = imported_by(unit)
    assert "the_alchemiser" in modules
    assert not modules & set(NEVER), f"{unit} imports {sorted(modules & set(NEVER))}"
    if unit not in MAY_IMPORT_BARS:
        assert not modules & set(BARS), f"{unit} imports {sorted(modules & set(BARS))}"
