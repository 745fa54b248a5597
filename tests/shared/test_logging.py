from __future__ import annotations

import io
import json
import sys

import pytest

from the_alchemiser.shared.logging import configure_logging, get_logger, workflow_context


def test_every_line_is_json_with_correlation_and_causation() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    log = get_logger("test")
    log.info("outside")
    with workflow_context("wf-1", "evt-0"):
        log.info("inside", symbol="SPY")
        with workflow_context("wf-2", "evt-9"):
            log.warning("nested")
        log.info("restored")
    log.debug("filtered out")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["outside", "inside", "nested", "restored"]
    assert all({"correlation_id", "causation_id", "timestamp", "level"} <= set(line) for line in lines)
    assert lines[0]["correlation_id"] is None
    assert (lines[1]["correlation_id"], lines[1]["causation_id"]) == ("wf-1", "evt-0")
    assert lines[2]["correlation_id"] == "wf-2"
    assert lines[3]["correlation_id"] == "wf-1"


def test_secret_looking_keys_are_redacted() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    get_logger("test").info("creds", alpaca_secret_key="s3cr3t", api_key="k3y", symbol="SPY")
    text = stream.getvalue()
    assert "s3cr3t" not in text and "k3y" not in text
    assert json.loads(text)["symbol"] == "SPY"


def test_logging_to_stderr_follows_a_replaced_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    # A command configures logging to sys.stderr; a later caller (a test's capture, a wrapper) may swap
    # and close that stream. Lines must go to the stderr of the moment, not fail on the closed one.
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    configure_logging("INFO", stream=sys.stderr)
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    try:
        get_logger("test").info("after the swap")
    finally:
        configure_logging("INFO", stream=sys.stdout)
    assert json.loads(second.getvalue())["event"] == "after the swap"
