"""The notifications service: one email per workflow outcome, with the day's report written once.

- `WorkflowCompleted` / `WorkflowFailed`: at most once per correlation id (`OncePerKey`): read the
  ledger's booking of the plan and the lot book, write the day's CSV report (one object, deterministic
  key), then send the email built from the event and that report. The email never waits on the report:
  a ledger or S3 failure becomes a line in the email, not a missing email.
- `TradeExecuted` comes from the same function at the same moment as the outcome, with the same data:
  the outcome event reports it, so it is acknowledged and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol

from the_alchemiser.notifications_v2.email_text import (
    EmailContext,
    OutcomeEvent,
    PageSection,
    ReportSection,
    render_malformed_event_email,
    render_outcome_email,
)
from the_alchemiser.notifications_v2.report import DailyReport, build_daily_report, report_key
from the_alchemiser.notifications_v2.report_page import build_daily_page
from the_alchemiser.notifications_v2.report_store import REPORT_LINK_LIFETIME, ReportStore
from the_alchemiser.notifications_v2.scrub import scrub_text
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.events import BaseEvent, TradeExecuted, WorkflowCompleted, WorkflowFailed
from the_alchemiser.shared.ledger import LedgerOrder, LotBookReader, TradeLedgerReader
from the_alchemiser.shared.ledger.book import Booking
from the_alchemiser.shared.logging import get_logger, workflow_context
from the_alchemiser.shared.metrics import NO_METRICS, Metrics, outcome_metrics, put_all
from the_alchemiser.shared.notifications import EmailSender
from the_alchemiser.shared.once import OncePerKey

Action = Literal["email_sent", "duplicate_skipped", "ignored", "malformed_alerted"]

log = get_logger(__name__)


class NotificationLedger(TradeLedgerReader, LotBookReader, Protocol):
    """What notifications reads of the ledger table (DynamoTradeLedger provides it)."""


@dataclass(frozen=True)
class NotificationResult:
    action: Action
    correlation_id: str | None = None
    report_key: str | None = None
    message_id: str | None = None
    subject: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def resolve_trading_date(booking: Booking | None, event_trading_date: date | None, event_timestamp: datetime) -> date:
    """The booked plan's trading date first, then the event's, then the event's New York calendar date."""
    if booking is not None:
        return booking.trading_date
    if event_trading_date is not None:
        return event_trading_date
    return event_timestamp.astimezone(NEW_YORK).date()


class NotificationService:
    def __init__(
        self,
        *,
        emails: EmailSender,
        reports: ReportStore,
        ledger: NotificationLedger,
        once: OncePerKey,
        mode_label: str,
        stage: str,
        link_lifetime: timedelta = REPORT_LINK_LIFETIME,
        known_secrets: Sequence[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: Metrics = NO_METRICS,
        run_time_of: Callable[[date], datetime | None] = lambda _day: None,
    ) -> None:
        self._emails = emails
        self._reports = reports
        self._ledger = ledger
        self._once = once
        self._mode_label = mode_label
        self._stage = stage
        self._link_lifetime = link_lifetime
        self._known_secrets = tuple(secret for secret in known_secrets if secret)
        self._clock = clock
        self._metrics = metrics
        self._run_time_of = run_time_of  # the trading day's scheduled run time (WorkflowDuration's start)

    # --- entry point -------------------------------------------------------------------------
    def handle_event(self, event: BaseEvent) -> NotificationResult:
        with workflow_context(event.correlation_id, event.event_id, event_type=event.event_type):
            if isinstance(event, (WorkflowCompleted, WorkflowFailed)):
                return self.send_outcome_email(event)
            reason = (
                "reported with the workflow outcome" if isinstance(event, TradeExecuted) else "not for notifications"
            )
            log.info("notifications.ignored_event", reason=reason)
            return NotificationResult(action="ignored", correlation_id=event.correlation_id)

    # --- WorkflowCompleted / WorkflowFailed ----------------------------------------------------
    def send_outcome_email(self, event: OutcomeEvent) -> NotificationResult:
        """The one email (and the one report) for this workflow's outcome; a redelivery, or a second
        outcome event for the same correlation id, sends and writes nothing."""
        key = f"outcome#{event.correlation_id}"
        result = self._once.run(key, lambda: self._compose_and_send(event))
        if result.replayed:
            log.info(
                "notifications.duplicate_outcome",
                first_event_id=result.value.get("event_id"),
                first_event_type=result.value.get("event_type"),
            )
            return NotificationResult(
                action="duplicate_skipped",
                correlation_id=event.correlation_id,
                message_id=result.value.get("message_id"),
                subject=result.value.get("subject"),
            )
        return NotificationResult(
            action="email_sent",
            correlation_id=event.correlation_id,
            report_key=result.value.get("report_key") or None,
            message_id=result.value["message_id"],
            subject=result.value["subject"],
        )

    def compose_outcome_email_context(self, event: OutcomeEvent) -> EmailContext:
        """Everything the email needs besides the event: the day's report (written here, once per
        outcome), and for an outcome without an execution result, what the ledger says was placed."""
        try:
            booking = self._ledger.booking(event.correlation_id)
        except Exception as exc:  # the email must still go out; it says the ledger was unreadable
            log.error("notifications.ledger_unreadable", error=repr(exc))
            booking, report = (
                None,
                ReportSection(note=f"the trade ledger could not be read ({type(exc).__name__}: {exc})"),
            )
        else:
            report = self._report_section(booking, event)
        orders: tuple[LedgerOrder, ...] | None = ()
        ledger_error = None
        if event.execution_data is None:
            try:
                orders = tuple(self._ledger.orders_for_correlation(event.correlation_id))
            except Exception as exc:
                log.error("notifications.ledger_unreadable", error=repr(exc))
                orders, ledger_error = None, f"{type(exc).__name__}: {exc}"
        return EmailContext(
            mode_label=self._mode_label,
            stage=self._stage,
            trading_date=resolve_trading_date(booking, event.trading_date, event.timestamp),
            ledger_orders=orders,
            ledger_error=ledger_error,
            report=report,
            known_secrets=self._known_secrets,
        )

    def _report_section(self, booking: Booking | None, event: OutcomeEvent) -> ReportSection:
        if booking is None:
            return ReportSection(note="execution booked nothing for this workflow")
        try:
            report = build_daily_report(booking, self._ledger.load_book())
            key = report_key(booking.trading_date, booking.correlation_id)
            self._reports.put_csv(key, report.to_csv())
            url = self._reports.link(key, self._link_lifetime)
        except Exception as exc:  # a missing report is a line in the email, never a missing email
            log.error("notifications.report_failed", error=repr(exc))
            return ReportSection(note=f"the report could not be written ({type(exc).__name__}: {exc})")
        log.info(
            "notifications.report_written",
            report_key=key,
            movements=len(booking.movements),
            realised_pnl=str(report.realised_today),
        )
        return ReportSection(
            url=url,
            key=key,
            lifetime=self._link_lifetime,
            report=report,
            location=self._reports.location(key),
            link_may_expire_early=self._reports.links_may_expire_early,
            page=self._page_section(event, report),
        )

    def _page_section(self, event: OutcomeEvent, report: DailyReport) -> PageSection:
        """report.html beside the CSV (in the same once-per-outcome unit); a failure is a line in the email."""
        try:
            body = build_daily_page(
                event, report, mode_label=self._mode_label, stage=self._stage, known_secrets=self._known_secrets
            )
            key = report_key(report.trading_date, report.correlation_id, "html")
            self._reports.put_html(key, body.encode())
            url = self._reports.link(key, self._link_lifetime)
        except Exception as exc:
            log.error("notifications.report_page_failed", error=repr(exc))
            return PageSection(note=f"the page could not be written ({type(exc).__name__}: {exc})")
        log.info("notifications.report_page_written", report_key=key, bytes=len(body))
        return PageSection(url=url, key=key, location=self._reports.location(key))

    def _compose_and_send(self, event: OutcomeEvent) -> dict[str, str]:
        context = self.compose_outcome_email_context(event)
        message = render_outcome_email(event, context)
        message_id = self._emails.send(message)
        log.info("notifications.email_sent", subject=message.subject, message_id=message_id)
        run_time = self._run_time_of(context.trading_date) if context.trading_date else None
        put_all(self._metrics, outcome_metrics(event, run_time))  # inside the once: one count per outcome
        return {
            "message_id": message_id,
            "subject": message.subject,
            "event_id": event.event_id,
            "event_type": event.event_type,
            "report_key": context.report.key or "",
        }

    # --- an event we could not read ------------------------------------------------------------
    def alert_malformed_event(
        self, *, envelope_id: str, detail_type: str | None, source: str | None, error: str
    ) -> NotificationResult:
        """Email operators once per EventBridge event id: retrying a malformed event never helps."""

        def send() -> dict[str, str]:
            message = render_malformed_event_email(
                mode_label=self._mode_label,
                stage=self._stage,
                envelope_id=envelope_id,
                detail_type=detail_type,
                source=source,
                error=error,
                received_at=self._clock(),
                known_secrets=self._known_secrets,
            )
            return {"message_id": self._emails.send(message), "subject": message.subject}

        log.error(
            "notifications.malformed_event",
            envelope_id=envelope_id,
            detail_type=detail_type,
            error=scrub_text(error, self._known_secrets),
        )
        result = self._once.run(f"malformed#{envelope_id}", send)
        return NotificationResult(
            action="duplicate_skipped" if result.replayed else "malformed_alerted",
            message_id=result.value.get("message_id"),
            subject=result.value.get("subject"),
        )
