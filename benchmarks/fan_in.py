"""Fan-in figures: the Signal Aggregator on a real DynamoDB Local, N strategies per session.

For N in 3, 10, 30: one session, N partials delivered in random order (the time of each delivery and
of the whole fan-in to SignalGenerated), then every partial redelivered (the cost of a duplicate after
completion), then the deadline message after completion. Prints medians in milliseconds.

    uv run python benchmarks/fan_in.py
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import boto3

from the_alchemiser.aggregator_v2.service import ONCE_KEY_PREFIX, SignalAggregator
from the_alchemiser.local.dynamodb_local import start_dynamodb_local
from the_alchemiser.shared.calendar import FixedClock
from the_alchemiser.shared.events import InMemoryPublisher, PartialSignalGenerated, SignalGenerated
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.once import PowertoolsOnce
from the_alchemiser.shared.schemas import StrategySignal
from the_alchemiser.shared.sessions import (
    AggregationSession,
    AggregationSessionRepository,
    SessionDeadline,
    create_sessions_table,
)

SIZES = (3, 10, 30)
ROUNDS = 3
NOW = datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
SYMBOLS = ["SPY", "QQQ", "TLT", "GLD", "BIL", "TQQQ", "SOXL", "UVXY", "TECL", "IEF"]


def session_of(n: int) -> AggregationSession:
    shares = [Decimal(1) / n] * n
    shares[-1] = 1 - sum(shares[:-1])
    return AggregationSession(
        session_id=str(uuid.uuid4()),
        correlation_id=str(uuid.uuid4()),
        causation_id=str(uuid.uuid4()),
        stage="bench",
        trading_date=date(2026, 11, 20),
        as_of=date(2026, 11, 19),
        allocations={f"s{i:02d}.clj": share for i, share in enumerate(shares)},
        deadline=NOW + timedelta(minutes=10),
        created_at=NOW,
    )


def partial_of(session: AggregationSession, number: int, dsl_file: str, rng: random.Random) -> PartialSignalGenerated:
    picked = rng.sample(SYMBOLS, 3)
    return PartialSignalGenerated(
        correlation_id=session.correlation_id,
        causation_id=session.causation_id,
        source_module="strategy_v2",
        source_component="StrategyWorker",
        session_id=session.session_id,
        dsl_file=dsl_file,
        strategy_number=number,
        total_strategies=len(session.allocations),
        success=True,
        signals_data=StrategySignal(
            strategy=dsl_file,
            strategy_name=dsl_file,
            allocation=session.allocations[dsl_file],
            weights={picked[0]: Decimal("0.5"), picked[1]: Decimal("0.3"), picked[2]: Decimal("0.2")},
            as_of=session.as_of,
            trace_summary=["weights: ...", "if ... -> then"],
        ),
    )


def main() -> None:
    configure_logging("WARNING")  # the aggregator logs every partial at info: keep the figures readable
    server = start_dynamodb_local(timeout=120)
    try:
        client = boto3.client(
            "dynamodb",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        table = f"bench-sessions-{uuid.uuid4().hex[:8]}"
        create_sessions_table(client, table)
        repo = AggregationSessionRepository(client, table)
        once_table = f"bench-idempotency-{uuid.uuid4().hex[:8]}"
        client.create_table(  # Powertools' layout (template.yaml's IdempotencyTable): the outcome publish's once
            TableName=once_table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        once = PowertoolsOnce.on_table(once_table, client, key_prefix=ONCE_KEY_PREFIX)
        rng = random.Random(7)
        print(f"{'N':>3} {'per partial ms':>15} {'fan-in ms':>10} {'duplicate ms':>13} {'late deadline ms':>17}")
        for n in SIZES:
            per_partial: list[float] = []
            totals: list[float] = []
            duplicates: list[float] = []
            deadlines: list[float] = []
            for _ in range(ROUNDS):
                publisher = InMemoryPublisher()
                aggregator = SignalAggregator(once=once, sessions=repo, publisher=publisher, clock=FixedClock(NOW))
                session = session_of(n)
                repo.create_session(session)
                events = [partial_of(session, i + 1, f, rng) for i, f in enumerate(session.allocations)]
                rng.shuffle(events)
                start = time.perf_counter()
                for event in events:
                    t0 = time.perf_counter()
                    aggregator.handle_partial(event)
                    per_partial.append(time.perf_counter() - t0)
                totals.append(time.perf_counter() - start)
                assert len(publisher.of_type(SignalGenerated)) == 1
                for event in events:
                    t0 = time.perf_counter()
                    aggregator.handle_partial(event)
                    duplicates.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                aggregator.handle_deadline(
                    SessionDeadline(
                        session_id=session.session_id,
                        correlation_id=session.correlation_id,
                        causation_id=session.causation_id,
                        deadline=session.deadline,
                    )
                )
                deadlines.append(time.perf_counter() - t0)
                assert len(publisher.events) == 1
            print(
                f"{n:>3} {statistics.median(per_partial) * 1000:>15.1f} {statistics.median(totals) * 1000:>10.1f} "
                f"{statistics.median(duplicates) * 1000:>13.1f} {statistics.median(deadlines) * 1000:>17.1f}"
            )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
