"""What execution has done for one plan (per correlation id), so a redelivered message resumes.

The broker is the truth for orders (looked up by deterministic client_order_id); the plan state adds
what the broker cannot say: the quantities resolved when a phase started (a full liquidation's actual
position, buys trimmed to the confirmed buying power), which items are done with what outcome, and
which outcome events were published."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import Field

from the_alchemiser.shared.schemas.base import WireModel
from the_alchemiser.shared.schemas.execution import OrderResult
from the_alchemiser.shared.types import Money


class PlanItemStatus(StrEnum):
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"


class PlanItemState(WireModel):
    """One plan item (symbol + side) as far as execution got with it."""

    symbol: str
    side: str  # buy / sell
    status: PlanItemStatus
    target_qty: Money | None = None
    step: int = 0  # the last walk step started
    client_order_ids: list[str] = Field(default_factory=list)
    order_steps: dict[str, int] = Field(
        default_factory=dict, description="client order id -> the walk step that priced it (written before sending)"
    )
    result: OrderResult | None = None  # set when DONE

    @property
    def key(self) -> str:
        return item_key(self.side, self.symbol)


class PhaseResolution(WireModel):
    """Quantities fixed when a phase (sell or buy) started: the same on every redelivery."""

    side: str
    quantities: dict[str, Money] = Field(description="symbol -> quantity to trade (0 = nothing)")
    notes: dict[str, str] = Field(default_factory=dict, description="symbol -> why the quantity differs from the plan")
    buying_power: Money | None = None


class PlanState(WireModel):
    correlation_id: str
    plan_id: str
    started_at: str
    items: dict[str, PlanItemState] = Field(default_factory=dict, description="item_key -> state")
    phases: dict[str, PhaseResolution] = Field(default_factory=dict, description="side -> resolution")
    published: dict[str, str] = Field(default_factory=dict, description="event_type -> event_id")
    completed: bool = False

    def item(self, side: str, symbol: str) -> PlanItemState | None:
        return self.items.get(item_key(side, symbol))


def item_key(side: str, symbol: str) -> str:
    return f"{side}#{symbol}"


class PlanStateStore(Protocol):
    def start_plan(self, correlation_id: str, plan_id: str, started_at: str) -> PlanState:
        """Create the plan's state if new; return what is stored (a redelivery gets the earlier state)."""
        ...

    def load_plan(self, correlation_id: str) -> PlanState | None: ...

    def resolve_phase(self, correlation_id: str, resolution: PhaseResolution) -> PhaseResolution:
        """Store the phase's quantities unless already stored (first writer wins); return the stored ones."""
        ...

    def save_item(self, correlation_id: str, state: PlanItemState) -> None:
        """Upsert an item's state. A DONE item is never set back to IN_PROGRESS."""
        ...

    def mark_published(self, correlation_id: str, event_type: str, event_id: str) -> None: ...

    def mark_completed(self, correlation_id: str) -> None: ...


class PlanLease(Protocol):
    """One owner per plan at a time: a conditional write with an expiry (the owner's invocation deadline)."""

    def acquire_lease(self, correlation_id: str, owner: str, *, expires_at: float, now: float) -> float | None:
        """Take (or renew) the plan's lease until `expires_at` (epoch seconds) unless another owner holds one
        that is still live at `now`: then return that lease's expiry and take nothing."""
        ...

    def release_lease(self, correlation_id: str, owner: str) -> None:
        """Give the lease up if `owner` still holds it (a crashed owner's lease simply expires)."""
        ...


@dataclass(frozen=True)
class PlanProgress:
    """Whether anything may still trade a plan: started, completed (its outcome reported), and the end of the
    last lease a delivery took on it (None before the first)."""

    started_at: datetime
    completed: bool
    worked_until: datetime | None


class PlanProgressReader(Protocol):
    """What the orchestrator reads of execution's plan state before a forced run (it writes none of it)."""

    def plan_progress(self, correlation_id: str) -> PlanProgress | None:
        """None while execution has not started the plan."""
        ...
