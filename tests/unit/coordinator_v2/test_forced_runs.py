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


def completed_workflow(rig: OrchestratorRig) -> str:
    scheduled = handle({"execution_id": "exec-1"}, rig.orchestrator)
    end(rig, scheduled["session_id"], SessionStatus.COMPLETED)
    return str(scheduled["correlation_id"])


def test_a_forced_run_waits_while_a_completed_workflows_plan_has_not_reached_execution(rig: OrchestratorRig) -> None:
    """COMPLETED means a plan is on its way to execution; with no plan state yet, the forced run waits up to
    the quiet period (the portfolio and the execution's first delivery take seconds); a failed workflow
    traded nothing, so a forced run may follow it at once."""
    completed_workflow(rig)
    rig.clock.advance(timedelta(minutes=44))
    assert handle({"force": True, "id": "manual-4"}, rig.orchestrator)["status"] == "in_flight"
    rig.clock.advance(timedelta(minutes=1))
    assert handle({"force": True, "id": "manual-4"}, rig.orchestrator)["status"] == "started"
    holder = rig.sessions.workflow_holder(STAGE, REGULAR_DAY)
    assert holder is not None and holder["correlation_id"] == workflows_started(rig)[-1].correlation_id


def test_a_forced_run_is_refused_while_the_plan_is_still_worked_however_long_it_takes(rig: OrchestratorRig) -> None:
    """Execution resumes an unfinished plan as new messages (up to 20 times): a plan may be worked long after
    45 minutes. The ledger's plan state says so; a time window alone let a forced run trade beside it."""
    correlation_id = completed_workflow(rig)
    decided = rig.clock.now()
    rig.plans.start(correlation_id, decided + timedelta(minutes=1))
    rig.plans.worked(correlation_id, until=decided + timedelta(minutes=100))  # a delivery holds it till then
    rig.clock.advance(timedelta(minutes=90))
    refused = handle({"force": True, "id": "manual-5"}, rig.orchestrator)
    assert refused["status"] == "in_flight" and "still being worked" in refused["detail"]
    rig.clock.advance(timedelta(minutes=31))  # 21 min after its last lease ended: nothing works it any more
    assert handle({"force": True, "id": "manual-5"}, rig.orchestrator)["status"] == "started"


def test_a_forced_run_may_follow_a_finished_plan_at_once(rig: OrchestratorRig) -> None:
    correlation_id = completed_workflow(rig)
    rig.plans.start(correlation_id, rig.clock.now())
    rig.plans.worked(correlation_id, until=rig.clock.now() + timedelta(minutes=15))
    rig.clock.advance(timedelta(minutes=3))
    assert handle({"force": True, "id": "manual-6"}, rig.orchestrator)["status"] == "in_flight"
    rig.plans.complete(correlation_id)  # execution reported the plan's outcome
    assert handle({"force": True, "id": "manual-6"}, rig.orchestrator)["status"] == "started"


def test_a_plan_that_stopped_being_worked_frees_the_day_after_the_idle_limit(rig: OrchestratorRig) -> None:
    """A plan never completed (its last delivery was killed before it could report: the DLQ alarm tells)
    does not block forced runs for the rest of the day: once no delivery has held it for the idle limit,
    longer than any gap between two deliveries (the queue's 900 s visibility timeout), it is dead."""
    correlation_id = completed_workflow(rig)
    rig.plans.start(correlation_id, rig.clock.now())
    rig.plans.worked(correlation_id, until=rig.clock.now() + timedelta(minutes=2))
    rig.clock.advance(timedelta(minutes=21))
    assert handle({"force": True, "id": "manual-7"}, rig.orchestrator)["status"] == "in_flight"
    rig.clock.advance(timedelta(minutes=2))
    assert handle({"force": True, "id": "manual-7"}, rig.orchestrator)["status"] == "started"


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
