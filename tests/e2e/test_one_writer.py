"""One writer at a time (issue 10): rollbacks from the CLI or a replay fence the execution.

Each race is run on the local runtime against an execution that is really waiting, then
checked against the invariants: the estate is either fully migrated or exactly as it was
before, nothing leaked, and the journal says what happened.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment, MigrationOptions
from ipsync_migrator.operations import Service, Started
from ipsync_migrator.steps.context import BAKE_PASSED
from tests.e2e.conftest import FAST, finished, wait_until
from tests.integration.engine.conftest import snapshot

#: Long enough that the execution is still waiting when the rollback comes.
WAIT_SECONDS = 40


def state_of(service: Service, migration_id: str) -> Any:
    record = service.journal.get(migration_id)
    return record.state if record else None


def settle(service: Service, started: Started) -> dict[str, Any]:
    """The execution's end, then a pause in which a step it still ran would have acted."""
    result = finished(service, started)
    time.sleep(2)
    return result


def history(runtime: LocalRuntime, execution_arn: str) -> list[dict[str, Any]]:
    sfn = runtime.clients().client("stepfunctions")
    events: list[dict[str, Any]] = sfn.get_execution_history(
        executionArn=execution_arn, maxResults=1000
    )["events"]
    return events


def entered(runtime: LocalRuntime, execution_arn: str) -> list[str]:
    """The states the execution entered, in order."""
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in history(runtime, execution_arn)
        if "stateEnteredEventDetails" in e
    ]


def assert_fenced(
    runtime: LocalRuntime,
    result: dict[str, Any],
    started: Started,
    never: frozenset[str] = frozenset({"Rollback", "RetireLegacy", "Finalize"}),
) -> None:
    """Stopped, or a step found itself fenced and the run ended there (never rolling back).

    AWS ends a stopped execution ABORTED; moto 5.2 fails it at the task that was running.
    """
    states = entered(runtime, started.execution_arn)
    assert result["status"] in ("ABORTED", "FAILED"), result
    if result["status"] == "FAILED":
        fenced = [
            details
            for e in history(runtime, started.execution_arn)
            for key, details in e.items()
            if key.endswith("FailedEventDetails")
            and details.get("error") == "ConcurrentMigrationError"
        ]
        assert states[-1] == "Superseded" or fenced, (states, result)
    assert not never & set(states), states


def test_a_replay_rollback_during_the_bake_ends_the_execution_and_nothing_undoes_it(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration cut over and waiting in its bake
    original = snapshot(runtime.clients())
    since = datetime.now(UTC) - timedelta(seconds=5)
    options = FAST.model_copy(update={"bake_seconds": WAIT_SECONDS, "poll_seconds": 1})
    started = service.start(shop, options)
    wait_until(lambda: state_of(service, shop.id) == MigrationState.CUT_OVER)

    # When the archive's window is replayed (EventBridge delivers to the rollback function)
    service.replay_rollback(since, datetime.now(UTC) + timedelta(seconds=5))
    wait_until(lambda: state_of(service, shop.id) == MigrationState.ROLLED_BACK)

    # Then the execution was stopped or fenced, not left to retire or roll back on its own
    assert_fenced(runtime, settle(service, started), started)
    # and the estate is exactly as before the migration: the legacy sync on, nothing leaked
    assert snapshot(runtime.clients()) == original
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.ROLLED_BACK
    assert record.owner != started.execution_arn and record.epoch == 2


def test_a_cli_rollback_during_the_drain_is_not_undone_by_the_waking_execution(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration whose bake passed, waiting in its drain before retiring the legacy
    original = snapshot(runtime.clients())
    options = FAST.model_copy(
        update={"drain_seconds": WAIT_SECONDS, "finalize_after_seconds": 0, "poll_seconds": 1}
    )
    started = service.start(shop, options)
    wait_until(
        lambda: (r := service.journal.get(shop.id)) is not None and BAKE_PASSED in r.timestamps
    )

    # When a person rolls it back from the CLI
    service.rollback(shop.id)

    # Then the execution ends without retiring or finalizing anything
    assert_fenced(runtime, settle(service, started), started)
    assert snapshot(runtime.clients()) == original
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.ROLLED_BACK
    steps = [e.step for e in service.journal.entries(shop.id)]
    assert "retire_legacy" not in steps and "finalize" not in steps


def test_a_second_execution_after_the_migration_retired_changes_nothing(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration retired by its execution
    first = service.start(shop, FAST)
    assert finished(service, first)["status"] == "SUCCEEDED"
    retired = snapshot(runtime.clients())

    # When another execution starts with the same input (automation, or the README's
    # "Starting a migration without the CLI")
    sfn = runtime.clients().client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=runtime.outputs["StateMachineArn"],
        name=f"{shop.id}-again",
        input=json.dumps({"targetGroupArn": shop.target_group_arn, "options": FAST.to_json_dict()}),
    )["executionArn"]
    again = finished(service, Started(shop.id, arn, True))

    # Then it reports the migration done and leaves it as it is
    assert again["status"] == "SUCCEEDED", again
    states = entered(runtime, arn)
    assert states[-1] == "AlreadyMigrated" and "Rollback" not in states
    assert snapshot(runtime.clients()) == retired
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.RETIRED
    assert record.owner == first.execution_arn


def test_a_step_request_without_an_owner_changes_nothing(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration cut over and baking
    options = FAST.model_copy(update={"bake_seconds": WAIT_SECONDS, "poll_seconds": 1})
    started = service.start(shop, options)
    wait_until(
        lambda: (
            (r := service.journal.get(shop.id)) is not None and r.current_step == "release_probe"
        )
    )
    before = snapshot(runtime.clients())
    function = runtime.outputs["RetireLegacyFunctionArn"]

    # When RetireLegacy is invoked with the real migration id and no, an empty or a blank owner
    lam = runtime.clients().client("lambda")
    for owner in ({}, {"owner": ""}, {"owner": None}, {"owner": " "}):
        payload = {"migrationId": shop.id, **owner}
        response = lam.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
        # Then each is refused before any AWS call, naming the owner
        error = json.loads(response["Payload"].read())
        assert response.get("FunctionError"), error
        assert error["errorType"] == "InvalidInputError" and "owner" in error["errorMessage"]
    assert snapshot(runtime.clients()) == before
    service.rollback(shop.id)
    finished(service, started)


# ---- a rollback from the CLI or a replay during each wait state ---------------------------


def _record(service: Service, migration_id: str) -> MigrationRecord | None:
    return service.journal.get(migration_id)


#: Each wait state: the options that make the execution wait there, and when it is waiting.
WAIT_STATES: dict[str, tuple[dict[str, Any], Any]] = {
    "health": (
        {"healthy_checks_required": WAIT_SECONDS},
        lambda r: r.current_step == "attach_probe" and r.health.get("checks", 0) >= 1,
    ),
    "bake": (
        {"bake_seconds": WAIT_SECONDS},
        lambda r: r.state == MigrationState.CUT_OVER and r.current_step == "release_probe",
    ),
    "drain": ({"drain_seconds": WAIT_SECONDS}, lambda r: BAKE_PASSED in r.timestamps),
    "retention": (
        {"finalize_after_seconds": WAIT_SECONDS},
        lambda r: r.state == MigrationState.RETIRED,
    ),
}


def start_waiting_in(
    service: Service, shop: Deployment, wait_state: str, **overrides: Any
) -> tuple[Started, MigrationOptions]:
    timings, waiting = WAIT_STATES[wait_state]
    options = FAST.model_copy(update={"poll_seconds": 1, **timings, **overrides})
    started = service.start(shop, options)
    wait_until(lambda: (r := _record(service, shop.id)) is not None and waiting(r))
    return started, options


# ---- a second execution after each end ---------------------------------------------------


def start_again(runtime: LocalRuntime, shop: Deployment, name: str) -> Started:
    sfn = runtime.clients().client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=runtime.outputs["StateMachineArn"],
        name=f"{shop.id}-{name}",
        input=json.dumps({"targetGroupArn": shop.target_group_arn, "options": FAST.to_json_dict()}),
    )["executionArn"]
    return Started(shop.id, arn, True)


def test_a_second_execution_after_the_migration_finalized_changes_nothing(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration finalized by its execution
    first = service.start(shop, FAST.model_copy(update={"finalize_after_seconds": 0}))
    assert finished(service, first)["status"] == "SUCCEEDED"
    finalized = snapshot(runtime.clients())
    assert state_of(service, shop.id) == MigrationState.FINALIZED

    # When another execution starts with the same input
    again = start_again(runtime, shop, "again")

    # Then it reports the migration done and leaves everything as it is
    assert finished(service, again)["status"] == "SUCCEEDED"
    states = entered(runtime, again.execution_arn)
    assert states[-1] == "AlreadyMigrated" and "Rollback" not in states
    assert snapshot(runtime.clients()) == finalized
    assert state_of(service, shop.id) == MigrationState.FINALIZED


def test_a_second_execution_after_a_rollback_starts_the_migration_afresh(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration rolled back from the CLI during its bake
    started, _ = start_waiting_in(service, shop, "bake")
    service.rollback(shop.id)
    settle(service, started)
    epoch = service.journal.get(shop.id).epoch  # type: ignore[union-attr]

    # When another execution starts with the same input
    again = start_again(runtime, shop, "afresh")

    # Then it migrates afresh, under its own token
    assert finished(service, again)["status"] == "SUCCEEDED"
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.RETIRED
    assert (record.owner, record.epoch) == (again.execution_arn, epoch + 1)


# ---- no stranded listener -----------------------------------------------------------------


def add_listener_on_legacy_group(runtime: LocalRuntime, shop: Deployment, port: int) -> str:
    elb = runtime.clients().client("elbv2")
    nlb = shop.network_load_balancers[0].arn
    return str(
        elb.create_listener(
            LoadBalancerArn=nlb,
            Protocol="TCP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": shop.target_group_arn}],
        )["Listeners"][0]["ListenerArn"]
    )


@pytest.mark.parametrize("wait_state", ["bake", "drain"])
def test_a_listener_added_during_the_bake_or_the_drain_rolls_the_migration_back(
    runtime: LocalRuntime, service: Service, shop: Deployment, wait_state: str
) -> None:
    # Given a migration waiting in its bake or its drain
    original = snapshot(runtime.clients())
    started, _ = start_waiting_in(service, shop, wait_state)

    # When someone adds a listener on the legacy group meanwhile
    added = add_listener_on_legacy_group(runtime, shop, 8090)

    # Then the bake (or the retire after the drain) refuses, and the migration rolls back
    result = finished(service, started)
    assert result["status"] == "FAILED" and "Rollback" in entered(runtime, started.execution_arn)
    assert state_of(service, shop.id) == MigrationState.ROLLED_BACK
    # with that listener still served by the legacy group, whose sync is on again
    elb = runtime.clients().client("elbv2")
    [listener] = elb.describe_listeners(ListenerArns=[added])["Listeners"]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == shop.target_group_arn
    elb.delete_listener(ListenerArn=added)
    assert snapshot(runtime.clients()) == original


# ---- rollback is read-verify-write in reverse --------------------------------------------


def test_a_person_s_listener_change_since_cutover_survives_the_rollback_unless_forced(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration baking, and a person who pointed the production listener elsewhere
    # (the bake's first check comes after the wait: a check in between would see the change
    # and roll back on its own, before the person's rollback this test is about)
    original = snapshot(runtime.clients())
    started, _ = start_waiting_in(service, shop, "bake", poll_seconds=WAIT_SECONDS)
    elb = runtime.clients().client("elbv2")
    [production] = shop.network_load_balancers[0].listeners
    vpc = elb.describe_target_groups(TargetGroupArns=[shop.target_group_arn])["TargetGroups"][0][
        "VpcId"
    ]
    theirs = elb.create_target_group(
        Name="theirs", Protocol="TCP", Port=80, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_listener(
        ListenerArn=production.arn,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": theirs}],
    )

    # When it is rolled back from the CLI
    result = service.rollback(shop.id)

    # Then the listener keeps the person's change, and the rollback says it is incomplete
    assert result["state"] == "rollback_incomplete"
    assert any(production.arn in leftover for leftover in result["leftovers"])
    [listener] = elb.describe_listeners(ListenerArns=[production.arn])["Listeners"]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == theirs
    assert_fenced(runtime, settle(service, started), started)

    # When the person forces it, Then everything is as before the migration
    assert service.rollback(shop.id, force=True)["state"] == "rolled_back"
    elb.delete_target_group(TargetGroupArn=theirs)
    assert snapshot(runtime.clients()) == original


# An invocation already in flight when a rollback starts (retire, finalize) is raced at the
# step level, with real threads: tests/integration/engine/test_one_writer.py. The local
# runtime runs one Lambda invocation at a time (local/lambda_bridge.py: the environment is
# process-wide), so two cannot overlap here.
