from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from the_alchemiser.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_command_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "the_alchemiser", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    _, modules = build_parser()
    assert modules, "no commands registered"
    for name in modules:
        assert name in result.stdout
    modules_on_disk = {p.stem for p in (ROOT / "the_alchemiser/cli/commands").glob("*.py") if p.stem != "__init__"}
    assert len(modules) == len(modules_on_disk)


def test_every_command_has_help() -> None:
    _parser, modules = build_parser()
    for name in modules:
        result = subprocess.run(
            [sys.executable, "-m", "the_alchemiser", name, "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, (name, result.stderr)
        assert "usage:" in result.stdout


def test_a_reader_that_goes_away_gets_no_traceback() -> None:
    """`python -m the_alchemiser validate ... | head -1`: the pipe closes before the command writes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "the_alchemiser", "validate", "strategies/nuclear.clj"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader has gone: every write now fails with EPIPE
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
