"""Pins the moto behaviour behind the local runtime's fix of `states:startExecution` tasks.

moto 5.2.5 leaves parameter and response casing of service integrations to no-op hooks, so
a fleet's child migrations cannot start without the fix (local/runtime.py, fix 3). If a moto
upgrade converts casing itself, the first test fails: drop the fix then.
"""

from __future__ import annotations

import datetime

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (  # noqa: E501
    StateTaskServiceSfn,
)

from ipsync_migrator.local.runtime import _StepFunctionsFixes


def task() -> StateTaskServiceSfn:
    return StateTaskServiceSfn.__new__(StateTaskServiceSfn)  # hooks only: no resource needed


def test_moto_passes_api_casing_to_boto3_and_back_unchanged() -> None:
    # Given the parameters of a startExecution task and a DescribeExecution response
    parameters = {"StateMachineArn": "arn", "Name": "n", "Input": "{}"}
    response = {"executionArn": "arn", "status": "SUCCEEDED"}
    # When moto's own hooks normalise them
    task()._normalise_parameters(parameters, service_action_name="start_execution")
    task()._normalise_response(response, service_action_name="describe_execution")
    # Then nothing changes: boto3 would reject StateMachineArn, and ExecutionArn is missing
    assert parameters == {"StateMachineArn": "arn", "Name": "n", "Input": "{}"}
    assert response == {"executionArn": "arn", "status": "SUCCEEDED"}


def test_fix_converts_casing_as_aws_does_and_uninstalls_cleanly() -> None:
    # Given the fix installed
    fixes = _StepFunctionsFixes()
    original = StateTaskServiceSfn.__dict__["_normalise_parameters"]
    fixes.install()
    try:
        parameters = {"StateMachineArn": "arn", "Name": "n", "Input": "{}"}
        stopped = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        response = {"executionArn": "arn", "status": "FAILED", "stopDate": stopped}
        # When a task's parameters and response pass the hooks
        task()._normalise_parameters(parameters, service_action_name="start_execution")
        task()._normalise_response(response, service_action_name="describe_execution")
        # Then boto3 gets its casing, and the state gets the API's, dates in epoch ms
        assert parameters == {"stateMachineArn": "arn", "name": "n", "input": "{}"}
        assert response == {
            "ExecutionArn": "arn",
            "Status": "FAILED",
            "StopDate": int(stopped.timestamp() * 1000),
        }
    finally:
        fixes.uninstall()
    # and uninstalling restores moto exactly
    assert StateTaskServiceSfn.__dict__["_normalise_parameters"] is original
    assert "_normalise_response" not in StateTaskServiceSfn.__dict__
