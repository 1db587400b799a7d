"""fleet.py without AWS: the fleet file, execution names and the fleet report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ipsync_migrator.errors import InvalidInputError
from ipsync_migrator.events import DetailType
from ipsync_migrator.fleet import (
    ChildResult,
    FleetSpec,
    execution_name,
    fleet_report,
    load_fleet_spec,
    parse_fleet_spec,
    report_fleet,
)
from ipsync_migrator.models import Strategy

FLEET_ID = "arn:aws:states:us-east-1:123456789012:execution:ipsync-migrator-fleet:fleet-1"
VALID = {
    "targets": [
        {"accountId": "111111111111", "regions": ["us-east-1", "eu-west-1"]},
        {
            "accountId": "222222222222",
            "regions": ["us-east-1"],
            "roleArn": "arn:aws:iam::222222222222:role/ipsync-migrator-member",
            "externalId": "shared-secret",
        },
    ],
    "maxConcurrency": 2,
    "toleratedFailurePercentage": 25,
    "options": {"strategy": "swap-and-watch", "pollSeconds": 1},
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_fleet_file_in_json_is_parsed_with_defaults(tmp_path: Path) -> None:
    # Given a fleet file naming only the accounts and regions
    path = write(tmp_path, "fleet.json", json.dumps({"targets": VALID["targets"][:1]}))
    # When it is loaded
    spec, digest = load_fleet_spec(path)
    # Then the defaults apply: 4 at a time, no failure tolerated, default options
    assert spec.max_concurrency == 4
    assert spec.tolerated_failure_percentage == 0
    assert spec.options.strategy == Strategy.PROBE
    assert spec.targets[0].regions == ["us-east-1", "eu-west-1"]
    assert len(digest) == 12


def test_fleet_file_in_yaml_gives_the_same_spec(tmp_path: Path) -> None:
    # Given the same fleet as JSON and as YAML
    import yaml

    json_spec, _ = load_fleet_spec(write(tmp_path, "fleet.json", json.dumps(VALID)))
    yaml_spec, _ = load_fleet_spec(write(tmp_path, "fleet.yaml", yaml.safe_dump(VALID)))
    # Then both parse to the same spec
    assert yaml_spec == json_spec
    assert json_spec.options.strategy == Strategy.SWAP_AND_WATCH


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"targets": []}, "targets: List should have at least 1 item"),
        ({"maxConcurrency": 0}, "maxConcurrency: Input should be greater than or equal to 1"),
        ({"toleratedFailurePercentage": 101}, "toleratedFailurePercentage: Input should be less"),
        ({"targets": [{"accountId": "12345", "regions": ["us-east-1"]}]}, "targets.0.accountId"),
        ({"targets": [{"accountId": "111111111111", "regions": ["mars-1"]}]}, "regions.0"),
        (
            {
                "targets": [
                    {
                        "accountId": "111111111111",
                        "regions": ["us-east-1"],
                        "roleArn": "arn:aws:iam::999999999999:role/x",
                    }
                ]
            },
            "is not in account 111111111111",
        ),
        (
            {"targets": [VALID["targets"][0], VALID["targets"][0]]},
            "accounts listed twice: 111111111111",
        ),
        ({"options": {"pollSeconds": -1}}, "options.pollSeconds"),
        ({"unknown": 1}, "unknown: Extra inputs are not permitted"),
    ],
)
def test_bad_fleet_file_is_a_clear_invalid_input_error(
    tmp_path: Path, change: dict[str, Any], expected: str
) -> None:
    # Given a fleet file with one mistake
    path = write(tmp_path, "fleet.json", json.dumps({**VALID, **change}))
    # When it is loaded
    with pytest.raises(InvalidInputError) as raised:
        load_fleet_spec(path)
    # Then the error names the file and the field, and says what a fleet file looks like
    assert str(path) in raised.value.message
    assert expected in raised.value.message
    assert "events/statemachine/fleet.json" in raised.value.remediation


@pytest.mark.parametrize(
    ("name", "text", "kind"), [("f.json", "{", "JSON"), ("f.yml", "a: [", "YAML")]
)
def test_unparsable_fleet_file_says_so(tmp_path: Path, name: str, text: str, kind: str) -> None:
    with pytest.raises(InvalidInputError, match=f"not valid {kind}"):
        load_fleet_spec(write(tmp_path, name, text))


def test_missing_fleet_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="Cannot read the fleet file"):
        load_fleet_spec(tmp_path / "nope.json")


def test_state_machine_input_is_parsed_like_the_file() -> None:
    # Given the spec as the fleet state machine receives it
    spec = parse_fleet_spec(VALID)
    # Then it is a FleetSpec, and it round-trips through JSON (the execution input)
    assert isinstance(spec, FleetSpec)
    assert parse_fleet_spec(spec.to_json_dict()) == spec


def test_execution_name_is_valid_unique_per_fleet_run_and_stable() -> None:
    # Given the longest migration id discovery makes (60 + "-" + 8)
    migration_id = "a" * 60 + "-0123abcd"
    # When child execution names are derived for two fleet runs
    first = execution_name(migration_id, FLEET_ID)
    again = execution_name(migration_id, FLEET_ID)
    other = execution_name(migration_id, FLEET_ID + "-2")
    # Then they are valid names (<= 80 chars), prefixed by the id, stable, and per run
    assert len(first) <= 80
    assert first.startswith(migration_id + "-")
    assert first == again
    assert first != other
    assert len(execution_name("x" * 100, FLEET_ID)) == 80


def child(status: str, migration_id: str, **extra: Any) -> ChildResult:
    return ChildResult.model_validate(
        {
            "status": status,
            "migrationId": migration_id,
            "executionName": f"{migration_id}-abc",
            "target": {"accountId": "111111111111", "region": "us-east-1"},
            **extra,
        }
    )


#: What a failed startExecution.sync:2 task's Cause holds: the child's description.
CHILD_FAILED_CAUSE = json.dumps(
    {
        "ExecutionArn": "arn:aws:states:us-east-1:123456789012:execution:m:shop-abc",
        "Status": "FAILED",
        "Error": "MigrationRolledBack",
        "Cause": "AccessDenied: refused",
    }
)
SKIPPED = [
    {"migrationId": "pay", "verdict": "blocked", "blockers": [{"code": "X"}]},
    {"migrationId": "old", "verdict": "orphaned", "blockers": [{"code": "Y"}]},
]


def test_report_counts_outcomes_and_unwraps_the_child_error() -> None:
    # Given two succeeded children and one whose execution rolled back
    results = [
        child("SUCCEEDED", "shop"),
        child("FAILED", "media", error="States.TaskFailed", cause=CHILD_FAILED_CAUSE),
        child("SUCCEEDED", "api"),
    ]
    # When the report is built with 34% tolerated
    report = fleet_report(results, SKIPPED, [], 34, FLEET_ID)
    # Then 1 of 3 failed (33.33%), within tolerance, with the child's own error and cause
    assert report["counts"] == {
        "migrations": 3,
        "succeeded": 2,
        "failed": 1,
        "blocked": 1,
        "orphaned": 1,
        "accountErrors": 0,
    }
    assert report["failurePercentage"] == 33.33
    assert report["withinTolerance"] is True
    [failed] = [c for c in report["children"] if c["status"] == "FAILED"]
    assert (failed["error"], failed["cause"]) == ("MigrationRolledBack", "AccessDenied: refused")
    assert failed["accountId"] == "111111111111"
    assert report["skipped"] == SKIPPED
    # and with 33% tolerated the same fleet is not within tolerance
    assert fleet_report(results, SKIPPED, [], 33)["withinTolerance"] is False


def test_an_unreachable_account_counts_as_one_failure() -> None:
    # Given two succeeded children and one account whose role could not be assumed
    errors = [{"accountId": "222222222222", "region": "us-east-1", "error": "AccessDenied"}]
    results = [child("SUCCEEDED", "shop"), child("SUCCEEDED", "api")]
    # When the report is built
    report = fleet_report(results, [], errors, 0)
    # Then the account is one failed unit of three: not within a zero tolerance
    assert report["counts"]["accountErrors"] == 1
    assert report["failurePercentage"] == 33.33
    assert report["withinTolerance"] is False
    assert report["errors"] == errors


def test_empty_fleet_is_within_tolerance() -> None:
    report = fleet_report([], SKIPPED, [], 0)
    assert report["failurePercentage"] == 0
    assert report["withinTolerance"] is True


def test_non_json_cause_is_kept_as_is() -> None:
    report = fleet_report([child("FAILED", "x", error="States.Timeout", cause="late")], [], [], 0)
    assert (report["children"][0]["error"], report["children"][0]["cause"]) == (
        "States.Timeout",
        "late",
    )


class Bus:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, detail))


def test_report_fleet_announces_fleet_completed() -> None:
    # Given a fleet with one failed child
    bus = Bus()
    results = [child("FAILED", "media", error="E", cause="c"), child("SUCCEEDED", "shop")]
    # When it is reported
    report = report_fleet(bus, "123456789012", "us-east-1", results, SKIPPED, [], 0, FLEET_ID)
    # Then one "Fleet Completed" event carries the verdict, counts and the failures only
    [(detail_type, detail)] = bus.events
    assert detail_type == DetailType.FLEET_COMPLETED == "Fleet Completed"
    assert detail["fleetExecutionArn"] == FLEET_ID
    assert detail["withinTolerance"] is report["withinTolerance"] is False
    assert detail["counts"] == report["counts"]
    assert detail["failed"] == [
        {"migrationId": "media", "accountId": "111111111111", "region": "us-east-1", "error": "E"}
    ]
    json.dumps(detail)  # serializable as an event detail


def test_the_sample_fleet_file_is_valid() -> None:
    # Given the fleet file the docs and error messages point at
    path = Path(__file__).resolve().parents[2] / "events" / "statemachine" / "fleet.json"
    # When it is loaded as `migrate --fleet` does, Then it parses, with a member-account role
    spec, _ = load_fleet_spec(path)
    assert any(t.role_arn and t.external_id for t in spec.targets)
