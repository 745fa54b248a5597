"""The unit level: no services. A test here that asks for one, or opens a network connection, fails."""

from __future__ import annotations

import socket

import pytest

SERVICE_FIXTURES = frozenset({"dynamodb_local", "sim_broker_factory", "browser"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = SERVICE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
        if used and "tests/unit/" in item.nodeid:
            raise pytest.UsageError(f"{item.nodeid} uses {sorted(used)}: it belongs in tests/integration/")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = socket.socket.connect

    def refuse(sock: socket.socket, address: object) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"a unit test connected to {address!r}: it belongs in tests/integration/")
        connect(sock, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", refuse)
