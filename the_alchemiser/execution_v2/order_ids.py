"""Deterministic client_order_ids: the same (workflow, symbol, side, n) always names the item's n-th order
(its place in the item's sequence of orders, whichever walk step priced it and whichever delivery sent it)."""

from __future__ import annotations

import hashlib

CLIENT_ORDER_ID_PREFIX = "alc-"


def client_order_id(correlation_id: str, symbol: str, side: str, n: int) -> str:
    """`alc-` + 40 hex chars of sha256: 44 characters (Alpaca allows 48), stable across processes and
    redeliveries."""
    digest = hashlib.sha256(f"{correlation_id}|{symbol.upper()}|{side.lower()}|{n}".encode()).hexdigest()
    return f"{CLIENT_ORDER_ID_PREFIX}{digest[:40]}"
