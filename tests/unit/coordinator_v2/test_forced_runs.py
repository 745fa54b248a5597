"""Forced runs (#14 finding 4): a forced trigger delivered twice (Lambda's async retry after a timeout)
starts ONE workflow, and a forced run never overlaps a workflow still in flight that day.

Two layers, each tested alone: the trigger id's record (shared/once.py) and the in-flight check with
its lock swap conditioned on the holder it saw."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.fixtures.coordinator_v2 import REGULAR_DAY, STAGE, OrchestratorRig
from the_alchemiser.coordinator_v2.lambda_handler import handle
from the_alchemiser.shared.events import WorkflowStarted
from the_alchemiser.shared.sessions import SessionStatus

MANUAL = {"force": True, "id": "manual-1"}


def workflows_started(rig: OrchestratorRig) -> list[WorkflowStarted]:
    return [e for e in rig.publisher.events if isinstance(e, WorkflowStarted)]


def end(rig: OrchestratorRig, session_id: str | None, status: SessionStatus) -> None:
    assert session_id is not None
    assert rig.sessions.decide(session_id, status, reason="test", outcome_event_json="{}", decided_at=rig.clock.now())


def test_a_forced_run_delivered_twice_starts_one_workflow(rig: OrchestratorRig) -> None:
    first = handle(MANUAL, rig.orchestrator)
    retried = handle(MANUAL, rig.orchestrator)  # Lambda's async retry of the same event
    assert first["status"] == "started"
    assert retried["status"] != "started" and retried["correlation_id"] == first["correlation_id"]
    assert len(workflows_started(rig)) == 1 and len(rig.invokes) == 3


def test_a_forced_runs_retry_after_its_workflow_ended_is_still_a_duplicate(rig: OrchestratorRig) -> None:
    """The trigger id's record alone: the day is free again (the session failed), yet the same id starts nothing."""
    first = handle(MANUAL, rig.orchestrator)
    end(rig, first["session_id"], SessionStatus.FAILED)
    retried = handle(MANUAL, rig.orchestrator)
    assert retried["status"] == "duplicate_trigger" and retried["correlation_id"] == first["correlation_id"]
    assert len(workflows_started(rig)) == 1
    assert handle({"force": True, "id": "manual-2"}, rig.orchestrator)["status"] == "started"  # a new id runs


def test_a_forced_run_is_refused_while_the_days_workflow_is_open(rig: OrchestratorRig) -> None:
    scheduled = handle({"execution_id": "exec-1"}, rig.orchestrator)
    forced = handle({"force": True, "id": "manual-3"}, rig.orchestrator)
    assert scheduled["status"] == "started"
    assert forced["status"] == "in_flight" and forced["correlation_id"] == scheduled["correlation_id"]
    assert len(workflows_started(rig)) == 1
    # refused, not recorded: the same id runs once the day's workflow is over
    end(rig, scheduled["session_id"], SessionStatus.FAILED)
    assert handle({"force": True, "id": "manual-3"}, rig.orchestrator)["status"] == "started"


def test_a_forced_run_waits_out_the_execution_window_after_a_completed_workflow(rig: OrchestratorRig) -> None:
    """COMPLETED means a plan went to execution, which may work it (redeliveries included) for up to the
    quiet period; a failed workflow traded nothing, so a forced run may follow it at once."""
    scheduled = handle({"execution_id": "exec-1"}, rig.orchestrator)
    end(rig, scheduled["session_id"], SessionStatus.COMPLETED)
    rig.clock.advance(timedelta(minutes=44))
    assert handle({"force": True, "id": "manual-4"}, rig.orchestrator)["status"] == "in_flight"
    rig.clock.advance(timedelta(minutes=1))
    assert handle({"force": True, "id": "manual-4"}, rig.orchestrator)["status"] == "started"
    holder = rig.sessions.workflow_holder(STAGE, REGULAR_DAY)
    assert holder is not None and holder["correlation_id"] == workflows_started(rig)[-1].correlation_id


def test_concurrent_forced_runs_with_different_ids_start_one_workflow(rig: OrchestratorRig) -> None:
    """The lock swap is conditioned on the holder each run saw: two operators at once cannot both take it."""
    scheduled = handle({"execution_id": "exec-1"}, rig.orchestrator)
    end(rig, scheduled["session_id"], SessionStatus.FAILED)
    barrier = threading.Barrier(4)
    statuses: list[str] = []

    def force(number: int) -> None:
        barrier.wait()
        statuses.append(str(handle({"force": True, "id": f"operator-{number}"}, rig.orchestrator)["status"]))

    threads = [threading.Thread(target=force, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count("started") == 1
    assert len(workflows_started(rig)) == 2  # the scheduled one and one forced
