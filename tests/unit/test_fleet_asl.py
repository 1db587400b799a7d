"""statemachine/fleet.asl.json: the fleet's orchestration, checked without running it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ipsync_migrator.fleet import DISTRIBUTED_MAP_THRESHOLD, FLEET_REPORT_STATE

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "fleet.asl.json"
LAMBDA_RETRY = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "ThrottledError",
}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return dict(json.loads(ASL.read_text()))


def all_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, those inside Map item processors included."""
    found = dict(states)
    for state in states.values():
        if state["Type"] == "Map":
            found |= all_states(state["ItemProcessor"]["States"])
    return found


def test_every_task_retries_lambda_errors_and_throttling(asl):
    # Given every Task of the definition, nested ones included
    tasks = {n: s for n, s in all_states(asl["States"]).items() if s["Type"] == "Task"}
    assert tasks
    for name, task in tasks.items():
        # When its retriers are read, Then one covers Lambda's errors and ThrottledError
        retried = [set(r["ErrorEquals"]) for r in task.get("Retry", [])]
        assert LAMBDA_RETRY in retried, name


def test_inline_and_distributed_maps_run_the_same_iteration(asl):
    # Given the two Map states, for small and for large fleets
    inline, distributed = asl["States"]["MigrateFleet"], asl["States"]["MigrateLargeFleet"]
    # When their item processors are compared without the processor config
    strip = lambda m: {k: v for k, v in m["ItemProcessor"].items() if k != "ProcessorConfig"}  # noqa: E731
    # Then they are the same, and differ only in mode; both read items and concurrency alike
    assert strip(inline) == strip(distributed)
    assert inline["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    assert distributed["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    for state in (inline, distributed):
        assert state["ItemsPath"] == "$.fleet.items"
        assert state["MaxConcurrencyPath"] == "$.fleet.maxConcurrency"
        assert state["Next"] == FLEET_REPORT_STATE
    # and the choice between them is discovery's (fleet.DISTRIBUTED_MAP_THRESHOLD)
    [choice] = asl["States"]["IsLargeFleet"]["Choices"]
    assert choice == {
        "Variable": "$.fleet.distributed",
        "BooleanEquals": True,
        "Next": "MigrateLargeFleet",
    }
    assert DISTRIBUTED_MAP_THRESHOLD == 40


def test_a_failed_child_becomes_a_result_so_the_map_goes_on(asl):
    # Given the iteration's task: one child migration execution, waited for
    processor = asl["States"]["MigrateFleet"]["ItemProcessor"]
    task = processor["States"][processor["StartAt"]]
    assert task["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
    assert task["Parameters"]["StateMachineArn"] == "${MigrationStateMachineArn}"
    assert task["Parameters"]["Name.$"] == "$.item.executionName"
    child_input = task["Parameters"]["Input"]
    assert child_input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] == "$.fleetExecutionId"
    assert {"targetGroupArn.$", "options.$", "target.$"} <= set(child_input)
    # When it fails, Then every error is caught into a FAILED result that ends the iteration
    [catch] = task["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    failed = processor["States"][catch["Next"]]
    assert failed["Type"] == "Pass" and failed["End"] is True
    assert failed["Parameters"]["status"] == "FAILED"
    assert {"migrationId.$", "error.$", "cause.$", "target.$"} <= set(failed["Parameters"])


def test_the_report_decides_success_on_the_tolerance(asl):
    # Given the report task and what follows it
    report = asl["States"][FLEET_REPORT_STATE]
    decision = asl["States"][report["Next"]]
    # Then only a report within tolerance succeeds; otherwise the fleet fails by name
    [within] = decision["Choices"]
    assert within["Variable"] == "$.withinTolerance"
    assert asl["States"][within["Next"]]["Type"] == "Succeed"
    failure = asl["States"][decision["Default"]]
    assert (failure["Type"], failure["Error"]) == ("Fail", "FleetFailureThresholdExceeded")
    assert report["Parameters"]["Payload"]["toleratedFailurePercentage.$"] == (
        "$.fleet.toleratedFailurePercentage"
    )
