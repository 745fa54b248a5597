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


def test_a_log_field_is_redacted_by_the_same_names_an_email_is() -> None:
    """One list of secret-looking names for log lines and emails (shared/secrets.py). The log's own list
    lacked credential, access_key, private_key, passwd, apikey, signature and APCA-API-*."""
    from the_alchemiser.notifications_v2.scrub import scrub_value

    fields = {
        "aws_access_key": "AK-value-1",
        "db_passwd": "pw-value-2",
        "private_key_pem": "pem-value-3",
        "credentials": "cred-value-4",
        "request_signature": "sig-value-5",
        "APCA-API-KEY-ID": "apca-value-6",
        "apikey": "ak-value-7",
    }
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    get_logger("test").info("fields", symbol="SPY", **fields)
    logged = json.loads(stream.getvalue())
    emailed = scrub_value(fields)
    assert {name: logged[name] for name in fields} == emailed == dict.fromkeys(fields, "***")
    assert logged["symbol"] == "SPY"


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


# ---- Powertools Logger's Lambda context on every line (issue 14)
class _Context:
    function_name = "alchemiser-dev-execution"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:alchemiser-dev-execution"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id


def test_every_line_of_an_invocation_carries_the_lambda_context_and_keeps_the_workflow_ids() -> None:
    from the_alchemiser.shared.logging import bind_workflow_context, with_lambda_context

    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    log = get_logger("test")

    @with_lambda_context
    def handler(event: dict[str, str], context: object) -> str:
        log.info("before ids")
        bind_workflow_context(event["correlation_id"], "evt-1")  # clears structlog's context, not the invocation's
        log.info("with ids")
        with workflow_context("wf-inner", "evt-2"):
            log.warning("nested")
        return "ok"

    try:
        assert handler({"correlation_id": "wf-1"}, _Context("req-1")) == "ok"
        assert handler({"correlation_id": "wf-2"}, _Context("req-2")) == "ok"
        log.info("outside any invocation")
    finally:
        configure_logging("INFO", stream=sys.stdout)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    first, second, outside = lines[:3], lines[3:6], lines[6]
    for line in first + second:
        assert line["function_name"] == "alchemiser-dev-execution"
        assert line["function_memory_size"] == 512
        assert line["function_arn"].endswith(":function:alchemiser-dev-execution")
    assert {line["function_request_id"] for line in first} == {"req-1"}
    assert {line["function_request_id"] for line in second} == {"req-2"}
    assert [line["cold_start"] for line in first + second] == [True] * 3 + [False] * 3
    assert [(line["correlation_id"], line["causation_id"]) for line in first] == [
        (None, None),
        ("wf-1", "evt-1"),
        ("wf-inner", "evt-2"),
    ]
    assert "function_request_id" not in outside and "cold_start" not in outside


def test_every_lambda_handler_is_decorated_with_the_lambda_context() -> None:
    import importlib

    modules = ["aggregator_v2", "coordinator_v2", "data_v2", "execution_v2", "notifications_v2"]
    modules += ["portfolio_v2", "strategy_v2"]
    for name in modules:
        handler = importlib.import_module(f"the_alchemiser.{name}.lambda_handler").lambda_handler
        assert getattr(handler, "__wrapped__", None) is not None, f"{name}.lambda_handler lacks with_lambda_context"
