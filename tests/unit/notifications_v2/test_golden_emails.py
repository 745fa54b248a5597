"""Golden email text (subject + body) for each kind of day and each kind of failure.

Regenerate after an intended change with `UPDATE_GOLDEN=1 uv run pytest tests/unit/notifications_v2 -k golden`
and read the diff: these files are what a trader gets."""

from __future__ import annotations

import os
import pathlib

import pytest

from tests.support.notifications_v2.helpers import FIXED_NOW, render, service_for
from tests.support.notifications_v2.report_memory import InMemoryReportStore
from tests.support.notifications_v2.scenarios import ALL_SCENARIOS, PLANTED_SECRETS, Scenario
from the_alchemiser.notifications_v2.email_text import render_malformed_event_email
from the_alchemiser.notifications_v2.formatting import price
from the_alchemiser.notifications_v2.report import report_key
from the_alchemiser.shared.events import WorkflowFailed

GOLDEN = pathlib.Path(__file__).parent / "golden"


def check_golden(name: str, text: str, folder: pathlib.Path = GOLDEN) -> None:
    """`text` is the golden file `<folder>/<name>.txt` (UPDATE_GOLDEN=1 rewrites it)."""
    path = folder / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_text()


def email_for(scenario: Scenario, mode_label: str = "PAPER") -> str:
    # as in the Lambda: the report link is signed with the role's temporary credentials
    reports = InMemoryReportStore(temporary_credentials=True)
    service, sent, _, _ = service_for(scenario, mode_label=mode_label, reports=reports)
    result = service.handle_event(scenario.event)
    assert result.action == "email_sent"
    assert len(sent.sent) == 1
    return render(sent.sent[0])


@pytest.mark.parametrize("make", ALL_SCENARIOS, ids=lambda make: make.__name__)
def test_golden_outcome_email(make) -> None:
    scenario = make()
    text = email_for(scenario)
    check_golden(scenario.name, text)
    for secret in PLANTED_SECRETS:
        assert secret not in text


def test_golden_live_mode_subject() -> None:
    from tests.support.notifications_v2.scenarios import success_day

    text = email_for(success_day(), mode_label="LIVE")
    assert text.startswith("Subject: [LIVE] Alchemiser 2026-11-24: SUCCESS - 5 orders filled\n")
    assert "LIVE trading · stage dev" in text


def test_golden_notifications_malformed_event_alert() -> None:
    message = render_malformed_event_email(
        mode_label="PAPER",
        stage="dev",
        envelope_id="0d9a3b54-1c7e-4f7a-9b2d-5e6f7a8b9c0d",
        detail_type="WorkflowCompleted",
        source="alchemiser.execution_v2",
        error=(
            "EventParseError: 1 validation error for tagged-union[...]\n"
            "WorkflowCompleted.success\n"
            "  Field required [type=missing, input_value={'event_type': 'WorkflowCompleted', "
            "'api_key': 'PKX7QZ3L9ARTW2Y8M4NB'}, input_type=dict]"
        ),
        received_at=FIXED_NOW,
    )
    text = render(message)
    check_golden("notifications_malformed_event", text)
    assert "PKX7QZ3L9ARTW2Y8M4NB" not in text


@pytest.mark.parametrize("make", ALL_SCENARIOS, ids=lambda make: make.__name__)
def test_every_email_carries_what_a_trader_needs(make) -> None:
    """Independent of the golden text: the facts each email must state."""
    scenario = make()
    service, sent, _, _ = service_for(scenario)
    service.handle_event(scenario.event)
    (message,) = sent.sent
    event = scenario.event
    status = message.attributes["status"]
    assert message.subject.startswith(f"[PAPER] Alchemiser {event.trading_date}: {status} - ")
    assert message.body.startswith(f"{status} — ")
    assert f"Correlation id: {event.correlation_id}" in message.body
    if isinstance(event, WorkflowFailed):
        assert status in ("FAILED", "MARKET CLOSED")
        assert f"  Step: {event.failure_step}\n" in message.body
        assert "  Reason: " in message.body
        for name in event.error_details.get("missing_strategies", []):
            assert name in message.body.split("Missing strategies", 1)[1].splitlines()[0]
        for name in event.error_details.get("failed_strategies", {}):
            assert f"    {name}: " in message.body
    result = event.execution_data
    if result is not None:
        assert "Capital deployed: " in message.body
        for order in result.orders:
            line = next(
                line
                for line in message.body.splitlines()
                if line.startswith(f"  {order.side.upper().ljust(4)} {order.symbol.ljust(6)} ")
            )
            if order.avg_fill_price is not None:
                assert f"@ {price(order.avg_fill_price)}" in line
            if order.slippage_bps is not None:
                assert "slippage " in line
    if "  CSV with per-strategy trades" in message.body:  # the day's page is linked beside the CSV
        page = report_key(event.trading_date, event.correlation_id, "html")
        assert f"/{page}?expires_in=" in message.body and "The day on one page (" in message.body
    if event.consolidated_portfolio is not None:
        assert "TARGET PORTFOLIO (merged" in message.body
        for strategy in event.consolidated_portfolio.strategy_allocations:
            assert f"  {strategy}: " in message.body


def test_success_and_failure_emails_say_so_in_the_subject() -> None:
    subjects = {make.__name__: email_for(make()).splitlines()[0] for make in ALL_SCENARIOS}
    assert "SUCCESS" in subjects["success_day"] and "SUCCESS" in subjects["hold_day"]
    assert "PARTIAL" in subjects["partial_fill_day"]
    assert "MARKET CLOSED" in subjects["market_closed_day"]
    failures = set(subjects) - {"success_day", "hold_day", "partial_fill_day", "market_closed_day"}
    assert all(": FAILED - at " in subjects[name] for name in failures)


@pytest.mark.parametrize("make", ALL_SCENARIOS, ids=lambda make: make.__name__)
def test_subjects_are_one_ascii_line_under_sns_limit(make) -> None:
    subject = email_for(make()).splitlines()[0].removeprefix("Subject: ")
    assert subject.isascii() and len(subject) < 100 and "\n" not in subject
