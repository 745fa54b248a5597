"""structlog is imported without its optional pretty-printers (rich costs every command and cold start ~30 ms
and ~5 MiB, and the JSON renderer never uses it), and they stay importable for whoever wants them after."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from the_alchemiser.shared.logging import get_logger
assert "structlog" in sys.modules
assert "rich" not in sys.modules, "structlog imported rich"
get_logger("test").info("line", n=1)
try:
    import rich  # hidden only while structlog imported
except ImportError:
    pass  # not installed: a runtime-only install
print("ok")
"""


def test_logging_imports_structlog_without_rich_and_leaves_rich_importable() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "ok"
    assert '"event": "line"' in result.stdout
