"""The simulated broker's SQLite state: account, positions, orders, fills, overrides. A restart loses nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    time_in_force TEXT NOT NULL,
    status TEXT NOT NULL,
    qty TEXT,
    notional TEXT,
    filled_qty TEXT NOT NULL,
    filled_notional TEXT NOT NULL,
    filled_avg_price TEXT,
    limit_price TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    filled_at TEXT,
    canceled_at TEXT,
    expired_at TEXT,
    replaced_at TEXT,
    replaced_by TEXT,
    replaces TEXT,
    expires_at TEXT
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status);
CREATE TABLE IF NOT EXISTS positions (symbol TEXT PRIMARY KEY, qty TEXT NOT NULL, avg_entry_price TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty TEXT NOT NULL,
    price TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS price_overrides (symbol TEXT PRIMARY KEY, price TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS halts (symbol TEXT PRIMARY KEY);
"""


def open_state(path: Path) -> sqlite3.Connection:
    """One connection shared by the server's threads; the engine serialises access with its own lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL survives a crash or kill of the process (what a restart drill needs), not a power cut
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn
