"""HTTP front of the simulated broker: Alpaca's trading and data API paths at one base URL, plus `/_sim/`.

Every `/v2/...` request needs the APCA-API-KEY-ID / APCA-API-SECRET-KEY headers, counts against the rate
limit (429 with X-RateLimit-* past it) and may be hit by an injected fault. `/_sim/...` control requests
are exempt from all three."""

from __future__ import annotations

import contextlib
import json
import math
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from the_alchemiser.local.sim_broker.engine import SimApiError, SimBrokerEngine, parse_time
from the_alchemiser.shared.calendar import NEW_YORK
from the_alchemiser.shared.logging import get_logger

log = get_logger(__name__)

MAX_BARS_PAGE = 10_000


@dataclass
class Fault:
    """Answer the next `count` matching requests with `status` (before or after really handling them)."""

    status: int
    count: int
    path: str = ""  # a prefix of the request path, e.g. "/v2/orders"; "" matches all
    method: str | None = None
    when: str = "before"  # "after": do the work, then lose the response (the ambiguous failure)

    def matches(self, method: str, path: str) -> bool:
        return self.count > 0 and path.startswith(self.path) and (self.method is None or self.method == method)


class RateLimiter:
    """A sliding one-minute window of wall-clock request times, like Alpaca's per-account budget.

    `X-RateLimit-Reset` is the Unix second at which the oldest request in the window leaves it (a slot frees).
    `clock` is the wall clock; tests swap it for a fake one to show a client waits for the reset."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> tuple[bool, dict[str, str]]:
        with self._lock:
            now = self.clock()
            while self._times and self._times[0] <= now - 60:
                self._times.popleft()
            allowed = len(self._times) < self.per_minute
            if allowed:
                self._times.append(now)
            reset = math.ceil((self._times[0] if self._times else now) + 60)
            headers = {
                "X-RateLimit-Limit": str(self.per_minute),
                "X-RateLimit-Remaining": str(max(0, self.per_minute - len(self._times))),
                "X-RateLimit-Reset": str(reset),
            }
            return allowed, headers


class FaultBook:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        if fault.when not in ("before", "after"):
            raise SimApiError(422, "fault 'when' is 'before' or 'after'")
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    return fault
            return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [vars(f).copy() for f in self._faults if f.count > 0]


@dataclass(frozen=True)
class RequestRecord:
    """One API request as the broker answered it: what tests read to prove a client never resubmitted blindly."""

    method: str
    path: str
    status: int
    query: dict[str, str] = field(default_factory=dict)  # e.g. what a bars request asked for (start, end)


@dataclass
class Reply:
    status: int
    body: Any = None


Route = Callable[[re.Match[str], dict[str, str], dict[str, Any]], Reply]


class SimBrokerApp:
    """Routing from (method, path) to the engine; shared by every request thread."""

    def __init__(
        self,
        engine: SimBrokerEngine,
        *,
        rate_limit_per_minute: int = 200,
        api_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        self.engine = engine
        self.rate_limiter = RateLimiter(rate_limit_per_minute)
        self.faults = FaultBook()
        self.request_log: deque[RequestRecord] = deque(maxlen=10_000)
        self._log_lock = threading.Lock()
        self.api_key = api_key
        self.secret_key = secret_key
        self.routes: list[tuple[str, re.Pattern[str], Route]] = []
        for method, pattern, handler in self._table():
            self.routes.append((method, re.compile(f"^{pattern}$"), handler))

    def _table(self) -> list[tuple[str, str, Route]]:
        e = self.engine
        return [
            ("GET", "/v2/account", lambda m, q, b: Reply(200, e.account())),
            ("GET", "/v2/positions", lambda m, q, b: Reply(200, e.positions())),
            ("GET", "/v2/positions/(?P<symbol>[^/]+)", lambda m, q, b: Reply(200, e.position(m["symbol"]))),
            ("GET", "/v2/assets/(?P<symbol>[^/]+)", lambda m, q, b: Reply(200, e.asset(m["symbol"]))),
            ("GET", "/v2/clock", lambda m, q, b: Reply(200, e.clock())),
            ("GET", "/v2/calendar", self._calendar),
            ("POST", "/v2/orders", lambda m, q, b: Reply(200, e.place_order(b))),
            ("GET", "/v2/orders", self._list_orders),
            ("DELETE", "/v2/orders", lambda m, q, b: Reply(207, e.cancel_all())),
            ("GET", "/v2/orders:by_client_order_id", self._by_client_id),
            ("GET", "/v2/orders/(?P<id>[^/]+)", lambda m, q, b: Reply(200, e.get_order(m["id"]))),
            ("PATCH", "/v2/orders/(?P<id>[^/]+)", lambda m, q, b: Reply(200, e.replace_order(m["id"], b))),
            ("DELETE", "/v2/orders/(?P<id>[^/]+)", self._cancel),
            ("GET", "/v2/stocks/quotes/latest", self._latest_quotes),
            ("GET", "/v2/stocks/bars", self._bars),
            # control endpoints
            ("GET", "/_sim/state", lambda m, q, b: Reply(200, e.state() | {"faults": self.faults.pending()})),
            (
                "GET",
                "/_sim/requests",
                lambda m, q, b: Reply(200, [vars(r) for r in self.requests(q.get("path", ""), q.get("method"))]),
            ),
            ("POST", "/_sim/clock", self._set_clock),
            (
                "POST",
                "/_sim/advance",
                lambda m, q, b: Reply(
                    200, {"clock": e.advance(float(b.get("seconds", 60)), ticks=int(b.get("ticks", 1))).isoformat()}
                ),
            ),
            ("POST", "/_sim/tick", lambda m, q, b: Reply(200, {"tick": e.tick(int(b.get("count", 1)))})),
            ("POST", "/_sim/prices", self._set_prices),
            ("DELETE", "/_sim/prices", self._clear_prices),
            ("POST", "/_sim/fund", lambda m, q, b: Reply(200, {"cash": str(e.fund(Decimal(str(b["amount"]))))})),
            (
                "POST",
                "/_sim/behaviour",
                lambda m, q, b: Reply(200, {k: str(v) for k, v in vars(e.set_behaviour(b)).items()}),
            ),
            ("POST", "/_sim/faults", self._add_fault),
            ("DELETE", "/_sim/faults", self._clear_faults),
            ("POST", "/_sim/halt", self._halt),
            ("POST", "/_sim/fill", self._fill),
        ]

    # ----- handlers that parse more than a path
    def _calendar(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        today = self.engine.now().astimezone(NEW_YORK).date()
        start = date.fromisoformat(q["start"][:10]) if q.get("start") else today
        end = date.fromisoformat(q["end"][:10]) if q.get("end") else start
        return Reply(200, self.engine.calendar_days(start, end))

    def _list_orders(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        symbols = [s for s in q.get("symbols", "").split(",") if s]
        return Reply(
            200,
            self.engine.list_orders(
                status=q.get("status", "open"),
                limit=int(q.get("limit", 50)),
                after=parse_time(q["after"]) if q.get("after") else None,
                until=parse_time(q["until"]) if q.get("until") else None,
                direction=q.get("direction", "desc"),
                symbols=symbols or None,
            ),
        )

    def _by_client_id(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        if not q.get("client_order_id"):
            raise SimApiError(422, "client_order_id is required")
        return Reply(200, self.engine.get_order_by_client_id(q["client_order_id"]))

    def _cancel(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        self.engine.cancel_order(m["id"])
        return Reply(204)

    def _latest_quotes(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        symbols = [s for s in q.get("symbols", "").split(",") if s]
        if not symbols:
            raise SimApiError(400, "symbols is required", code=40010001)
        return Reply(200, self.engine.latest_quotes(symbols))

    def _bars(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        timeframe = q.get("timeframe", "1Day")
        if timeframe not in ("1Day", "1D", "1day"):
            raise SimApiError(422, f"the simulated broker serves daily bars only, not {timeframe}")
        symbols = [s for s in q.get("symbols", "").split(",") if s]
        if not symbols:
            raise SimApiError(400, "symbols is required", code=40010001)
        start = parse_time(q["start"]).astimezone(NEW_YORK).date() if q.get("start") else date(2000, 1, 1)
        end = parse_time(q["end"]).astimezone(NEW_YORK).date() if q.get("end") else date(2100, 1, 1)
        limit = min(int(q.get("limit") or 1000), MAX_BARS_PAGE)
        offset = int(q.get("page_token") or 0)
        adjustment = q.get("adjustment", "raw")
        if adjustment not in ("raw", "split", "dividend", "all"):
            raise SimApiError(400, f"invalid adjustment {adjustment!r}", code=40010001)
        flat = [
            (symbol, bar)
            for symbol, bars in self.engine.daily_bars(sorted(symbols), start, end, adjustment).items()
            for bar in bars
        ]
        if q.get("sort") == "desc":
            flat.sort(key=lambda item: (item[0], item[1]["t"]), reverse=True)
        page = flat[offset : offset + limit]
        grouped: dict[str, list[dict[str, Any]]] = {}
        for symbol, bar in page:
            grouped.setdefault(symbol, []).append(bar)
        next_token = str(offset + limit) if offset + limit < len(flat) else None
        return Reply(200, {"bars": grouped, "next_page_token": next_token})

    def _set_clock(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        moment = self.engine.set_clock(parse_time(str(b["timestamp"])), tick=bool(b.get("tick", True)))
        return Reply(200, {"clock": moment.isoformat()})

    def _set_prices(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        self.engine.set_prices(b.get("prices", {}))
        return Reply(204)

    def _clear_prices(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        self.engine.clear_prices()
        return Reply(204)

    def _clear_faults(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        self.faults.clear()
        return Reply(204)

    def _halt(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        self.engine.halt(str(b["symbol"]), bool(b.get("halted", True)))
        return Reply(204)

    def _add_fault(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        method = b.get("method")
        self.faults.add(
            Fault(
                status=int(b["status"]),
                count=int(b.get("count", 1)),
                path=str(b.get("path", "")),
                method=str(method).upper() if method else None,
                when=str(b.get("when", "before")),
            )
        )
        return Reply(204)

    def _fill(self, m: re.Match[str], q: dict[str, str], b: dict[str, Any]) -> Reply:
        qty = Decimal(str(b["qty"])) if b.get("qty") is not None else None
        price = Decimal(str(b["price"])) if b.get("price") is not None else None
        return Reply(200, self.engine.fill_order(str(b["order_id"]), qty=qty, price=price))

    # ----- dispatch
    def dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        status, body, extra = self._dispatch(method, raw_path, headers, raw_body)
        split = urlsplit(raw_path)
        path = unquote(split.path).rstrip("/") or "/"
        if not path.startswith("/_sim/"):
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            with self._log_lock:
                self.request_log.append(RequestRecord(method, path, status, query))
        return status, body, extra

    def requests(self, path: str = "", method: str | None = None) -> list[RequestRecord]:
        """The API requests served so far (oldest first, the last 10,000), optionally by path prefix/method."""
        with self._log_lock:
            records = list(self.request_log)
        return [r for r in records if r.path.startswith(path) and (method is None or r.method == method.upper())]

    def _dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], raw_body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(raw_path)
        path = unquote(split.path).rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        extra: dict[str, str] = {}
        control = path.startswith("/_sim/")
        try:
            if not control:
                self._authorise(headers)
                allowed, extra = self.rate_limiter.admit()
                if not allowed:
                    return 429, {"code": 42910000, "message": "rate limit exceeded"}, extra
            fault = None if control else self.faults.take(method, path)
            if fault is not None and fault.when == "before":
                return fault.status, _fault_body(fault), extra
            body = json.loads(raw_body, parse_float=Decimal) if raw_body.strip() else {}
            if not isinstance(body, dict):
                raise SimApiError(422, "the request body must be a JSON object")
            reply = self._route(method, path, query, body)
            if fault is not None:
                return fault.status, _fault_body(fault), extra
            return reply.status, reply.body, extra
        except SimApiError as exc:
            return exc.status, {"code": exc.code, "message": exc.message}, extra
        except (KeyError, ValueError, TypeError) as exc:
            return 422, {"code": 40010001, "message": f"invalid request: {exc}"}, extra
        except Exception as exc:  # a bug or a closed state file: answer like a server, not a dropped socket
            log.exception("sim broker request failed", method=method, path=path)
            return 500, {"code": 50010000, "message": f"internal server error: {type(exc).__name__}"}, extra

    def _authorise(self, headers: dict[str, str]) -> None:
        key = headers.get("apca-api-key-id")
        secret = headers.get("apca-api-secret-key")
        if not key or not secret:
            raise SimApiError(401, "request is not authorized")
        if (self.api_key is not None and key != self.api_key) or (
            self.secret_key is not None and secret != self.secret_key
        ):
            raise SimApiError(401, "request is not authorized")

    def _route(self, method: str, path: str, query: dict[str, str], body: dict[str, Any]) -> Reply:
        path_known = False
        for route_method, pattern, handler in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            path_known = True
            if route_method == method:
                return handler(match, query, body)
        if path_known:
            raise SimApiError(405, f"method {method} not allowed on {path}", code=40510000)
        raise SimApiError(404, "endpoint not found", code=40410000)


def _fault_body(fault: Fault) -> dict[str, Any]:
    return {"code": fault.status * 100000 + 1, "message": f"injected fault: status {fault.status}"}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # one buffered write per response and no Nagle: otherwise keep-alive clients wait on delayed ACKs
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _SimHTTPServer

    def _serve(self) -> None:
        if self.server.stopping:  # a kept-alive connection outliving stop(): drop it unanswered, like a dead host
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, body, extra = self.server.app.dispatch(self.command, self.path, headers, raw_body)
        payload = b"" if status == 204 or body is None else json.dumps(body, default=_json_default).encode()
        self.send_response(status)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sim broker request", line=format % args)


class _SimHTTPServer(ThreadingHTTPServer):
    """Tracks its open connections so `close_connections` can end kept-alive ones: after a stop, a client's
    pooled connection must not keep talking to the stopped broker (a restart on the same port would otherwise
    be served by the old engine's threads)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SimBrokerApp) -> None:
        self.app = app
        self.stopping = False
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        self.stopping = True
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


def make_server(app: SimBrokerApp, host: str = "127.0.0.1", port: int = 0) -> _SimHTTPServer:
    return _SimHTTPServer((host, port), app)
