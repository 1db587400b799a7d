"""fleet.py without AWS: the fleet file and its limits, execution names, the fleet report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ipsync_migrator.errors import InvalidInputError, NotFoundError
from ipsync_migrator.events import DetailType
from ipsync_migrator.fleet import (
    DISCOVERY_CONCURRENCY,
    MAX_EVENT_ENTRIES,
    MAX_FLEET_TARGETS,
    MAX_MIGRATIONS_PER_ACCOUNT_REGION,
    MAX_NESTING,
    MAX_PAYLOAD_BYTES,
    ChildResult,
    FleetKeys,
    FleetSpec,
    MemoryFleetObjects,
    ResultWriterDetails,
    discover_target,
    execution_input,
    execution_name,
    fleet_report,
    gather_fleet,
    load_fleet_spec,
    parse_fleet_spec,
    read_results,
    report_fleet,
)
from ipsync_migrator.handlers.requests import FleetReportRequest
from ipsync_migrator.models import MigrationOptions, Strategy, Target
from ipsync_migrator.observability import parse

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


def test_the_sample_fleet_file_is_valid() -> None:
    # Given the fleet file the docs and error messages point at
    path = Path(__file__).resolve().parents[2] / "events" / "statemachine" / "fleet.json"
    # When it is loaded as `migrate --fleet` does, Then it parses, with a member-account role
    spec, _ = load_fleet_spec(path)
    assert any(t.role_arn and t.external_id for t in spec.targets)


# ---- the fleet file's size and shape, checked before anything starts -------------------------


def targets(accounts: int, regions: int, **extra: Any) -> list[dict[str, Any]]:
    """`accounts` distinct accounts, each in the first `regions` of a list of real regions."""
    names = [
        f"{area}-{side}-{n}"
        for area in ("us", "eu", "ap", "sa", "ca")
        for side in ("east", "west", "north", "south", "central")
        for n in (1, 2, 3)
    ]
    return [
        {"accountId": f"{100000000000 + a}", "regions": names[:regions], **extra}
        for a in range(accounts)
    ]


def test_a_fleet_of_the_maximum_targets_is_accepted() -> None:
    # Given accounts x regions exactly at the limit (250 accounts in 2 regions)
    spec = parse_fleet_spec({"targets": targets(MAX_FLEET_TARGETS // 2, 2)})
    # Then it parses, and its execution input fits Step Functions' limit
    assert spec.target_count == MAX_FLEET_TARGETS == 500
    assert len(execution_input(spec).encode()) <= MAX_PAYLOAD_BYTES


def test_one_target_more_than_the_maximum_is_refused_naming_the_limit() -> None:
    # Given one account x region over the limit (spread over accounts and regions)
    data = {"targets": targets(MAX_FLEET_TARGETS // 2, 2)}
    data["targets"].append({"accountId": "999999999999", "regions": ["us-east-1"]})
    # When it is parsed
    with pytest.raises(InvalidInputError) as raised:
        parse_fleet_spec(data)
    # Then the error counts them, names the limit and says how to split the fleet
    assert "it lists 501 accounts x regions" in raised.value.message
    assert f"at most {MAX_FLEET_TARGETS}" in raised.value.message
    assert "Split the fleet" in raised.value.remediation


def test_a_ten_thousand_target_file_is_refused_before_anything_starts(tmp_path: Path) -> None:
    # Given the file that used to become a 1.24 MB state machine input
    path = write(tmp_path, "fleet.json", json.dumps({"targets": targets(10_000, 1)}))
    # When it is loaded as `migrate --fleet FILE` does
    with pytest.raises(InvalidInputError) as raised:
        load_fleet_spec(path)
    # Then it is refused by its size, naming the file and the limit
    assert str(path) in raised.value.message
    assert "10,000 accounts x regions" in raised.value.message


def spec_of_input_size(size: int) -> dict[str, Any]:
    """A valid spec (within the target limit) whose execution input is exactly `size` bytes:
    the external ids of 250 accounts make up the length."""
    data = {"targets": targets(250, 1, externalId="xx")}
    base = len(execution_input(parse_fleet_spec(data)).encode())
    extra, spread = divmod(size - base, 250)
    for index, target in enumerate(data["targets"]):
        target["externalId"] = "x" * (2 + extra + (1 if index < spread else 0))
    return data


def test_an_execution_input_of_exactly_256_kib_is_accepted() -> None:
    # Given a spec whose state machine input is exactly Step Functions' limit
    data = spec_of_input_size(MAX_PAYLOAD_BYTES)
    # When it is parsed, Then it is accepted
    spec = parse_fleet_spec(data)
    assert len(execution_input(spec).encode()) == MAX_PAYLOAD_BYTES


def test_one_byte_over_256_kib_of_execution_input_is_refused() -> None:
    # Given the same spec one byte larger
    data = spec_of_input_size(MAX_PAYLOAD_BYTES + 1)
    # When it is parsed
    with pytest.raises(InvalidInputError) as raised:
        parse_fleet_spec(data)
    # Then the error gives the size and Step Functions' limit
    assert f"{MAX_PAYLOAD_BYTES + 1:,} bytes" in raised.value.message
    assert f"at most {MAX_PAYLOAD_BYTES:,} bytes (256 KiB)" in raised.value.message
    assert "externalId" in raised.value.remediation


@pytest.mark.parametrize("name", ["deep.json", "deep.yaml"])
def test_a_file_nested_100000_levels_deep_is_a_clear_error(tmp_path: Path, name: str) -> None:
    # Given a fleet file nested 100,000 levels deep (valid JSON, and valid YAML)
    path = write(tmp_path, name, "[" * 100_000 + "]" * 100_000)
    # When it is loaded, Then it is the project's error, not a RecursionError
    with pytest.raises(InvalidInputError) as raised:
        load_fleet_spec(path)
    assert "nested too deeply" in raised.value.message
    assert "events/statemachine/fleet.json" in raised.value.remediation


def test_nesting_beyond_the_limit_is_refused_before_validation() -> None:
    # Given a spec whose options hold a value one level too deep (parsers managed it)
    deep: Any = "x"
    for _ in range(MAX_NESTING):
        deep = [deep]
    # When it is parsed
    with pytest.raises(InvalidInputError) as raised:
        parse_fleet_spec({**VALID, "options": {"strategy": deep}})
    # Then the depth is the problem, named with its limit
    assert f"nested more than {MAX_NESTING} levels deep" in raised.value.message


def test_a_yaml_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    # Given a YAML file whose aliases repeat one list 10^9 times (a few hundred bytes)
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, 9):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("targets: [*a8]")
    path = write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    # When it is loaded, Then it is refused as too large for an execution input
    with pytest.raises(InvalidInputError, match="more than 262,144 values"):
        load_fleet_spec(path)


def test_a_huge_fleet_file_is_not_even_read(tmp_path: Path) -> None:
    # Given a fleet file of 5 MB (comments could make a valid spec's file larger than its
    # input, but never this much)
    path = write(tmp_path, "huge.yaml", "# padding\n" * 500_000 + "targets: []\n")
    # When it is loaded, Then its size is the error
    with pytest.raises(InvalidInputError, match="5,000,012 bytes"):
        load_fleet_spec(path)


# ---- the report: from the fleet's files, announced once the fleet is known -------------------

HUB = ("123456789012", "us-east-1")
KEYS = FleetKeys.of(FLEET_ID)
TARGET_GROUPS = "arn:aws:elasticloadbalancing:us-east-1:111111111111:targetgroup"
CHILD_EXECUTIONS = "arn:aws:states:us-east-1:123456789012:execution:fleet/MigrateFleet"
TARGET = {"accountId": "111111111111", "region": "us-east-1", "roleArn": None, "externalId": None}


class Fleets:
    """In-memory twin of the fleet state machine's executions (aws/fleets.FleetExecutions)."""

    def __init__(self, *known: str) -> None:
        self.known = set(known)

    def describe(self, execution_arn: str) -> dict[str, Any]:
        if execution_arn not in self.known:
            raise NotFoundError(
                f"states:DescribeExecution: Execution Does Not Exist: '{execution_arn}'"
            )
        return {"executionArn": execution_arn, "status": "RUNNING"}


class Bus:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.append((detail_type, detail))


def item(migration_id: str) -> dict[str, Any]:
    return {
        "targetGroupArn": f"{TARGET_GROUPS}/{migration_id}/0",
        "migrationId": migration_id,
        "executionName": f"{migration_id}-abc",
        "target": TARGET,
        "options": {},
    }


def succeeded(migration_id: str, **result: Any) -> dict[str, Any]:
    """A child workflow in a SUCCEEDED result file: its output is the iteration's result."""
    output = {"status": "SUCCEEDED", "migrationId": migration_id, "target": TARGET, **result}
    return {
        "ExecutionArn": f"{CHILD_EXECUTIONS}:{migration_id}",
        "Input": json.dumps({"item": item(migration_id), "fleetExecutionId": FLEET_ID}),
        "Output": json.dumps(output),
        "Status": "SUCCEEDED",
    }


def stored_fleet(
    skipped: list[dict[str, Any]],
    errors: list[dict[str, Any]],
    files: dict[str, list[dict[str, Any]]],
) -> tuple[MemoryFleetObjects, ResultWriterDetails]:
    """The fleet bucket as DiscoverFleet and the Map's ResultWriter leave it."""
    objects = MemoryFleetObjects("fleet-bucket")
    objects.put_json(
        KEYS.discovery, {"fleetExecutionId": FLEET_ID, "skipped": skipped, "errors": errors}
    )
    manifest = KEYS.results + "/run-1/manifest.json"
    listed: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    for status, executions in files.items():
        key = f"{KEYS.results}/run-1/{status}_0.json"
        objects.put_json(key, executions)
        listed[status].append({"Key": key, "Size": len(json.dumps(executions))})
    objects.put_json(
        manifest, {"DestinationBucket": "fleet-bucket", "MapRunArn": "arn:m", "ResultFiles": listed}
    )
    return objects, ResultWriterDetails(bucket="fleet-bucket", key=manifest)


BLOCKED = {
    "accountId": "111111111111",
    "region": "us-east-1",
    "migrationId": "pay",
    "verdict": "blocked",
    "blockers": [{"code": "X", "message": "m", "remediation": "r"}],
}
UNREACHED = {
    "accountId": "222222222222",
    "region": "us-east-1",
    "error": "AccessDenied",
    "message": "Cannot assume role",
    "remediation": "deploy member-role.yaml",
}


def run_report(
    objects: MemoryFleetObjects,
    details: ResultWriterDetails,
    bus: Bus,
    fleets: Fleets,
    tolerated: float = 0,
) -> dict[str, Any]:
    return report_fleet(
        objects, fleets, bus, *HUB, FLEET_ID, KEYS.discovery, KEYS.report, details, tolerated
    )


def test_report_fleet_reads_the_files_stores_the_report_and_announces_it() -> None:
    # Given a fleet's files: one child succeeded, one failed (caught: its own result), one
    # blocked deployment and one unreachable account
    failed = succeeded(
        "media", status="FAILED", error="States.TaskFailed", cause=CHILD_FAILED_CAUSE
    )
    objects, details = stored_fleet(
        [BLOCKED], [UNREACHED], {"SUCCEEDED": [succeeded("shop"), failed]}
    )
    bus = Bus()
    # When the fleet is reported
    summary = run_report(objects, details, bus, Fleets(FLEET_ID), tolerated=50)
    # Then the state's output is the summary and the report's key: no lists of any size
    assert set(summary) == {
        "fleetExecutionId",
        "counts",
        "failurePercentage",
        "toleratedFailurePercentage",
        "withinTolerance",
        "summary",
        "bucket",
        "reportKey",
    }
    assert (summary["bucket"], summary["reportKey"]) == ("fleet-bucket", KEYS.report)
    assert summary["counts"] == {
        "migrations": 2,
        "succeeded": 1,
        "failed": 1,
        "blocked": 1,
        "orphaned": 0,
        "accountErrors": 1,
    }
    assert summary["failurePercentage"] == 66.67 and summary["withinTolerance"] is False
    # and the whole report is stored, with the child's own error unwrapped
    report = objects.get_json(KEYS.report)
    children = {c["migrationId"]: c for c in report["children"]}
    assert (children["media"]["error"], children["media"]["cause"]) == (
        "MigrationRolledBack",
        "AccessDenied: refused",
    )
    assert report["skipped"][0]["migrationId"] == "pay"
    assert report["errors"][0]["accountId"] == "222222222222"
    # and one "Fleet Completed" event carries the verdict, counts, failures and where it is
    [(detail_type, detail)] = bus.events
    assert detail_type == DetailType.FLEET_COMPLETED == "Fleet Completed"
    assert detail["fleetExecutionArn"] == FLEET_ID
    assert detail["counts"] == summary["counts"]
    assert detail["failed"] == [
        {
            "migrationId": "media",
            "accountId": "111111111111",
            "region": "us-east-1",
            "error": "MigrationRolledBack",
        }
    ]
    assert detail["errors"] == [
        {"accountId": "222222222222", "region": "us-east-1", "error": "AccessDenied"}
    ]
    assert detail["report"] == {"bucket": "fleet-bucket", "reportKey": KEYS.report}
    json.dumps(detail)  # serializable as an event detail


def test_children_that_failed_uncaught_or_never_started_count_as_failed() -> None:
    # Given result files with a child workflow that was aborted, one that failed uncaught
    # and one that never started (PENDING)
    def listed(migration_id: str, status: str, **extra: Any) -> dict[str, Any]:
        entry = {**succeeded(migration_id), "Status": status, **extra}
        del entry["Output"]
        return entry

    objects, details = stored_fleet(
        [],
        [],
        {
            "FAILED": [
                listed("stopped", "ABORTED"),
                listed("huge", "FAILED", Error="States.DataLimitExceeded", Cause="too big"),
            ],
            "PENDING": [listed("later", "PENDING")],
        },
    )
    # When the results are read
    results = {r.migration_id: r for r in read_results(objects, details)}
    # Then each is a failed child of the migration its input names, with why
    assert {r.status for r in results.values()} == {"FAILED"}
    assert (results["stopped"].error, results["stopped"].execution_name) == (
        "ExecutionAborted",
        "stopped-abc",
    )
    assert (results["huge"].error, results["huge"].cause) == ("States.DataLimitExceeded", "too big")
    assert results["later"].error == "NotStarted"
    assert results["later"].target.account_id == "111111111111"


def test_an_unknown_fleet_is_not_found_and_nothing_is_published() -> None:
    # Given a fleet's files, but no fleet execution of that id
    objects, details = stored_fleet([], [], {"SUCCEEDED": [succeeded("shop")]})
    bus = Bus()
    # When it is reported
    with pytest.raises(NotFoundError) as raised:
        run_report(objects, details, bus, Fleets())
    # Then the error names it and says what to pass; nothing is published or stored
    assert f"No fleet execution {FLEET_ID}" in raised.value.message
    assert "status --fleet" in raised.value.remediation
    assert bus.events == []
    assert KEYS.report not in objects.objects


@pytest.mark.parametrize("missing", ["error", "accountId", "message"])
def test_an_error_entry_missing_a_key_is_a_clear_validation_error(missing: str) -> None:
    # Given discovery's files with an unreachable-account entry that lost a key
    broken = {k: v for k, v in UNREACHED.items() if k != missing}
    objects, details = stored_fleet([], [broken], {"SUCCEEDED": [succeeded("shop")]})
    bus = Bus()
    # When the fleet is reported
    with pytest.raises(InvalidInputError) as raised:
        run_report(objects, details, bus, Fleets(FLEET_ID))
    # Then the error names the object and the field (no KeyError), and nothing is published
    assert f"s3://fleet-bucket/{KEYS.discovery}" in raised.value.message
    assert f"errors.0.{missing}: Field required" in raised.value.message
    assert bus.events == []


def test_a_malformed_result_file_is_a_clear_error() -> None:
    # Given a result file whose child output is not the iteration's result
    entry = {**succeeded("shop"), "Output": json.dumps({"status": "SUCCEEDED"})}
    objects, details = stored_fleet([], [], {"SUCCEEDED": [entry]})
    # When it is read, Then the error says which file and entry
    with pytest.raises(InvalidInputError, match=r"SUCCEEDED_0.json entry 0: .*migrationId"):
        read_results(objects, details)


def test_results_outside_the_fleet_bucket_are_refused() -> None:
    objects, _ = stored_fleet([], [], {})
    with pytest.raises(InvalidInputError, match="not the fleet bucket fleet-bucket"):
        read_results(objects, ResultWriterDetails(bucket="someone-else", key="k"))


def test_fleet_completed_lists_a_bounded_number_of_failures() -> None:
    # Given a fleet of 3,000 failed children (an event is at most 256 KB)
    failures = [succeeded(f"m{i}", status="FAILED", error="E", cause="c") for i in range(3000)]
    objects, details = stored_fleet([], [], {"SUCCEEDED": failures})
    bus = Bus()
    # When it is reported
    summary = run_report(objects, details, bus, Fleets(FLEET_ID), tolerated=100)
    # Then the event lists the first failures only, the counts say how many, and it is small
    [(_, detail)] = bus.events
    assert len(detail["failed"]) == MAX_EVENT_ENTRIES
    assert detail["counts"]["failed"] == summary["counts"]["failed"] == 3000
    assert len(json.dumps(detail)) < 16 * 1024
    assert len(objects.get_json(KEYS.report)["children"]) == 3000


def test_the_report_request_is_validated_at_the_edge() -> None:
    # Given the request the state machine sends, with the ResultWriter's details broken
    event = {
        "fleetExecutionId": FLEET_ID,
        "discoveryKey": KEYS.discovery,
        "reportKey": KEYS.report,
        "resultWriterDetails": {"Bucket": "fleet-bucket"},
        "toleratedFailurePercentage": 10,
    }
    # When the handler parses it, Then the missing field is named
    with pytest.raises(InvalidInputError, match=r"resultWriterDetails.Key: Field required"):
        parse(FleetReportRequest, event)
    # and a fleet id that is no execution ARN is refused too
    with pytest.raises(InvalidInputError, match="fleetExecutionId"):
        parse(FleetReportRequest, {**event, "fleetExecutionId": "fleet-1"})


# ---- discovery: one part per account and region, joined in turns -----------------------------


def discovery_results(
    objects: MemoryFleetObjects, failed: dict[int, tuple[str, str]], succeeded: list[int]
) -> ResultWriterDetails:
    """The DiscoverTargets Map's ResultWriter files: children by index, some failed."""
    prefix = KEYS.discovery_results + "/run-1/"
    files: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
    entries = {
        "SUCCEEDED": [
            {
                "Input": json.dumps({"index": i}),
                "Output": json.dumps({"index": i}),
                "Status": "SUCCEEDED",
            }
            for i in succeeded
        ],
        "FAILED": [
            {"Input": json.dumps({"index": i}), "Status": "FAILED", "Error": error, "Cause": cause}
            for i, (error, cause) in failed.items()
        ],
    }
    for status, listed in entries.items():
        if listed:
            objects.put_json(prefix + f"{status}_0.json", listed)
            files[status].append({"Key": prefix + f"{status}_0.json"})
    objects.put_json(
        prefix + "manifest.json",
        {"DestinationBucket": objects.bucket, "ResultFiles": files},
    )
    return ResultWriterDetails(bucket=objects.bucket, key=prefix + "manifest.json")


def test_a_target_that_cannot_be_read_is_an_error_part_and_counts() -> None:
    # Given a target whose role is not the member role the hub may assume
    objects = MemoryFleetObjects()
    target = Target(
        account_id="333333333333",
        region="eu-west-1",
        role_arn="arn:aws:iam::333333333333:role/someone-else",
    )

    def no_clients(_: Target) -> Any:
        raise AssertionError("no AWS call for a role the hub may not assume")

    # When it is discovered as iteration 7
    result = discover_target(
        target, 7, FLEET_ID, MigrationOptions(), no_clients, "ipsync-migrator-member", objects
    )

    # Then its part holds one error with the fix, and only counts are returned
    assert result == {
        "index": 7,
        "partKey": KEYS.part(7),
        "count": 0,
        "skippedCount": 0,
        "errorCount": 1,
    }
    part = objects.get_json(KEYS.part(7))
    [error] = part["errors"]
    assert (error["accountId"], error["region"]) == ("333333333333", "eu-west-1")
    assert error["error"] == "InvalidInput"
    assert "ipsync-migrator-member" in error["message"]
    assert part["items"] == [] and part["skipped"] == []


def test_gather_joins_the_parts_in_turns_and_names_a_failed_discovery() -> None:
    # Given three targets: two discovered (3 and 1 migratable deployments, one blocked), and
    # one whose discovery failed outright
    objects = MemoryFleetObjects()
    targets = [
        {"accountId": "111111111111", "region": "us-east-1"},
        {"accountId": "222222222222", "region": "us-east-1"},
        {"accountId": "333333333333", "region": "eu-west-1"},
    ]
    objects.put_json(KEYS.targets, targets)
    objects.put_json(KEYS.part(0), {"items": [item("a1"), item("a2"), item("a3")]})
    objects.put_json(KEYS.part(1), {"items": [item("b1")], "skipped": [BLOCKED]})
    details = discovery_results(
        objects, {2: ("Sandbox.Timedout", "Task timed out after 900 seconds")}, [0, 1]
    )

    # When they are gathered
    counts = gather_fleet(objects, FLEET_ID, details)

    # Then the items take the targets in turns, and the failed one is an error entry
    assert counts == {"count": 4, "skippedCount": 1, "errorCount": 1}
    items = [i["migrationId"] for i in objects.get_json(KEYS.items)]
    assert items == ["a1", "b1", "a2", "a3"]
    discovery = objects.get_json(KEYS.discovery)
    assert [s["migrationId"] for s in discovery["skipped"]] == ["pay"]
    [error] = discovery["errors"]
    assert (error["accountId"], error["region"]) == ("333333333333", "eu-west-1")
    assert error["error"] == "Sandbox.Timedout"
    assert "900 seconds" in error["message"]


def test_a_missing_part_of_a_discovered_target_is_a_clear_error() -> None:
    # Given a target the Map says it discovered, whose part is not there
    objects = MemoryFleetObjects()
    objects.put_json(KEYS.targets, [{"accountId": "111111111111", "region": "us-east-1"}])
    details = discovery_results(objects, {}, [0])
    # When it is gathered, Then the error names the object
    with pytest.raises(NotFoundError, match=r"parts/00000\.json"):
        gather_fleet(objects, FLEET_ID, details)


def test_the_spec_bounds_the_caps_and_defaults_them() -> None:
    # Given a fleet file without the caps, Then the defaults apply
    spec = parse_fleet_spec({"targets": VALID["targets"]})
    assert spec.discovery_concurrency == DISCOVERY_CONCURRENCY
    assert spec.max_migrations_per_account_region == MAX_MIGRATIONS_PER_ACCOUNT_REGION
    # and a cap of 0 is refused, naming the field
    with pytest.raises(InvalidInputError, match="maxMigrationsPerAccountRegion"):
        parse_fleet_spec({"targets": VALID["targets"], "maxMigrationsPerAccountRegion": 0})
