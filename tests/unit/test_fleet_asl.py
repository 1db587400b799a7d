"""statemachine/fleet.asl.json: the fleet's orchestration, checked without running it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ipsync_migrator.fleet import FLEET_DISCOVER_STATE, FLEET_REPORT_STATE, SUMMARY_KEYS
from ipsync_migrator.handlers.requests import FleetGatherRequest, FleetReportRequest

STATEMACHINE = Path(__file__).resolve().parents[2] / "statemachine"
ASL = STATEMACHINE / "fleet.asl.json"
#: Every state machine of the repository: state names are unique in each, nested ones too.
ASL_FILES = sorted(STATEMACHINE.glob("*.asl.json"))
LAMBDA_RETRY = {
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "ThrottledError",
}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return dict(json.loads(ASL.read_text()))


def state_names(states: dict[str, Any]) -> Iterator[str]:
    """Every state name, those of nested state machines included: a Map's ItemProcessor (or
    its older Iterator) and each Branch of a Parallel, at any depth."""
    for name, state in states.items():
        yield name
        nested = [state[key] for key in ("ItemProcessor", "Iterator") if key in state]
        nested += state.get("Branches", [])
        for machine in nested:
            yield from state_names(machine.get("States", {}))


def duplicate_state_names(definition: dict[str, Any]) -> list[str]:
    counts = Counter(state_names(definition["States"]))
    return sorted(name for name, count in counts.items() if count > 1)


def all_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, those inside Map item processors included (names are unique: tested)."""
    found = dict(states)
    for state in states.values():
        if state["Type"] == "Map":
            found |= all_states(state["ItemProcessor"]["States"])
    return found


def test_the_duplicate_finder_looks_inside_maps_and_parallels() -> None:
    # Given a definition that repeats names in a Map's processor, an old-style Iterator and a
    # Parallel branch nested in a Map (what Step Functions and asl-validator reject)
    definition = {
        "States": {
            "A": {"Type": "Pass"},
            "M": {
                "Type": "Map",
                "ItemProcessor": {
                    "States": {
                        "A": {"Type": "Pass"},
                        "P": {
                            "Type": "Parallel",
                            "Branches": [
                                {"States": {"B": {"Type": "Pass"}}},
                                {"States": {"B": {"Type": "Pass"}}},
                            ],
                        },
                    }
                },
            },
            "Old": {"Type": "Map", "Iterator": {"States": {"C": {"Type": "Pass"}}}},
            "C": {"Type": "Pass"},
        }
    }
    # When its names are checked, Then every repeated one is found, however deep
    assert duplicate_state_names(definition) == ["A", "B", "C"]


@pytest.mark.parametrize("path", ASL_FILES, ids=lambda p: p.name)
def test_state_names_are_unique_across_the_whole_state_machine(path: Path) -> None:
    # Given a state machine of the repository (Step Functions rejects a definition whose
    # state names repeat anywhere, Map and Parallel states' own states included)
    definition = json.loads(path.read_text())
    # When its state names are collected at every depth, Then none repeats
    assert duplicate_state_names(definition) == []
    assert len(list(state_names(definition["States"]))) > 3


def test_every_lambda_task_retries_lambda_errors_and_throttling(asl: dict[str, Any]) -> None:
    # Given every Task of the definition that runs a Lambda function or a child execution,
    # nested ones included
    tasks = {
        n: s
        for n, s in all_states(asl["States"]).items()
        if s["Type"] == "Task" and ":dynamodb:" not in s["Resource"]
    }
    assert len(tasks) == 5
    for name, task in tasks.items():
        # When its retriers are read, Then one covers Lambda's errors and ThrottledError
        retried = {error for r in task.get("Retry", []) for error in r["ErrorEquals"]}
        assert retried >= LAMBDA_RETRY, name


def test_the_fleet_plans_then_discovers_every_target_in_a_map_of_its_own(
    asl: dict[str, Any],
) -> None:
    # Given the states before the migrations
    plan = asl["States"][asl["StartAt"]]
    discover = asl["States"][plan["Next"]]
    gather = asl["States"][discover["Next"]]
    # Then the plan's targets (one per account x region) are a Distributed Map's items, read
    # from S3, discovered discoveryConcurrency at a time, one Lambda invocation each
    assert discover["Type"] == "Map"
    assert discover["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert discover["ItemReader"]["Parameters"] == {
        "Bucket.$": "$.fleet.bucket",
        "Key.$": "$.fleet.targetsKey",
    }
    assert discover["MaxConcurrencyPath"] == "$.fleet.discoveryConcurrency"
    [(_name, task)] = discover["ItemProcessor"]["States"].items()
    assert task["Parameters"]["FunctionName"] == "${FleetDiscoverFunctionArn}"
    assert set(discover["ItemSelector"]) == {
        "target.$",
        "index.$",
        "fleetExecutionId.$",
        "options.$",
    }
    # and no failed discovery fails the Map, whose results go to S3 (only counts per target
    # pass: the iteration returns no deployments)
    assert discover["ToleratedFailurePercentage"] == 100
    assert set(task["ResultSelector"]) == {"index.$", "count.$", "errorCount.$"}
    assert discover["ResultWriter"]["Parameters"]["Prefix.$"] == "$.fleet.discoveryResultsPrefix"
    # and the gathering state is the one the CLI reads the fleet's keys from
    assert [k for k, v in asl["States"].items() if v is gather] == [FLEET_DISCOVER_STATE]
    payload = gather["Parameters"]["Payload"]
    assert {name.removesuffix(".$") for name in payload} == {
        f.alias for f in FleetGatherRequest.model_fields.values()
    }
    assert gather["ResultPath"] == "$.fleet.discovery"


def test_one_distributed_map_reads_items_from_s3_and_writes_results_there(
    asl: dict[str, Any],
) -> None:
    # Given the definition's Map states
    maps = {n: s for n, s in all_states(asl["States"]).items() if s["Type"] == "Map"}
    # Then the migrations' is after discovery and before the report: a Distributed Map
    assert set(maps) == {"DiscoverTargets", "MigrateFleet"}
    name, fleet_map = "MigrateFleet", maps["MigrateFleet"]
    assert asl["States"][FLEET_DISCOVER_STATE]["Next"] == name
    assert fleet_map["Next"] == FLEET_REPORT_STATE
    assert fleet_map["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    # and its items come from the JSON array discovery wrote (never from the state's input)
    reader = fleet_map["ItemReader"]
    assert "ItemsPath" not in fleet_map
    assert reader["Resource"] == "arn:aws:states:::s3:getObject"
    assert reader["ReaderConfig"] == {"InputType": "JSON"}
    assert reader["Parameters"] == {"Bucket.$": "$.fleet.bucket", "Key.$": "$.fleet.itemsKey"}
    # and the children's results go to S3: the state's output is their location only
    writer = fleet_map["ResultWriter"]
    assert writer["Resource"] == "arn:aws:states:::s3:putObject"
    assert writer["Parameters"] == {
        "Bucket.$": "$.fleet.bucket",
        "Prefix.$": "$.fleet.resultsPrefix",
    }
    assert fleet_map["ResultPath"] == "$.results"
    # and no child failure fails the Map: FleetReport applies the fleet's own tolerance
    assert fleet_map["ToleratedFailurePercentage"] == 100
    assert fleet_map["MaxConcurrencyPath"] == "$.fleet.maxConcurrency"


def test_a_failed_child_becomes_a_result_so_the_map_goes_on(asl: dict[str, Any]) -> None:
    # Given the iteration's task: one child migration execution, waited for
    processor = asl["States"]["MigrateFleet"]["ItemProcessor"]
    task = processor["States"]["MigrateDeployment"]
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
    assert failed["Type"] == "Pass"
    assert failed["Parameters"]["status"] == "FAILED"
    assert {"migrationId.$", "error.$", "cause.$", "target.$"} <= set(failed["Parameters"])
    # and the iteration's output is that result, as after a success
    succeeded = processor["States"][task["Next"]]
    for result in (failed, succeeded):
        assert result["ResultPath"] == "$.result"
        ends = path_to_end(processor["States"], result["Next"])
        assert processor["States"][ends[-1]]["OutputPath"] == "$.result"


def path_to_end(states: dict[str, Any], name: str, slot_held: bool = True) -> list[str]:
    """The states from `name` to the end, a Choice on the slot taken as `slot_held` says."""
    path = [name]
    while not states[name].get("End"):
        state = states[name]
        if state["Type"] == "Choice":
            [choice] = state["Choices"]
            name = choice["Next"] if slot_held else state["Default"]
        else:
            name = state["Next"]
        path.append(name)
    return path


def test_at_most_the_cap_of_migrations_run_in_one_account_and_region(asl: dict[str, Any]) -> None:
    # Given the iteration: it starts by taking a slot of its account and region
    migrate = asl["States"]["MigrateFleet"]
    processor = migrate["ItemProcessor"]
    states = processor["States"]
    acquire = states[processor["StartAt"]]
    assert acquire["Resource"] == "arn:aws:states:::dynamodb:updateItem"
    parameters = acquire["Parameters"]
    assert parameters["TableName"] == "${FleetSlotsTableName}"
    # Then the counter is the fleet execution's, per account and region (ELB's rate limits
    # are per account and Region), and a slot is taken only below the cap
    key = parameters["Key"]["pk"]["S.$"]
    assert "$.fleetExecutionId" in key and "$.item.target.accountId" in key
    assert "$.item.target.region" in key
    assert parameters["ConditionExpression"] == "attribute_not_exists(running) OR running < :cap"
    assert parameters["ExpressionAttributeValues"][":cap"] == {"N.$": "$.slots.cap"}
    assert "maxMigrationsPerAccountRegion" in migrate["ItemSelector"]["slots"]["cap.$"]
    # and a full account and region is waited for, then tried again
    full, other = acquire["Catch"]
    assert full["ErrorEquals"] == ["DynamoDB.ConditionalCheckFailedException"]
    wait = states[full["Next"]]
    assert wait["Type"] == "Wait" and wait["Next"] == processor["StartAt"]
    # and the migration starts only once a slot is held
    assert acquire["Next"] == "MigrateDeployment"
    # and every way out of the migration gives the slot back, exactly once
    task = states["MigrateDeployment"]
    for after in (task["Next"], task["Catch"][0]["Next"]):
        released = [n for n in path_to_end(states, after) if n == "ReleaseSlot"]
        assert released == ["ReleaseSlot"], after
    release = states["ReleaseSlot"]
    assert release["Parameters"]["Key"] == parameters["Key"]
    assert release["Parameters"]["UpdateExpression"] == "ADD running :minusOne"
    # and an iteration that never took a slot gives none back
    assert "ReleaseSlot" not in path_to_end(states, other["Next"], slot_held=False)
    assert acquire["ResultPath"] == "$.slot"
    assert states["SlotHeld"]["Choices"][0]["Variable"] == "$.slot"


def test_the_report_gets_keys_and_the_results_location_only(asl: dict[str, Any]) -> None:
    # Given the report task's payload
    payload = asl["States"][FLEET_REPORT_STATE]["Parameters"]["Payload"]
    # Then it sends exactly the fields FleetReportRequest reads: keys, never item lists
    fields = {name.removesuffix(".$") for name in payload}
    aliases = {f.alias for f in FleetReportRequest.model_fields.values()}
    assert fields == aliases
    assert payload["resultWriterDetails.$"] == "$.results.ResultWriterDetails"
    assert payload["discoveryKey.$"] == "$.fleet.discoveryKey"
    # and its output is the report's summary, which the choice and the Fail state read
    assert asl["States"][FLEET_REPORT_STATE]["OutputPath"] == "$.report"
    assert {"withinTolerance", "summary"} <= set(SUMMARY_KEYS)


def test_the_report_decides_success_on_the_tolerance(asl: dict[str, Any]) -> None:
    # Given the report task and what follows it
    report = asl["States"][FLEET_REPORT_STATE]
    decision = asl["States"][report["Next"]]
    # Then only a report within tolerance succeeds; otherwise the fleet fails by name
    [within] = decision["Choices"]
    assert within["Variable"] == "$.withinTolerance"
    assert asl["States"][within["Next"]]["Type"] == "Succeed"
    failure = asl["States"][decision["Default"]]
    assert (failure["Type"], failure["Error"]) == ("Fail", "FleetFailureThresholdExceeded")
    assert failure["CausePath"] == "$.summary"
    assert report["Parameters"]["Payload"]["toleratedFailurePercentage.$"] == (
        "$.fleet.toleratedFailurePercentage"
    )
