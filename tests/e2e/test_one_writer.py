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

from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment
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


def assert_fenced(runtime: LocalRuntime, result: dict[str, Any], started: Started) -> None:
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
    assert not {"Rollback", "RetireLegacy", "Finalize"} & set(states), states


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
