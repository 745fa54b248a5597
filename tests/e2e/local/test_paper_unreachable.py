"""`run --paper` with Alpaca out of reach: one clear line on stderr, a non-zero exit, nothing started."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from the_alchemiser.cli import main
from the_alchemiser.local.dynamodb_local import free_port
from the_alchemiser.local.stack import day, runs

A_TRADING_DAY = date(2026, 11, 20)


@pytest.fixture
def unreachable_alpaca(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"http://127.0.0.1:{free_port()}/paper-api"  # nothing listens there
    monkeypatch.setenv("ALPACA_API_KEY", "paper-key")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "paper-secret")
    monkeypatch.setenv("ALPACA_BASE_URL", url)
    monkeypatch.setenv("PAPER_TRADING", "true")
    monkeypatch.setattr(runs, "today_in_new_york", lambda: A_TRADING_DAY)
    monkeypatch.chdir(tmp_path)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing may start before Alpaca answers")

    monkeypatch.setattr(day, "_local_aws", refuse)
    return url


def test_unreachable_alpaca_is_one_clear_line(unreachable_alpaca: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["run", "--paper", "--output", str(tmp_path / "out")])
    message = str(raised.value.code)
    assert message.startswith(f"--paper: cannot reach Alpaca at {unreachable_alpaca}: ")
    assert "\n" not in message and "Traceback" not in capsys.readouterr().err
