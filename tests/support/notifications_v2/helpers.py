"""Service assembly for tests: in-memory ledger, report store, recording sender, MemoryOnce."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tests.fixtures.idempotency import MemoryOnce
from tests.support.notifications_v2.ledger_memory import InMemoryTradeLedger
from tests.support.notifications_v2.report_memory import InMemoryReportStore
from the_alchemiser.notifications_v2.service import NotificationService
from the_alchemiser.shared.ledger import LedgerOrder
from the_alchemiser.shared.ledger.book import Book, Booking
from the_alchemiser.shared.notifications import EmailMessage, EmailSender, RecordingEmailSender
from the_alchemiser.shared.once import OncePerKey

if TYPE_CHECKING:
    from tests.support.notifications_v2.scenarios import Scenario

FIXED_NOW = datetime(2026, 11, 24, 20, 32, 0, tzinfo=UTC)


def render(message: EmailMessage) -> str:
    """How a golden file stores an email: the subject line, a blank line, the body."""
    return f"Subject: {message.subject}\n\n{message.body}"


def build_service(
    ledger_orders: Sequence[LedgerOrder] = (),
    *,
    emails: EmailSender | None = None,
    once: OncePerKey | None = None,
    mode_label: str = "PAPER",
    stage: str = "dev",
    ledger: InMemoryTradeLedger | None = None,
    reports: InMemoryReportStore | None = None,
    known_secrets: Sequence[str] = (),
    book: Book | None = None,
    booking: Booking | None = None,
    **extra: Any,
) -> tuple[NotificationService, RecordingEmailSender, InMemoryReportStore, InMemoryTradeLedger]:
    recorder = RecordingEmailSender()
    store = reports or InMemoryReportStore()
    trade_ledger = ledger or InMemoryTradeLedger(ledger_orders, book, [booking] if booking is not None else [])
    service = NotificationService(
        emails=emails or recorder,
        reports=store,
        ledger=trade_ledger,
        once=once or MemoryOnce(),
        mode_label=mode_label,
        stage=stage,
        clock=lambda: FIXED_NOW,
        known_secrets=known_secrets,
        **extra,  # metrics, run_time_of (test_outcome_metrics.py)
    )
    return service, recorder, store, trade_ledger


def service_for(
    scenario: Scenario, **kwargs: Any
) -> tuple[NotificationService, RecordingEmailSender, InMemoryReportStore, InMemoryTradeLedger]:
    """The service over the scenario's ledger: its orders, its lot book and its booking."""
    return build_service(scenario.ledger, book=scenario.book, booking=scenario.booking, **kwargs)
