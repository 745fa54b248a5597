"""Every event round-trips through JSON unchanged, rejects unknown or missing fields, carries the base."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings

from tests.support.shared.event_strategies import events
from the_alchemiser.shared.events import EVENT_TYPES, BaseEvent, EventParseError, parse_event
from the_alchemiser.shared.schemas.base import WireModel

BASE_FIELDS = {
    "event_id",
    "event_type",
    "correlation_id",
    "causation_id",
    "timestamp",
    "source_module",
    "source_component",
    "schema_version",
    "metadata",
}

SEED_EVENTS = {
    "WorkflowStarted",
    "PartialSignalGenerated",
    "SignalGenerated",
    "RebalancePlanned",
    "TradeExecuted",
    "WorkflowCompleted",
    "WorkflowFailed",
}


def test_every_seed_event_has_a_model() -> None:
    assert set(EVENT_TYPES) == SEED_EVENTS


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_json_round_trip_is_exact(event: BaseEvent) -> None:
    wire = event.model_dump_json()
    back = parse_event(wire)
    assert back == event
    assert type(back) is type(event)
    assert back.model_dump_json() == wire  # byte-identical the second time round
    assert parse_event(json.loads(wire)) == event


@settings(max_examples=100)
@given(events())
def test_money_travels_as_strings(event: BaseEvent) -> None:
    def walk(node: object) -> None:
        assert not isinstance(node, float), "a float on the wire loses money"
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(event.model_dump_json()))


@settings(max_examples=60)
@given(events())
def test_every_event_carries_the_base_fields(event: BaseEvent) -> None:
    payload = json.loads(event.model_dump_json())
    assert BASE_FIELDS <= set(payload)
    assert event.timestamp.tzinfo is not None


@settings(max_examples=60)
@given(events())
def test_unknown_field_is_rejected(event: BaseEvent) -> None:
    payload = json.loads(event.model_dump_json())
    payload["surprise"] = 1
    with pytest.raises(EventParseError, match="surprise"):
        parse_event(payload)


@settings(max_examples=60)
@given(events())
def test_unknown_nested_field_is_rejected(event: BaseEvent) -> None:
    """Strictness is not only at the top: a typo inside a carried DTO is an error too."""
    payload = json.loads(event.model_dump_json())
    nested = [name for name, value in event if isinstance(value, WireModel)]
    for name in nested:
        broken = json.loads(event.model_dump_json())
        broken[name]["surprise"] = 1
        with pytest.raises(EventParseError, match="surprise"):
            parse_event(broken)
    assert parse_event(payload) == event


@pytest.mark.parametrize("field", sorted(BASE_FIELDS - {"event_id", "timestamp", "schema_version", "metadata"}))
@settings(max_examples=20)
@given(event=events())
def test_missing_required_base_field_is_rejected(field: str, event: BaseEvent) -> None:
    payload = json.loads(event.model_dump_json())
    del payload[field]
    with pytest.raises(EventParseError):
        parse_event(payload)


@settings(max_examples=60)
@given(events())
def test_missing_required_payload_field_is_rejected(event: BaseEvent) -> None:
    cls = type(event)
    required = [
        name for name, info in cls.model_fields.items() if info.is_required() and name not in BaseEvent.model_fields
    ]
    assert required, f"{cls.__name__} has no required payload field"
    payload = json.loads(event.model_dump_json())
    for name in required:
        broken = dict(payload)
        del broken[name]
        with pytest.raises(EventParseError, match=name):
            parse_event(broken)


def test_naive_timestamp_is_rejected() -> None:
    event = parse_event(
        {
            "event_type": "WorkflowFailed",
            "correlation_id": "c",
            "causation_id": "c",
            "source_module": "m",
            "source_component": "x",
            "failure_reason": "r",
            "failure_step": "s",
        }
    )
    payload = json.loads(event.model_dump_json())
    payload["timestamp"] = "2026-11-24T15:30:00"
    with pytest.raises(EventParseError):
        parse_event(payload)


def test_unknown_event_type_and_garbage_are_rejected() -> None:
    with pytest.raises(EventParseError):
        parse_event({"event_type": "Nope", "correlation_id": "c"})
    with pytest.raises(EventParseError):
        parse_event("{not json")
    with pytest.raises(EventParseError):
        parse_event({"event_type": "WorkflowFailed"})


def test_decimal_precision_survives() -> None:
    from tests.unit.shared.test_schemas import make_signal

    signal = make_signal("a.clj", Decimal("1"), {"SPY": Decimal("0.333333333333"), "QQQ": Decimal("0.666666666667")})
    assert type(signal).model_validate_json(signal.model_dump_json()) == signal


def test_an_event_origin_names_the_publisher_once() -> None:
    from the_alchemiser.shared.events import EventOrigin, WorkflowStarted

    origin = EventOrigin("coordinator_v2", "StrategyOrchestrator")
    assert origin.of("corr", "cause") == {
        "correlation_id": "corr",
        "causation_id": "cause",
        "source_module": "coordinator_v2",
        "source_component": "StrategyOrchestrator",
    }
    parent = WorkflowStarted(
        **origin.of("corr", "trigger-1"),
        trading_date=date(2026, 11, 20),
        stage="dev",
        session_id="s",
        strategies={"a.clj": Decimal(1)},
        deadline=datetime(2026, 11, 20, 20, 40, tzinfo=UTC),
    )
    assert parent.source == "alchemiser.coordinator_v2"
    later = EventOrigin("aggregator_v2", "SignalAggregator")
    assert parent.caused(later) == {**later.of("corr", parent.event_id)}
    assert parent.caused() == {"correlation_id": "corr", "causation_id": parent.event_id}
