"""DynamoDB Local's start split in two (launch at once, wait when first needed), and the tables provisioned
in one pass: the pieces `make run` overlaps with the rest of its set-up. No Java needed here."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest

from the_alchemiser.local.dynamodb_local import JVM_OPTIONS, DynamoDBLocal, DynamoDBLocalUnavailable
from the_alchemiser.local.stack.provision import provision_tables


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])


def test_wait_ready_returns_once_the_port_listens() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        process = sleeper()
        try:
            ddb = DynamoDBLocal(process, server.getsockname()[1])
            assert not ddb.ready
            assert ddb.wait_ready(timeout=10) is ddb and ddb.ready
            assert ddb.endpoint == f"http://127.0.0.1:{ddb.port}"
        finally:
            process.kill()
            process.wait()


def test_a_process_that_exits_before_listening_is_unavailable_not_a_hang() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening
        with pytest.raises(DynamoDBLocalUnavailable, match="exited with 3"):
            DynamoDBLocal(process, port).wait_ready(timeout=30)


def test_a_process_that_never_listens_is_killed_after_the_timeout() -> None:
    process = sleeper()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        with pytest.raises(DynamoDBLocalUnavailable, match="did not listen"):
            DynamoDBLocal(process, probe.getsockname()[1]).wait_ready(timeout=0.3)
    assert process.wait(timeout=10) != 0


def test_the_jvm_starts_for_a_short_life() -> None:
    assert "-XX:TieredStopAtLevel=1" in JVM_OPTIONS and "-XX:+UseSerialGC" in JVM_OPTIONS


class FakeTables:
    def __init__(self, existing: list[str], page: int = 2) -> None:
        self.names = list(existing)
        self.page = page
        self.listings = 0
        self.created: list[str] = []

    def list_tables(self, **request: Any) -> dict[str, Any]:
        self.listings += 1
        start = self.names.index(request["ExclusiveStartTableName"]) + 1 if request else 0
        chunk = self.names[start : start + self.page]
        more = start + self.page < len(self.names)
        return {"TableNames": chunk, **({"LastEvaluatedTableName": chunk[-1]} if more else {})}

    def create_table(self, TableName: str, **_: Any) -> None:
        self.created.append(TableName)

    def update_time_to_live(self, **_: Any) -> None:
        pass


class Model:
    def __init__(self) -> None:
        self.physical_names = {"A": "table-a", "B": "table-b", "C": "table-c"}

    def of_type(self, kind: str) -> list[str]:
        assert kind == "AWS::DynamoDB::Table"
        return ["A", "B", "C"]

    def properties(self, logical_id: str) -> dict[str, Any]:
        return {"KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}]}


def test_tables_are_provisioned_from_one_listing_and_kept_ones_left_alone() -> None:
    client = FakeTables(["other-1", "table-b", "other-2", "other-3"])
    provision_tables(Model(), {"dynamodb": client})  # type: ignore[arg-type]
    assert client.created == ["table-a", "table-c"]
    assert client.listings == 2  # one listing, paged (2 names a page)


def test_a_prelaunched_process_is_handed_over_once_for_the_same_folder(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from the_alchemiser.local import dynamodb_local

    launched: list[DynamoDBLocal] = []

    def fake_launch(db_path: Any) -> DynamoDBLocal:
        launched.append(DynamoDBLocal(sleeper(), 1))
        return launched[-1]

    monkeypatch.setattr(dynamodb_local, "_launch", fake_launch)
    monkeypatch.setattr(dynamodb_local, "_prelaunched", {})
    try:
        dynamodb_local.prelaunch(tmp_path / "state" / "dynamodb")
        assert (tmp_path / "state" / "dynamodb").is_dir() and len(launched) == 1
        assert dynamodb_local.launch_dynamodb_local(tmp_path / "state" / ".." / "state" / "dynamodb") is launched[0]
        assert dynamodb_local.launch_dynamodb_local(tmp_path / "state" / "dynamodb") is launched[1]  # not twice
        dynamodb_local.prelaunch(tmp_path / "other")
        dynamodb_local._stop_prelaunched()  # what exit does with one never taken
        assert launched[2].process.wait(timeout=10) is not None and not dynamodb_local._prelaunched
    finally:
        for handle in launched:
            handle.process.kill()
            handle.process.wait()
