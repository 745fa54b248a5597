"""One whole trading day, offline: emulated AWS built from template.yaml, the local paper broker over
HTTP through alpaca-py, a synthetic market, and every handler invoked as the template routes events."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import boto3

from the_alchemiser.local.stack import runs
from the_alchemiser.local.stack.intrinsics import REGION
from the_alchemiser.local.stack.model import StackModel, load_stack_model
from the_alchemiser.local.stack.provision import provision, provision_tables
from the_alchemiser.local.stack.router import Delivery, LocalRouter
from the_alchemiser.local.stack.runs import (
    Timeline,
    mark_latest,
    new_run_dir,
    timeline_refusal,
    written_outputs,
)
from the_alchemiser.local.stack.summary import render_positions, render_summary
from the_alchemiser.notifications_v2.report import DailyReport, build_daily_report
from the_alchemiser.shared.calendar import NEW_YORK, nyse_calendar
from the_alchemiser.shared.events import BaseEvent, WorkflowStarted, decode_event
from the_alchemiser.shared.events.publisher import S3PayloadStore
from the_alchemiser.shared.ledger.dynamodb import DynamoTradeLedger
from the_alchemiser.shared.logging import configure_logging
from the_alchemiser.shared.stamps import stamped_by

PROJECT_ROOT = runs.PROJECT_ROOT
DEFAULT_OUTPUT = runs.DEFAULT_OUTPUT
LOCAL_STAGE = "local"
MARKET_HISTORY_DAYS = 900
ORCHESTRATOR = "StrategyOrchestratorFunction"
PAPER_PROBE_SECONDS = 10
# Set to print one `{"timings": ...}` line on stderr: the set-up's phases (benchmarks/run_day.py reads it).
TIMINGS_ENV = "ALCHEMISER_RUN_TIMINGS"


class _Phases:
    """Wall seconds per set-up phase, and when run_trading_day was entered (for the benchmark)."""

    def __init__(self) -> None:
        self.entered = time.time()
        self.seconds: dict[str, float] = {}
        self._mark = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._mark
        self._mark = now

    def report(self) -> None:
        if os.environ.get(TIMINGS_ENV):
            timings = {"entered": self.entered, **{k: round(v, 4) for k, v in self.seconds.items()}}
            print(json.dumps({"timings": timings}), file=sys.stderr, flush=True)


class _TablesInBackground:
    """The tables created on a thread once DynamoDB Local listens (or in moto at once), while the rest of the
    set-up goes on. `join` (before the first handler runs) re-raises what went wrong, except a DynamoDB Local
    that never came up: then the tables go to moto, as when it is not installed, and the run says so."""

    def __init__(self, model: StackModel, clients: dict[str, Any], ddb: Any | None) -> None:
        self.model, self.clients, self.ddb = model, clients, ddb
        self._error: BaseException | None = None
        import threading

        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            if self.ddb is not None:
                self.ddb.wait_ready()
            provision_tables(self.model, self.clients)
        except BaseException as exc:  # handed to the main thread by join()
            self._error = exc

    def join(self, env: dict[str, str], overrides: dict[str, str]) -> None:
        from the_alchemiser.local.dynamodb_local import DynamoDBLocalUnavailable

        self._thread.join()
        if isinstance(self._error, DynamoDBLocalUnavailable):
            print(
                f"  DynamoDB Local unavailable ({self._error}): tables in moto, not kept for a rerun", file=sys.stderr
            )
            for where in (env, overrides, os.environ):
                where.pop("AWS_ENDPOINT_URL_DYNAMODB", None)
            self.clients["dynamodb"] = boto3.client("dynamodb", region_name=REGION)
            provision_tables(self.model, self.clients)
        elif self._error is not None:
            raise self._error


@dataclass
class DayOptions:
    day: date | None = None
    strategies: list[str] | None = None  # subset of strategies/ files; allocations renormalised
    strategies_dir: Path = PROJECT_ROOT / "strategies"
    extra_strategy_files: dict[str, str] = field(default_factory=dict)  # name -> text (tests)
    fresh_broker: bool = False
    output_dir: Path = DEFAULT_OUTPUT
    template: Path = PROJECT_ROOT / "template.yaml"
    use_dynamodb_local: bool = True
    duplicate_events: bool = False
    shuffle_seed: int | None = None
    starting_cash: str = "100000"
    quiet: bool = False
    broker_faults: list[dict[str, Any]] = field(default_factory=list)
    env_overrides: dict[str, str] = field(default_factory=dict)
    before_run: Callable[[LocalRouter], None] | None = None
    paper: bool = False  # the real Alpaca paper account (keys from the environment) instead of the local broker
    today: date | None = None  # the real date (tests fix it): the synthetic market has bars up to it
    market_data: str | None = None  # a `data fetch` cache (CSV/datalake dir, s3://): real bars, not synthetic


@dataclass
class DayResult:
    day: date
    output_dir: Path
    events: list[BaseEvent]
    deliveries: list[Delivery]
    emails: list[dict[str, str]]
    orders: list[dict[str, Any]]
    summary: str
    holiday: bool = False
    notes: list[str] = field(default_factory=list)  # why no workflow started, when none did
    printed: str = ""  # what the run said (the console lines), whether or not it was quiet

    @property
    def outcome(self) -> str:
        kinds = [e.event_type for e in self.events]
        if "WorkflowFailed" in kinds:
            return "failed"
        if "WorkflowCompleted" in kinds:
            return "completed"
        return "none"


@contextmanager
def _alpaca_paper_account(options: DayOptions) -> Iterator[Any]:
    """The user's real Alpaca paper account (keys from the environment), never a live one."""
    from the_alchemiser.shared.config.settings import Settings

    settings = Settings()
    if settings.alpaca_api_key is None or settings.alpaca_secret_key is None:
        raise SystemExit("--paper needs ALPACA_API_KEY and ALPACA_SECRET_KEY in the environment")
    if not settings.paper_trading or "paper-api" not in settings.trading_base_url:
        raise SystemExit(f"--paper refuses {settings.trading_base_url}: only a paper endpoint may be used locally")
    if options.broker_faults:
        raise SystemExit("broker faults can only be injected into the local paper broker")
    problem = _paper_account_problem(settings)
    if problem:
        raise SystemExit(problem)
    yield AlpacaPaperAccount(settings)


def _paper_account_problem(settings: Any) -> str | None:
    """One request to the paper account before anything starts: why it cannot be used, in one line."""
    import urllib.error
    import urllib.request

    url = f"{settings.trading_base_url}/v2/account"
    request = urllib.request.Request(
        url,
        headers={
            "APCA-API-KEY-ID": settings.alpaca_api_key.get_secret_value(),
            "APCA-API-SECRET-KEY": settings.alpaca_secret_key.get_secret_value(),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=PAPER_PROBE_SECONDS):
            return None
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            return f"--paper: Alpaca at {settings.trading_base_url} refused the keys (HTTP {exc.code}): check them"
        return f"--paper: Alpaca at {settings.trading_base_url} answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return f"--paper: cannot reach Alpaca at {settings.trading_base_url}: {reason}"


class AlpacaPaperAccount:
    """What the run reads back from the real paper account: its URL and today's orders."""

    def __init__(self, settings: Any) -> None:
        self.base_url = settings.trading_base_url
        self._settings = settings

    def all_orders(self) -> list[dict[str, Any]]:
        from alpaca.trading.client import TradingClient
        from alpaca.trading.enums import QueryOrderStatus
        from alpaca.trading.requests import GetOrdersRequest

        client = TradingClient(
            self._settings.alpaca_api_key.get_secret_value(),
            self._settings.alpaca_secret_key.get_secret_value(),
            paper=True,
            url_override=self.base_url,
        )
        since = datetime.combine(datetime.now(NEW_YORK).date(), datetime.min.time(), NEW_YORK)
        orders: Any = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, after=since, limit=500))
        return [order.model_dump(mode="json") for order in orders]


def run_trading_day(options: DayOptions, out: TextIO = sys.stdout) -> DayResult:
    """One trading day in its own run folder. A holiday and a refused day end before anything starts."""
    phases = _Phases()
    today = options.today or runs.today_in_new_york()
    if options.paper and options.day is not None and options.day != today:
        raise SystemExit("--paper trades the real paper account now: --date must be today or omitted")
    market_last_day = _cache_last_day(options) if options.market_data else today
    day = today if options.paper else runs.choose_day(options.day, market_last_day)
    run_at = nyse_calendar().run_time(day)
    if run_at is not None and not options.paper:
        refusal = timeline_refusal(day, Timeline.read(_state_dir(options)), market_last_day, fresh=options.fresh_broker)
        if refusal:
            raise SystemExit(refusal)
    run_dir = new_run_dir(options.output_dir, day)
    printed = io.StringIO()

    def say(message: str) -> None:
        printed.write(message + "\n")
        if not options.quiet:
            print(message, file=out, flush=True)

    closed = runs.not_a_trading_day(day)
    if closed is not None:
        runs.record_closed_day(run_dir, day, closed, say)
        return DayResult(day, run_dir, [], [], [], [], closed, holiday=True, notes=[closed], printed=printed.getvalue())
    assert run_at is not None  # a trading day has a run time
    log_file = (run_dir / "logs.jsonl").open("w")
    configure_logging("INFO", stream=log_file)
    if options.fresh_broker:
        shutil.rmtree(_state_dir(options), ignore_errors=True)
    clock = _DayClock(run_at)
    say(f"The Alchemiser, local trading day {day}, trigger at {run_at:%H:%M %Z}")
    try:
        with ExitStack() as stack:
            if not options.paper:
                stack.enter_context(stamped_by(clock.now))
            if options.paper:
                broker: Any = stack.enter_context(_alpaca_paper_account(options))
            # DynamoDB Local starts first (its JVM takes seconds) and is waited for only by the tables
            env, ddb = stack.enter_context(_local_aws(options))
            phases.done("local AWS (moto; DynamoDB Local launched)")
            strategies_dir = _strategies_for_run(options, run_dir)
            model = load_stack_model(options.template, LOCAL_STAGE)
            phases.done("template")
            clients = {
                name: boto3.client(name, region_name=REGION) for name in ("dynamodb", "sqs", "s3", "sns", "events")
            }
            provision(model, clients, tables=False)
            tables = _TablesInBackground(model, clients, ddb)
            say(
                f"  local AWS ready from {options.template.name}: "
                f"{len(model.functions)} functions, {len(model.routes)} rules"
            )
            email_queue = _tap_topic(model, clients)
            phases.done("provision (queues, buckets, topics, buses)")
            if options.paper:
                overrides = {**env, "STRATEGIES_DIR": str(strategies_dir), **options.env_overrides}
                say(f"  Alpaca paper account at {broker.base_url} (real clock, real market data)")
            else:
                if options.market_data:
                    market = _cached_market(options.market_data, strategies_dir, day)
                    say(f"  cached bars from {options.market_data}: {len(market)} symbols, served by the local broker")
                else:
                    market = _synthetic_market(strategies_dir, day)
                    say(f"  synthetic market: {len(market)} symbols through {day}, served by the local broker")
                broker = stack.enter_context(_broker(options, market, run_at))
                clock.follow(broker.now)  # from here on events and log lines carry the broker's simulated time
                for fault in options.broker_faults:
                    broker.inject_fault(**fault)
                say(f"  local paper broker on {broker.base_url}")
                overrides = {
                    **env,
                    "ALPACA_API_KEY": "local-paper-key",
                    "ALPACA_SECRET_KEY": "local-paper-secret",
                    "ALPACA_BASE_URL": broker.base_url,
                    "ALPACA_DATA_URL": broker.base_url,
                    "ALCHEMISER_SIM_CONTROL_URL": broker.base_url,
                    "PAPER_TRADING": "true",
                    "STRATEGIES_DIR": str(strategies_dir),
                    "ALCHEMISER_LOCAL_CLOCK": run_at.isoformat(),
                    **options.env_overrides,
                }
            phases.done("market and broker")
            tables.join(env, overrides)  # the handlers need the tables
            phases.done("tables (after waiting for DynamoDB Local)")
            router = LocalRouter(
                model,
                env_overrides=overrides,
                on_delivery=lambda d: say(_progress(d)),
                duplicate_events=options.duplicate_events,
                shuffle_seed=options.shuffle_seed,
                clock=clock.elapsed,
                # the router's waits (a retry's delay, a visibility timeout, the session deadline) pass on the
                # local broker's clock as they would in AWS; a real paper account's clock is its own
                on_wait=None if options.paper else broker.advance,
            )
            if options.paper:
                clock.count_waits(lambda: router.now)
            with router.installed():
                if options.before_run:
                    options.before_run(router)
                # the evening data refresh brings the datalake up to the last completed session
                refresh = router.invoke("DataRefreshFunction", {"trigger_id": f"data-refresh-{day}"}, "schedule")
                if refresh.ok:
                    say(f"  datalake refreshed through {refresh.response.get('target', '?')}")
                if options.paper:
                    # a manual run now: the real clock and market decide
                    router.enqueue(ORCHESTRATOR, {"force": True, "date": day.isoformat()}, "manual")
                else:
                    router.trigger_schedule(run_at)
                router.run_until_idle()
            phases.done("the day (handlers)")
            events = _decode_all(router.published, model, clients)
            emails = _drain_emails(clients["sqs"], email_queue)
            orders = broker.all_orders()
            _write_outputs(run_dir, model, clients, emails, events)
            notes = _orchestrator_notes(router.deliveries)
            report = _daily_report(model, clients, events)
            summary = render_summary(events, notes, report)
            if report is not None:
                (run_dir / "positions.txt").write_text(render_positions(_ledger(model, clients).load_book()) + "\n")
    finally:
        configure_logging("INFO", stream=sys.stdout)
        log_file.close()
    result = DayResult(day, run_dir, events, router.deliveries, emails, orders, summary, notes=notes)
    if not options.paper and result.outcome != "none":
        kept = Timeline.read(_state_dir(options))
        (kept.after(day) if kept else Timeline(day, day)).write(_state_dir(options))
    (run_dir / "summary.txt").write_text(summary + "\n")
    if result.outcome == "completed":
        mark_latest(run_dir)
    say("")
    say(summary)
    say("")
    say(f"Output: {run_dir} ({', '.join(written_outputs(run_dir))})")
    result.printed = printed.getvalue()
    phases.done("outputs")
    phases.report()
    return result


class _DayClock:
    """The simulated day's time: the trigger time until the local broker runs, then the broker's clock, which
    execution's waits and the router's (retry delays, visibility timeouts, SQS delays such as the session
    deadline's) move forward, as time would pass in AWS; with a real paper account, the trigger time plus
    the router's waits. The broker keeps its
    clock in memory, so every read is cheap and never fails: from any thread, inside the broker's own
    transaction (a log line it writes there), after it has stopped (the day's last reading)."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._read: Callable[[], datetime] | None = None
        self._waited: Callable[[], float] = lambda: 0.0

    def follow(self, read: Callable[[], datetime]) -> None:
        self._read = read

    def count_waits(self, waited: Callable[[], float]) -> None:
        """The router's counted waits (seconds) join the stamps (a paper account: no broker clock to move)."""
        self._waited = waited

    def broker_now(self) -> datetime:
        return self._start if self._read is None else self._read()

    def now(self) -> datetime:
        return self.broker_now() + timedelta(seconds=self._waited())

    def elapsed(self) -> float:
        """Seconds for an invocation's remaining time: real time plus simulated time. A wait moves the
        broker's clock at once where in AWS it would take real time, so both count against the Timeout.
        (The router's own waits fall between invocations, never inside one.)"""
        return time.monotonic() + self.broker_now().timestamp()


def _ledger(model: StackModel, clients: dict[str, Any]) -> DynamoTradeLedger:
    return DynamoTradeLedger(clients["dynamodb"], model.physical_names["TradeLedgerTable"])


def _daily_report(model: StackModel, clients: dict[str, Any], events: list[BaseEvent]) -> DailyReport | None:
    """The day's report as notifications built it: the ledger's booking of the plan and the lot book."""
    started = [e for e in events if isinstance(e, WorkflowStarted)]
    if not started:
        return None
    ledger = _ledger(model, clients)
    booking = ledger.booking(started[-1].correlation_id)
    return build_daily_report(booking, ledger.load_book()) if booking is not None else None


def _orchestrator_notes(deliveries: list[Delivery]) -> list[str]:
    """When the orchestrator declined to start a workflow, its reason is the day's headline."""
    notes = []
    for delivery in deliveries:
        response = delivery.response if isinstance(delivery.response, dict) else {}
        if delivery.function == ORCHESTRATOR and response.get("status") not in (None, "started"):
            notes.append(f"No workflow started: {response.get('detail') or response['status']}")
    return notes


def _progress(delivery: Delivery) -> str:
    mark = "ok " if delivery.ok else "ERR"
    what = delivery.detail_type or delivery.trigger
    if delivery.attempt > 1:
        what += f" (attempt {delivery.attempt})"
    if delivery.at:  # after a retry delay or a visibility timeout, counted on the router's clock
        what += f" at +{delivery.at:.0f} s"
    tail = f"  {delivery.error}" if delivery.error else ""
    return f"  [{mark}] {delivery.function:<28} <- {what}{tail}"


def _strategies_for_run(options: DayOptions, day_dir: Path) -> Path:
    """A copy of strategies/ with the [local] allocations, narrowed to --strategies (renormalised exactly,
    in Decimal) and test extras."""
    from the_alchemiser.coordinator_v2.allocations import AllocationConfigError, load_allocations, renormalised

    try:
        allocations = load_allocations(options.strategies_dir, LOCAL_STAGE)
    except AllocationConfigError as exc:
        raise SystemExit(f"strategies: {exc}") from exc
    if options.strategies:
        chosen = select_strategies(options.strategies, list(allocations), options.strategies_dir)
        allocations = {name: allocations[name] for name in chosen}
    files = {name: (options.strategies_dir / name).read_text() for name in allocations}
    files.update(options.extra_strategy_files)
    if options.extra_strategy_files:
        allocations = {name: Decimal(1) for name in files}  # equal shares: a test's extra files join the rest
    shares = renormalised(allocations)
    target = day_dir / "strategies"
    target.mkdir()
    for name, text in files.items():
        (target / name).write_text(text)
    lines = [f"[{LOCAL_STAGE}]"] + [f'"{name}" = {share:f}' for name, share in shares.items()]
    (target / "allocations.toml").write_text("\n".join(lines) + "\n")
    return target


def select_strategies(requested: list[str], known: list[str], strategies_dir: Path) -> list[str]:
    """--strategies as names (`nuclear.clj`, `nuclear`) or paths (`strategies/nuclear.clj`, what tab
    completion gives): the file names of the [local] table, in the order asked. Unknown ones end the run
    with the list of known names."""
    chosen: list[str] = []
    unknown: list[str] = []
    for entry in requested:
        name = Path(entry).name
        name = name if name.endswith(".clj") else f"{name}.clj"
        if name not in known:
            unknown.append(entry)
        elif name not in chosen:
            chosen.append(name)
    if unknown:
        raise SystemExit(
            f"unknown strateg{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}: "
            f"the [{LOCAL_STAGE}] table of {strategies_dir / 'allocations.toml'} has {', '.join(sorted(known))} "
            "(a new symphony needs its file in that folder and a line in that table)"
        )
    return chosen


def _state_dir(options: DayOptions) -> Path:
    """What a run keeps for the next: the broker's account and the tables (workflow locks, ledger,
    idempotency), so a rerun of a day is a no-op and the next day trades the difference."""
    return runs.state_dir(options.output_dir)


@contextmanager
def _local_aws(options: DayOptions) -> Iterator[tuple[dict[str, str], Any | None]]:
    """moto for everything, and the real DynamoDB Local for tables when it is installed: launched first and
    not waited for here (its endpoint is known at once); whoever makes the first table request waits."""
    from the_alchemiser.local import dynamodb_local

    saved = dict(os.environ)
    env = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }
    ddb = None
    if options.use_dynamodb_local:
        try:
            tables = _state_dir(options) / "dynamodb"
            tables.mkdir(parents=True, exist_ok=True)
            ddb = dynamodb_local.launch_dynamodb_local(db_path=tables)
            env["AWS_ENDPOINT_URL_DYNAMODB"] = ddb.endpoint
        except dynamodb_local.DynamoDBLocalUnavailable as exc:
            print(f"  DynamoDB Local unavailable ({exc}): tables in moto, not kept for a rerun", file=sys.stderr)
            ddb = None
    try:
        from moto import mock_aws  # imports while the JVM starts

        os.environ.update(env)
        os.environ.pop("AWS_PROFILE", None)
        with mock_aws():
            yield env, ddb
    finally:
        if ddb is not None:
            ddb.stop()
        os.environ.clear()
        os.environ.update(saved)


def _tap_topic(model: StackModel, clients: dict[str, Any]) -> str:
    """Subscribe a queue to the notifications topic: what SNS would email lands there."""
    topic_arn = model.arn("TradingNotificationsTopic")
    url: str = clients["sqs"].create_queue(QueueName="local-email-tap")["QueueUrl"]
    arn = clients["sqs"].get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    clients["sns"].subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def _synthetic_market(strategies_dir: Path, day: date) -> dict[str, Any]:
    """Synthetic daily bars for exactly the symbols the data refresh will ask the local broker for."""
    from the_alchemiser.data_v2.universe import strategy_universe
    from the_alchemiser.local.synthetic_market import generate_market

    return generate_market(strategy_universe(strategies_dir).symbols, end=day, days=MARKET_HISTORY_DAYS)


def _cache_last_day(options: DayOptions) -> date:
    """The market's last day for `--data`: the session after the cache's newest bar among the strategies'
    symbols (at the run, 15 minutes before the close, the cache holds every completed day before it)."""
    from the_alchemiser.data_v2.universe import strategy_universe
    from the_alchemiser.shared.market_data import MarketDataError
    from the_alchemiser.shared.market_data.location import open_market_data

    assert options.market_data is not None
    symbols = strategy_universe(options.strategies_dir).symbols
    bars = open_market_data(options.market_data).daily_bars(list(symbols))
    last = [series.last_date for series in bars.values() if series.last_date is not None]
    if not last:
        raise MarketDataError(f"{options.market_data} has no bars for the strategies' symbols")
    return nyse_calendar().next_trading_day(max(last))


def _cached_market(location: str, strategies_dir: Path, day: date) -> dict[str, Any]:
    """The cache's bars for the same symbols: the local broker quotes around these real closes."""
    from the_alchemiser.data_v2.universe import strategy_universe
    from the_alchemiser.local.sim_broker.prices import cached_market

    return cached_market(location, strategy_universe(strategies_dir).symbols, day)


@contextmanager
def _broker(options: DayOptions, market: dict[str, Any], at: datetime) -> Iterator[Any]:
    from decimal import Decimal

    from the_alchemiser.local.sim_broker import BarsPriceSource, start_sim_broker

    state = _state_dir(options) / "broker.sqlite"
    handle = start_sim_broker(
        state,
        price_source=BarsPriceSource(market),
        clock_start=at,
        initial_cash=Decimal(options.starting_cash),
        # Waits advance simulated time, so a day's requests arrive within wall seconds: budget per simulated
        # minute is enforced by execution's own token bucket, not by the wall-clock limiter here.
        rate_limit_per_minute=1_000_000,
    )
    try:
        handle.set_clock(at)  # a kept state file moves on to this day
        yield handle
    finally:
        handle.stop()


def _decode_all(published: list[dict[str, Any]], model: StackModel, clients: dict[str, Any]) -> list[BaseEvent]:
    store = S3PayloadStore(clients["s3"], model.physical_names["EventPayloadsBucket"])
    return [decode_event(envelope["detail"], store) for envelope in published]


def _drain_emails(sqs: Any, url: str) -> list[dict[str, str]]:
    emails: list[dict[str, str]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return emails
        for message in messages:
            body = json.loads(message["Body"])
            emails.append({"subject": body.get("Subject", ""), "body": body.get("Message", "")})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def _write_outputs(
    day_dir: Path, model: StackModel, clients: dict[str, Any], emails: list[dict[str, str]], events: list[BaseEvent]
) -> None:
    if emails:
        (day_dir / "email.txt").write_text("\n\n".join(f"Subject: {e['subject']}\n\n{e['body']}" for e in emails))
    bucket = model.physical_names["PerformanceReportsBucket"]
    listing = clients["s3"].list_objects_v2(Bucket=bucket).get("Contents", [])
    for item in listing:
        for extension in ("csv", "html"):  # the CSV report and the day's page beside it
            if item["Key"].endswith(f".{extension}"):
                body = clients["s3"].get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                (day_dir / f"report.{extension}").write_bytes(body)
    if events:
        (day_dir / "events.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in events))
