"""Deterministic client_order_ids: the same (workflow, symbol, side, step) always names the same order."""

from __future__ import annotations

import hashlib

CLIENT_ORDER_ID_PREFIX = "alc-"


def client_order_id(correlation_id: str, symbol: str, side: str, step: int) -> str:
    """`alc-` + 40 hex chars of sha256: 44 characters (Alpaca allows 48), stable across processes and
    redeliveries."""
    digest = hashlib.sha256(f"{correlation_id}|{symbol.upper()}|{side.lower()}|{step}".encode()).hexdigest()
    return f"{CLIENT_ORDER_ID_PREFIX}{digest[:40]}"
