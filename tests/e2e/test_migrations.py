"""Executions of the real state machine on the local runtime, driven like the CLI drives them."""

from __future__ import annotations

import itertools
import json

import pytest

from ipsync_migrator.errors import StepPreconditionError
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.limits import POLL_ITERATION_EVENTS, history_budget
from ipsync_migrator.local.realism import FaultRule
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment, Strategy
from ipsync_migrator.operations import Service
from ipsync_migrator.render import status_dict
from ipsync_migrator.steps.approval import APPROVAL_TIMED_OUT_STEP
from tests.e2e.conftest import FAST, finished, wait_until
from tests.integration.engine.conftest import snapshot


@pytest.mark.parametrize("strategy", list(Strategy))
def test_happy_path_for_each_strategy(
    runtime: LocalRuntime, service: Service, shop: Deployment, strategy: Strategy
) -> None:
    started = service.start(shop, FAST.model_copy(update={"strategy": strategy}))
    result = finished(service, started)

    assert result["status"] == "SUCCEEDED", result
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.RETIRED
    elb = runtime.clients().client("elbv2")
    [listener] = elb.describe_listeners(
        ListenerArns=[shop.network_load_balancers[0].listeners[0].arn]
    )["Listeners"]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == record.new_target_group_arn
    ports = {
        li["Port"]
        for li in elb.describe_listeners(LoadBalancerArn=shop.network_load_balancers[0].arn)[
            "Listeners"
        ]
    }
    assert ports == {80}  # no probe listener left behind


def test_health_never_healthy_leaves_production_untouched(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    original = snapshot(runtime.clients())
    runtime.realism.add_fault(
        FaultRule("elbv2", "DescribeTargetHealth", target_health="initial", times=None)
    )
    options = FAST.model_copy(update={"health_timeout_seconds": 1, "poll_seconds": 1})

    result = finished(service, service.start(shop, options))

    assert (result["status"], result["error"]) == ("FAILED", "MigrationRolledBack")
    assert "not healthy" in result["cause"]
    runtime.realism.clear_faults()
    assert snapshot(runtime.clients()) == original


def test_fault_during_bake_rolls_back_to_the_exact_original(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    original = snapshot(runtime.clients())
    started = service.start(shop, FAST.model_copy(update={"bake_seconds": 60, "poll_seconds": 1}))
    wait_until(
        lambda: (
            (r := service.journal.get(shop.id)) is not None and r.state == MigrationState.CUT_OVER
        )
    )
    # The new group turns unhealthy while the bake watches it (the old one stays healthy, so
    # the rollback moves production back at once).
    record = service.journal.get(shop.id)
    assert record is not None and record.new_target_group_arn
    runtime.realism.add_fault(
        FaultRule(
            "elbv2",
            "DescribeTargetHealth",
            target_health="unhealthy",
            match={"TargetGroupArn": record.new_target_group_arn},
            times=None,
        )
    )

    result = finished(service, started)

    assert (result["status"], result["error"]) == ("FAILED", "MigrationRolledBack")
    assert "unhealthy" in result["cause"]
    runtime.realism.clear_faults()
    assert snapshot(runtime.clients()) == original
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.ROLLED_BACK


def test_approval_gate_waits_until_approved(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    original = snapshot(runtime.clients())
    started = service.start(shop, FAST.model_copy(update={"approve_before_cutover": True}))
    wait_until(lambda: (r := service.journal.get(shop.id)) is not None and r.approval)

    # While waiting, the execution runs and production is untouched.
    assert service.progress(started)["status"] == "RUNNING"
    assert snapshot(runtime.clients()) == original

    assert service.approve(shop.id, "tester") == "cutover"
    # A second approval of the same gate is refused clearly, whatever the execution has
    # done meanwhile (still on the gate's token, or past it and the token cleared).
    with pytest.raises(StepPreconditionError, match="approval"):
        service.approve(shop.id, "tester")
    assert finished(service, started)["status"] == "SUCCEEDED"
    record = service.journal.get(shop.id)
    assert record is not None and record.approval is None
    # Who approved stays in the journal (status shows it), once: the refused second is not
    assert [(a["gate"], a["by"]) for a in record.approvals] == [("cutover", "tester")]
    assert status_dict(record)["approvals"] == record.approvals
    with pytest.raises(StepPreconditionError, match="not waiting for an approval"):
        service.approve(shop.id, "tester")


def test_two_migrate_calls_start_one_execution(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    first = service.start(shop, FAST.model_copy(update={"approve_before_cutover": True}))
    second = service.start(shop, FAST)

    assert first.started and not second.started
    assert second.execution_arn == first.execution_arn
    assert len(service.executions.named_like(shop.id)) == 1


def test_rollback_command_stops_the_execution_and_restores(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    original = snapshot(runtime.clients())
    started = service.start(shop, FAST)
    assert finished(service, started)["status"] == "SUCCEEDED"

    assert service.rollback(shop.id)["state"] == "rolled_back"

    assert snapshot(runtime.clients()) == original


def test_unapproved_cutover_times_out_and_rolls_back_with_production_unchanged(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration gated before cutover, whose gate waits 2 s
    original = snapshot(runtime.clients())
    options = FAST.model_copy(
        update={"approve_before_cutover": True, "approval_timeout_seconds": 2}
    )

    # When nobody approves it
    result = finished(service, service.start(shop, options))

    # Then the execution fails saying so, after a rollback that found nothing to undo
    assert (result["status"], result["error"]) == ("FAILED", "ApprovalTimedOut"), result
    assert "No approval before cutover within 2 s" in result["cause"]
    assert snapshot(runtime.clients()) == original
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.ROLLED_BACK
    assert record.last_error is not None and record.last_error.startswith("ApprovalTimedOut")
    # and the dead gate is gone from the journal: a late approval is refused clearly
    assert record.approval is None
    with pytest.raises(StepPreconditionError, match="not waiting for an approval"):
        service.approve(shop.id, "late")


def test_unapproved_finalize_times_out_and_the_migration_stays_retired(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration that asks for approval before finalize, and waits 2 s for it
    options = FAST.model_copy(
        update={
            "finalize_after_seconds": 0,
            "approve_before_finalize": True,
            "approval_timeout_seconds": 2,
        }
    )
    started = service.start(shop, options)
    wait_until(
        lambda: (
            (r := service.journal.get(shop.id)) is not None
            and (r.approval or {}).get("gate") == "finalize"
        )
    )

    # When nobody approves it
    result = finished(service, started)

    # Then the execution succeeds, and its output says finalize was not approved in time
    assert result["status"] == "SUCCEEDED", result
    output = json.loads(service.executions.describe(started.execution_arn)["output"])
    assert (output["outcome"], output["finalize"]) == ("retired", "approval timed out")
    # and the journal tells the same: retired, the gate's token dropped, a note saying why
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.RETIRED
    assert record.current_step == APPROVAL_TIMED_OUT_STEP and record.approval is None
    assert "finalize approval timed out after 2 s" in record.notes[-1]
    assert output["note"] == record.notes[-1]
    # and nothing was finalized: the legacy function is retired, not deleted
    after = snapshot(runtime.clients())
    assert after["functions"][shop.function.name] == 0


def test_a_poll_iteration_costs_the_events_limits_counts(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration whose health is polled a few times (two healthy checks required,
    # after the emulated target's initial checks)
    started = service.start(shop, FAST)
    assert finished(service, started)["status"] == "SUCCEEDED"

    # When its history is read, one health iteration at a time
    sfn = runtime.clients().client("stepfunctions")
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=started.execution_arn)
    events = [e for page in pages for e in page["events"]]
    waits = [
        i
        for i, e in enumerate(events)
        if e["type"] == "WaitStateEntered"
        and e["stateEnteredEventDetails"]["name"] == "WaitForHealth"
    ]
    assert len(waits) >= 2, "the health gate was not polled twice"

    # Then a Wait + Task + Choice iteration without retries is 9 events, the count
    # limits.POLL_ITERATION_EVENTS starts from (retries add to it), and the whole execution
    # stays within the budget computed for its options
    per_iteration = {b - a for a, b in itertools.pairwise(waits)}
    assert per_iteration == {9}
    assert POLL_ITERATION_EVENTS >= 9
    assert len(events) <= history_budget(FAST).events
