"""The signals/worker path does not import pandas: no module of the DSL imports pandas or pyarrow when
the package is imported (evaluate_range imports pandas when called, for the DataFrame it returns)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# Records, in a fresh interpreter, which module's import statement first asked for pandas / pyarrow.
PROBE = r"""
import json, sys
importers = {}

class Probe:
    def find_spec(self, name, path=None, target=None):
        if name in ("pandas", "pyarrow") and name not in importers:
            frame = sys._getframe(1)
            while frame is not None and frame.f_globals.get("__name__", "").startswith(
                ("importlib", "_frozen_importlib")
            ):
                frame = frame.f_back
            importers[name] = None if frame is None else frame.f_globals.get("__name__")
        return None

sys.meta_path.insert(0, Probe())
import the_alchemiser.strategy_v2.dsl
print(json.dumps(importers))
"""


def test_no_dsl_module_imports_pandas_or_pyarrow() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    importers = json.loads(result.stdout)
    # Until the market-data port is pandas-free, importing the DSL still loads pandas through it
    # (the_alchemiser.shared.market_data.port); the DSL itself must never be the importer.
    for module, importer in importers.items():
        assert not str(importer).startswith("the_alchemiser.strategy_v2"), f"{importer} imports {module}"
