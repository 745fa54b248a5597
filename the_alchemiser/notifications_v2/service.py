"""The notifications service: reports on `TradeExecuted`, one email per workflow outcome.

- `TradeExecuted`: (re)write the CSV report from the trade ledger (deterministic key: a redelivery
  overwrites the same object with the same or fresher content).
- `WorkflowCompleted` / `WorkflowFailed`: ensure the report exists when orders were filled, then
  send the outcome email at most once per correlation id (`OncePerKey`). The email never waits on
  the report: a ledger or S3 failure becomes a line in the email, not a missing email.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from the_alchemiser.notifications_v2.email_text import (
    EmailContext,
    OutcomeEvent,
    ReportSection,
    render_malformed_event_email,
    render_outcome_email,
)
from the_alchemiser.notifications_v2.once import OncePerKey
from the_alchemiser.notifications_v2.report import PerformanceReport, build_performance_report, report_key
from the_alchemiser.notifications_v2.report_store import REPORT_LINK_LIFETIME, ReportStore
from the_alchemiser.notifications_v2.scrub import scrub_text
from the_alchemiser.shared.events import BaseEvent, TradeExecuted, WorkflowCompleted, WorkflowFailed
from the_alchemiser.shared.ledger import LedgerOrder, TradeLedgerReader
from the_alchemiser.shared.logging import get_logger, workflow_context
from the_alchemiser.shared.notifications import EmailSender

NEW_YORK = ZoneInfo("America/New_York")

Action = Literal["report_written", "no_report", "email_sent", "duplicate_skipped", "ignored", "malformed_alerted"]

log = get_logger("notifications_v2.service")


@dataclass(frozen=True)
class NotificationResult:
    action: Action
    correlation_id: str | None = None
    report_key: str | None = None
    message_id: str | None = None
    subject: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


@dataclass(frozen=True)
class WrittenReport:
    key: str
    report: PerformanceReport


def resolve_trading_date(
    orders: Sequence[LedgerOrder], event_trading_date: date | None, event_timestamp: datetime
) -> date:
    """The ledger's trading date first (TradeExecuted has no date of its own, and the report key
    must match between events), then the event's, then the event's New York calendar date."""
    ledger_dates = sorted({order.trading_date for order in orders})
    if ledger_dates:
        return ledger_dates[-1]
    if event_trading_date is not None:
        return event_trading_date
    return event_timestamp.astimezone(NEW_YORK).date()


class NotificationService:
    def __init__(
        self,
        *,
        emails: EmailSender,
        reports: ReportStore,
        ledger: TradeLedgerReader,
        once: OncePerKey,
        mode_label: str,
        stage: str,
        link_lifetime: timedelta = REPORT_LINK_LIFETIME,
        known_secrets: Sequence[str] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
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

    # --- entry point -------------------------------------------------------------------------
    def handle_event(self, event: BaseEvent) -> NotificationResult:
        with workflow_context(event.correlation_id, event.event_id, event_type=event.event_type):
            if isinstance(event, TradeExecuted):
                return self.write_report_for(event)
            if isinstance(event, (WorkflowCompleted, WorkflowFailed)):
                return self.send_outcome_email(event)
            log.warning("notifications.ignored_event", reason="not routed to notifications")
            return NotificationResult(action="ignored", correlation_id=event.correlation_id)

    # --- TradeExecuted -----------------------------------------------------------------------
    def write_report_for(self, event: TradeExecuted) -> NotificationResult:
        """Write or refresh the workflow's CSV report. Ledger/S3 errors raise: the event is retried."""
        orders = self._ledger.orders_for_correlation(event.correlation_id)
        trading_date = resolve_trading_date(orders, None, event.timestamp)
        written = self.write_report(event.correlation_id, trading_date, orders)
        if written is None:
            log.info("notifications.report_skipped", reason="no filled orders in the ledger")
            return NotificationResult(action="no_report", correlation_id=event.correlation_id)
        return NotificationResult(action="report_written", correlation_id=event.correlation_id, report_key=written.key)

    def write_report(
        self, correlation_id: str, trading_date: date, orders: Sequence[LedgerOrder]
    ) -> WrittenReport | None:
        """Build the report from the ledger and store it; None when no order was filled."""
        if not any(order.filled_qty > 0 for order in orders):
            return None
        symbols = sorted({order.symbol for order in orders if order.filled_qty > 0 and order.side.lower() == "sell"})
        history = {symbol: self._ledger.orders_for_symbol(symbol) for symbol in symbols}
        report = build_performance_report(correlation_id, trading_date, orders, history)
        key = report_key(trading_date, correlation_id)
        self._reports.put_csv(key, report.to_csv())
        log.info(
            "notifications.report_written",
            report_key=key,
            rows=len(report.rows),
            total_buy_value=str(report.total_buy_value),
            total_sell_value=str(report.total_sell_value),
            realised_pnl=str(report.total_realised_pnl),
        )
        return WrittenReport(key=key, report=report)

    # --- WorkflowCompleted / WorkflowFailed ----------------------------------------------------
    def send_outcome_email(self, event: OutcomeEvent) -> NotificationResult:
        """The one email for this workflow's outcome; a redelivery (or a second outcome event for
        the same correlation id) sends nothing."""
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
        """Everything the email needs besides the event: the ledger's orders and the report link."""
        orders: tuple[LedgerOrder, ...] | None
        ledger_error = None
        try:
            orders = tuple(self._ledger.orders_for_correlation(event.correlation_id))
        except Exception as exc:  # the email must still go out; it says the ledger was unreadable
            log.error("notifications.ledger_unreadable", error=repr(exc))
            orders, ledger_error = None, f"{type(exc).__name__}: {exc}"
        trading_date = resolve_trading_date(orders or (), event.trading_date, event.timestamp)
        return EmailContext(
            mode_label=self._mode_label,
            stage=self._stage,
            trading_date=trading_date,
            ledger_orders=orders,
            ledger_error=ledger_error,
            report=self._report_section(event.correlation_id, trading_date, orders, ledger_error),
            known_secrets=self._known_secrets,
        )

    def _report_section(
        self, correlation_id: str, trading_date: date, orders: tuple[LedgerOrder, ...] | None, ledger_error: str | None
    ) -> ReportSection:
        if orders is None:
            return ReportSection(note=f"the trade ledger could not be read ({ledger_error})")
        try:
            written = self.write_report(correlation_id, trading_date, orders)
            if written is None:
                return ReportSection(note="no orders were filled")
            url = self._reports.link(written.key, self._link_lifetime)
        except Exception as exc:  # a missing report is a line in the email, never a missing email
            log.error("notifications.report_failed", error=repr(exc))
            return ReportSection(note=f"the report could not be written ({type(exc).__name__}: {exc})")
        return ReportSection(
            url=url,
            key=written.key,
            lifetime=self._link_lifetime,
            report=written.report,
            location=self._reports.location(written.key),
            link_may_expire_early=self._reports.links_may_expire_early,
        )

    def _compose_and_send(self, event: OutcomeEvent) -> dict[str, str]:
        context = self.compose_outcome_email_context(event)
        message = render_outcome_email(event, context)
        message_id = self._emails.send(message)
        log.info("notifications.email_sent", subject=message.subject, message_id=message_id)
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
