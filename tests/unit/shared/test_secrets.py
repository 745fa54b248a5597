"""Issue 14 finding 10: the configured credential VALUES never reach a log line, an event or an email,
whatever key (or no key) they sit under. Redacting by key name alone let a broker error that echoed the
secret through to the logs and to WorkflowFailed.failure_reason (kept 400 days in the archive).

The values are chosen so that no pattern of the email scrubber's heuristics matches them: only knowing
the configured values can remove them."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from alpaca.common.exceptions import APIError

from the_alchemiser.shared import secrets
from the_alchemiser.shared.broker.alpaca_http import translate_error
from the_alchemiser.shared.config import Settings
from the_alchemiser.shared.events import WorkflowFailed
from the_alchemiser.shared.events.publisher import EventBridgePublisher, encode_detail
from the_alchemiser.shared.logging import configure_logging, get_logger

API_KEY = "my-paper-key-0042"
SECRET = "hunter2-Horse-battery-Staple"


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Credentials loaded the way a handler loads them (the environment here)."""
    secrets.forget_secrets()
    monkeypatch.setenv("ALPACA_API_KEY", API_KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    yield Settings()
    secrets.forget_secrets()


def _broker_error_echoing_the_secret() -> Exception:
    body = {"code": 40110000, "message": f"request signed with key {API_KEY} and secret {SECRET} is not authorized"}
    return translate_error(APIError(json.dumps(body)))


def test_loading_credentials_registers_their_values(configured: Settings) -> None:
    assert {API_KEY, SECRET} <= set(secrets.known_secrets())
    assert secrets.scrub(f"a {SECRET} b {API_KEY}") == "a *** b ***"


def test_credentials_from_secrets_manager_are_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    from the_alchemiser.shared.broker.alpaca_http import keys_from_secret

    secrets.forget_secrets()
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        boto3.client("secretsmanager").create_secret(
            Name="alchemiser/dev/alpaca", SecretString=json.dumps({"api_key": API_KEY, "secret_key": SECRET})
        )
        assert keys_from_secret("alchemiser/dev/alpaca") == (API_KEY, SECRET)
    assert secrets.scrub(f"{API_KEY}:{SECRET}") == "***:***"
    secrets.forget_secrets()


def test_a_broker_error_echoing_the_secret_is_scrubbed_at_the_source(configured: Settings) -> None:
    error = _broker_error_echoing_the_secret()
    assert SECRET not in str(error) and API_KEY not in str(error)
    assert "is not authorized" in str(error)


def test_no_log_line_carries_a_secret_value_under_any_key(configured: Settings) -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        log = get_logger("test")
        raw = f"broker said: request signed with key {API_KEY} and secret {SECRET} is not authorized"
        log.error("order_failed", error=raw, detail={"nested": [raw, {"reason": raw}]}, symbol="SPY")
        log.error(raw)
        try:
            raise RuntimeError(raw)
        except RuntimeError:
            log.exception("execution_failed")
        # the stdlib loggers (Powertools, botocore) write through the same guard
        import logging

        handler_stream = io.StringIO()
        handler = logging.StreamHandler(handler_stream)
        std = logging.getLogger("tests.secrets.stdlib")
        std.addHandler(handler)
        std.propagate = False
        try:
            std.error("powertools: %s", raw)
            try:
                raise ValueError(raw)
            except ValueError:
                std.exception("batch record failed")
        finally:
            std.removeHandler(handler)
    finally:
        configure_logging("INFO", stream=__import__("sys").stdout)
    text = stream.getvalue() + handler_stream.getvalue()
    assert SECRET not in text and API_KEY not in text
    assert "is not authorized" in text
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["symbol"] == "SPY" and "***" in lines[0]["error"]


def test_no_event_on_the_bus_carries_a_secret_value(configured: Settings) -> None:
    raw = f"execution did not finish after retries: BrokerError: key {API_KEY} secret {SECRET}"
    event = WorkflowFailed(
        correlation_id="corr-1",
        causation_id="evt-1",
        source_module="execution_v2",
        source_component="ExecutionService",
        failure_reason=raw,
        failure_step="execution",
        error_details={"broker": {"message": raw}, "attempts": [raw]},
    )
    assert SECRET not in encode_detail(event, None) and API_KEY not in encode_detail(event, None)

    class Client:
        def __init__(self) -> None:
            self.entries: list[dict[str, Any]] = []

        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.entries.extend(Entries)
            return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"}]}

    client = Client()
    EventBridgePublisher(client, "bus").publish(event)
    (entry,) = client.entries
    assert SECRET not in json.dumps(entry) and API_KEY not in json.dumps(entry)
    detail = json.loads(entry["Detail"])
    assert detail["failure_reason"].startswith("execution did not finish after retries")


def test_no_email_carries_a_secret_value(configured: Settings) -> None:
    from tests.support.notifications_v2.helpers import build_service
    from tests.support.notifications_v2.scenarios import TRADING_DATE, _base

    raw = f"broker said: key {API_KEY} secret {SECRET} not authorized"
    event = WorkflowFailed(
        **_base("corr-secret-values", "execution_v2", "ExecutionService"),
        failure_reason=raw,
        failure_step="execution",
        error_details={"broker_message": raw, "steps": [raw]},
        trading_date=TRADING_DATE,
    )
    service, sent, _, _ = build_service([])  # no known_secrets passed: the registry is the one source
    service.handle_event(event)
    (message,) = sent.sent
    everything = message.subject + message.body + repr(message.attributes)
    assert SECRET not in everything and API_KEY not in everything
    assert "not authorized" in message.body


def test_an_exception_escaping_a_handler_is_scrubbed_for_the_lambda_runtime(configured: Settings) -> None:
    """Lambda's runtime writes an uncaught exception's message to the log and the invocation's error: the
    handler decorator removes the credential values from it (and from its cause) before it leaves."""
    from the_alchemiser.shared.logging import with_lambda_context

    @with_lambda_context
    def handler(event: object, context: object) -> None:
        try:
            raise KeyError(f"lookup with {SECRET}")
        except KeyError as cause:
            raise RuntimeError(f"request with key {API_KEY} failed", {"secret": SECRET}) from cause

    with pytest.raises(RuntimeError) as raised:
        handler({}, None)
    text = str(raised.value) + repr(raised.value.args) + str(raised.value.__cause__)
    assert SECRET not in text and API_KEY not in text
    assert "failed" in str(raised.value)
