"""Publishing events to EventBridge. An entry is at most 256 KB: larger bodies go to S3 by key.

A large event is published as a pointer (`EventPointer`) carrying the base fields plus the S3
location of the full JSON; `decode_event` on the consumer side resolves it. One mechanism for
every event, so no event ever drops detail (per-strategy attribution) to fit."""

from __future__ import annotations

import json
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from the_alchemiser.shared.events.models import BaseEvent, EventParseError, parse_event
from the_alchemiser.shared.secrets import scrub

EVENTBRIDGE_ENTRY_LIMIT = 256 * 1024
# room for Source, DetailType, EventBusName and the envelope EventBridge adds
INLINE_DETAIL_LIMIT = 200 * 1024


class EventPublishError(RuntimeError):
    """EventBridge refused an entry."""


class PayloadStore(Protocol):
    """Where oversized event bodies live (S3 in AWS)."""

    def put(self, key: str, body: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...


class EventPublisher(Protocol):
    def publish(self, event: BaseEvent) -> None: ...


class EventPointer(BaseModel):
    """What goes on the bus in place of an event too large for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: str
    event_id: str
    correlation_id: str
    causation_id: str
    payload_key: str


def event_source(event: BaseEvent) -> str:
    return event.source


def encode_detail(event: BaseEvent, store: PayloadStore | None) -> str:
    """The Detail string for an event: inline when it fits, otherwise a pointer to S3. Every configured
    credential value is removed from it, whatever field it sits in (shared/secrets.py)."""
    body = scrub(event.model_dump_json())
    if len(body.encode()) <= INLINE_DETAIL_LIMIT:
        return body
    if store is None:
        raise EventPublishError(
            f"{event.event_type} is {len(body.encode())} bytes, over the inline limit, and no payload store is set"
        )
    key = f"events/{event.correlation_id}/{event.event_type}/{event.event_id}.json"
    store.put(key, body.encode())
    pointer = EventPointer(
        event_type=event.event_type,
        event_id=event.event_id,
        correlation_id=event.correlation_id,
        causation_id=event.causation_id,
        payload_key=key,
    )
    return pointer.model_dump_json()


def decode_event(detail: dict[str, Any] | str, store: PayloadStore | None) -> BaseEvent:
    """Parse an event from a bus detail, fetching it from the payload store when it is a pointer."""
    data: Any = json.loads(detail) if isinstance(detail, str) else detail
    if isinstance(data, dict) and "payload_key" in data:
        if store is None:
            raise EventParseError("event body is in the payload store, but none is configured")
        pointer = EventPointer.model_validate(data)
        return parse_event(store.get(pointer.payload_key))
    if not isinstance(data, dict):
        raise EventParseError(f"event detail is not an object: {type(data).__name__}")
    return parse_event(data)


class EventBridgePublisher:
    """Publishes to one bus with boto3's `events` client."""

    def __init__(self, events_client: Any, bus_name: str, store: PayloadStore | None = None) -> None:
        self._events = events_client
        self._bus_name = bus_name
        self._store = store

    def publish(self, event: BaseEvent) -> None:
        entry = {
            "Source": event_source(event),
            "DetailType": event.event_type,
            "Detail": encode_detail(event, self._store),
            "EventBusName": self._bus_name,
        }
        response = self._events.put_events(Entries=[entry])
        if response.get("FailedEntryCount", 0):
            failure = response["Entries"][0]
            raise EventPublishError(
                f"EventBridge refused {event.event_type}: {failure.get('ErrorCode')} {failure.get('ErrorMessage')}"
            )


class S3PayloadStore:
    """Oversized event bodies and full traces, in one bucket by key."""

    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    def put(self, key: str, body: bytes) -> str:
        self._s3.put_object(
            Bucket=self._bucket, Key=key, Body=body, ContentType="application/json", ServerSideEncryption="AES256"
        )
        return key

    def get(self, key: str) -> bytes:
        body: bytes = self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        return body


class InMemoryPublisher:
    """Collects events in order: for unit tests of services."""

    def __init__(self) -> None:
        self.events: list[BaseEvent] = []

    def publish(self, event: BaseEvent) -> None:
        self.events.append(event)

    def of_type(self, event_type: type[BaseEvent]) -> list[BaseEvent]:
        return [e for e in self.events if isinstance(e, event_type)]
