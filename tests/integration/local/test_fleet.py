"""Fleet migrations on the local runtime: the deployed fleet state machine, real handlers.

Each test migrates a demo estate of its own account (the hub's, or a member account reached
through the member role), so the tests do not depend on each other's order.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from ipsync_migrator.cli import app
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.config import AwsTarget
from ipsync_migrator.local.bulk_estate import seed_bulk
from ipsync_migrator.local.demo_estate import DemoEstate, seed_demo
from ipsync_migrator.local.realism import FaultRule
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.operations import Service

pytestmark = pytest.mark.timeout(600)

HUB_ACCOUNT = "123456789012"
MEMBER_ROLE = "ipsync-migrator-member"
OPTIONS = {
    "pollSeconds": 1,
    "healthTimeoutSeconds": 60,
    "bakeSeconds": 0,
    "drainSeconds": 0,
    "healthyChecksRequired": 2,
}
#: The demo estate's deployments by verdict (local/demo_estate.py).
MIGRATABLE = {"shop-ip-tg", "api-ip-tg", "media-ip-tg"}
BLOCKED = {"payments-ip-tg", "admin-ip-tg", "partner-ip-tg"}
DEADLINE_SECONDS = 240
runner = CliRunner()


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalRuntime]:
    started = time.monotonic()
    rt = LocalRuntime(port=0, seed="demo").start()
    print(f"runtime ready in {time.monotonic() - started:.1f} s")
    try:
        yield rt
    finally:
        rt.stop()


@pytest.fixture(autouse=True)
def no_faults_left(runtime: LocalRuntime) -> Iterator[None]:
    yield
    runtime.realism.clear_faults()


def role_arn(account: str) -> str:
    return f"arn:aws:iam::{account}:role/{MEMBER_ROLE}"


def member_clients(rt: LocalRuntime, account: str) -> ClientFactory:
    """Clients acting in `account` of the emulator, through its member role."""
    return ClientFactory(
        AwsTarget(region=rt.region, endpoint_url=rt.endpoint, role_arn=role_arn(account))
    )


def seeded_member(rt: LocalRuntime, account: str) -> DemoEstate:
    """The demo estate, seeded in a member account (moto: one backend per account)."""
    calls = dict(rt.realism.calls)
    estate = seed_demo(member_clients(rt, account))
    rt.realism.calls.clear()
    rt.realism.calls.update(calls)
    return estate


def shop_listener(clients: ClientFactory) -> dict[str, Any]:
    elb = clients.client("elbv2")
    [nlb] = elb.describe_load_balancers(Names=["shop-nlb"])["LoadBalancers"]
    [listener] = elb.describe_listeners(LoadBalancerArn=nlb["LoadBalancerArn"])["Listeners"]
    return dict(listener)


def forwards_to_alb_group(clients: ClientFactory, nlb_name: str) -> bool:
    elb = clients.client("elbv2")
    [nlb] = elb.describe_load_balancers(Names=[nlb_name])["LoadBalancers"]
    listeners = elb.describe_listeners(LoadBalancerArn=nlb["LoadBalancerArn"])["Listeners"]
    groups = [a["TargetGroupArn"] for li in listeners for a in li["DefaultActions"]]
    described = elb.describe_target_groups(TargetGroupArns=groups)["TargetGroups"]
    return len(listeners) == 1 and all(g["TargetType"] == "alb" for g in described)


def run_fleet(
    rt: LocalRuntime, name: str, spec: dict[str, Any], deadline: float = DEADLINE_SECONDS
) -> dict[str, Any]:
    """Start a fleet execution, wait (bounded) until it ends, return `status --fleet`'s view."""
    service = Service.connect(rt.clients(), rt.stack_name)
    sfn = rt.clients().client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=rt.outputs["FleetStateMachineArn"], name=name, input=json.dumps(spec)
    )["executionArn"]
    started = time.monotonic()
    while True:
        status = service.fleet_status(name)
        if status["done"]:
            print(f"{name}: {status['status']} in {time.monotonic() - started:.1f} s")
            assert status["executionArn"] == arn
            return status
        if time.monotonic() - started > deadline:
            pytest.fail(f"fleet {name} still RUNNING after {deadline} s")
        time.sleep(0.5)


def by_group(children: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Children keyed by the legacy target group name their migration id starts with."""
    return {c["migrationId"].rsplit("-", 1)[0]: c for c in children}


def test_one_failed_child_within_tolerance_lets_the_fleet_succeed(runtime: LocalRuntime) -> None:
    # Given the hub account's demo estate, and ELB refusing the change of the shop listener
    hub = runtime.clients()
    before = shop_listener(hub)
    runtime.realism.add_fault(
        FaultRule(
            "elbv2",
            "ModifyListener",
            error_code="AccessDenied",
            message="refused for this test",
            match={"ListenerArn": before["ListenerArn"]},
        )
    )
    spec = {
        "targets": [{"accountId": HUB_ACCOUNT, "regions": [runtime.region]}],
        "maxConcurrency": 3,
        "toleratedFailurePercentage": 50,
        "options": OPTIONS,
    }

    # When the fleet runs
    status = run_fleet(runtime, "fleet-tolerated", spec)

    # Then it succeeds: 1 of 3 children failed, within the 50% tolerated
    assert status["status"] == "SUCCEEDED", (status["error"], status["cause"])
    report = status["report"]
    assert report["withinTolerance"] is True
    assert report["counts"] == {
        "migrations": 3,
        "succeeded": 2,
        "failed": 1,
        "blocked": 3,
        "orphaned": 1,
        "accountErrors": 0,
    }
    children = by_group(report["children"])
    assert set(children) == MIGRATABLE
    # and the failed child carries its own execution's error: cutover refused, rolled back
    shop = children["shop-ip-tg"]
    assert shop["status"] == "FAILED"
    assert shop["error"] == "MigrationRolledBack"
    assert "refused for this test" in shop["cause"]
    assert shop_listener(hub)["DefaultActions"] == before["DefaultActions"]
    # and the others went on and completed
    assert children["api-ip-tg"]["status"] == children["media-ip-tg"]["status"] == "SUCCEEDED"
    assert forwards_to_alb_group(hub, "api-nlb")
    assert forwards_to_alb_group(hub, "media-nlb")
    # and the blocked and orphaned deployments are listed with their reasons
    skipped = {s["migrationId"].rsplit("-", 1)[0]: s for s in report["skipped"]}
    assert {k for k, s in skipped.items() if s["verdict"] == "blocked"} == BLOCKED
    assert [s["verdict"] for k, s in skipped.items() if k not in BLOCKED] == ["orphaned"]
    payments = skipped["payments-ip-tg"]["blockers"]
    assert [b["code"] for b in payments] == ["LISTENER_PROTOCOL_UNSUPPORTED"]
    assert all(b["remediation"] for s in skipped.values() for b in s["blockers"])
    # and `status --fleet` lists the child executions it started
    assert {c["status"] for c in status["children"]} == {"SUCCEEDED", "FAILED"}
    assert len(status["children"]) == 3
    # and `report --fleet NAME` joins the fleet with the journal: outcomes, errors, timings,
    # the invocations its retired deployments no longer make, blockers grouped with fixes
    aws = ["--region", runtime.region, "--endpoint-url", runtime.endpoint]
    shown = runner.invoke(app, [*aws, "report", "--fleet", "fleet-tolerated", "-o", "json"])
    assert shown.exit_code == 0, shown.output
    fleet_report = json.loads(shown.output)
    assert fleet_report["fleet"] == "fleet-tolerated"
    rows = {r["id"].rsplit("-", 1)[0]: r for r in fleet_report["rows"]}
    assert set(rows) == MIGRATABLE | BLOCKED | {k for k in skipped if k not in BLOCKED}
    assert {r["accountId"] for r in rows.values()} == {HUB_ACCOUNT}
    assert rows["shop-ip-tg"]["outcome"] == "rolled_back"
    assert "refused for this test" in rows["shop-ip-tg"]["error"]
    for name in ("api-ip-tg", "media-ip-tg"):
        assert rows[name]["outcome"] == "retired" and rows[name]["error"] is None
        assert rows[name]["secondsToCutover"] > 0
    retired = sum(rows[n]["invocationsPerMonth"] for n in ("api-ip-tg", "media-ip-tg"))
    assert fleet_report["invocationsRetiredPerMonth"] == retired > 0
    # The two retired children read as discovery reads them now: migrated
    assert fleet_report["byVerdict"] == {
        "blocked": 3,
        "migratable": 1,
        "migrated": 2,
        "orphaned": 1,
    }
    assert fleet_report["byOutcome"] == {"not started": 4, "retired": 2, "rolled_back": 1}
    groups = {g["code"]: g for g in fleet_report["blockers"]}
    assert groups["LISTENER_PROTOCOL_UNSUPPORTED"]["deployments"] == [
        skipped["payments-ip-tg"]["migrationId"]
    ]
    assert all(g["remediation"] for g in groups.values())
    as_markdown = runner.invoke(
        app, [*aws, "report", "--fleet", "fleet-tolerated", "-o", "markdown"]
    )
    assert as_markdown.exit_code == 0, as_markdown.output
    assert as_markdown.output.startswith("# IP-sync fleet report: fleet-tolerated")
    assert f"| {HUB_ACCOUNT} / {runtime.region} |" in as_markdown.output


def test_failures_beyond_tolerance_fail_the_fleet_after_every_child_ran(
    runtime: LocalRuntime,
) -> None:
    # Given a member account's demo estate (reached through the default member role), and
    # ELB refusing the change of its shop listener
    account = "222222222222"
    seeded_member(runtime, account)
    member = member_clients(runtime, account)
    before = shop_listener(member)
    runtime.realism.add_fault(
        FaultRule(
            "elbv2",
            "ModifyListener",
            error_code="AccessDenied",
            match={"ListenerArn": before["ListenerArn"]},
        )
    )
    spec = {
        "targets": [{"accountId": account, "regions": [runtime.region]}],
        "maxConcurrency": 2,
        "options": OPTIONS,
    }

    # When the fleet runs with no failure tolerated (the default)
    status = run_fleet(runtime, "fleet-intolerant", spec)

    # Then the fleet fails on the threshold, with the summary as the cause
    assert status["status"] == "FAILED"
    assert status["error"] == "FleetFailureThresholdExceeded"
    assert "1 failed" in status["cause"]
    # and the report is still there, every child having run to its end
    report = status["report"]
    assert report["withinTolerance"] is False
    assert report["toleratedFailurePercentage"] == 0
    assert (report["counts"]["succeeded"], report["counts"]["failed"]) == (2, 1)
    children = by_group(report["children"])
    assert children["shop-ip-tg"]["error"] == "MigrationRolledBack"
    assert {c["accountId"] for c in report["children"]} == {account}
    # and the member account's other deployments were migrated there, not in the hub
    assert forwards_to_alb_group(member, "api-nlb")
    assert forwards_to_alb_group(member, "media-nlb")
    assert shop_listener(member)["DefaultActions"] == before["DefaultActions"]


def test_an_account_whose_role_cannot_be_assumed_does_not_stop_the_others(
    runtime: LocalRuntime,
) -> None:
    # Given a member account with the demo estate, and one whose member role refuses the hub
    reachable, unreachable = "333333333333", "444444444444"
    seeded_member(runtime, reachable)
    runtime.realism.add_fault(
        FaultRule(
            "sts",
            "AssumeRole",
            error_code="AccessDenied",
            message="User is not authorized to perform: sts:AssumeRole",
            match={"RoleArn": role_arn(unreachable)},
            times=None,
        )
    )
    spec = {
        "targets": [
            {
                "accountId": reachable,
                "regions": [runtime.region],
                "roleArn": role_arn(reachable),
                "externalId": "fleet-test-secret",
            },
            {"accountId": unreachable, "regions": [runtime.region]},
        ],
        "maxConcurrency": 4,
        "toleratedFailurePercentage": 30,
        "options": OPTIONS,
    }

    # When the fleet runs
    status = run_fleet(runtime, "fleet-unreachable", spec)

    # Then the unreachable account is one error, with what went wrong and how to fix it
    report = status["report"]
    [error] = report["errors"]
    assert (error["accountId"], error["region"]) == (unreachable, runtime.region)
    assert error["error"] == "AccessDenied"
    assert f"Cannot assume role {role_arn(unreachable)}" in error["message"]
    assert "not authorized" in error["message"]
    assert "member-role.yaml" in error["remediation"]
    # and the reachable account's deployments all migrated
    assert report["counts"]["succeeded"] == 3
    assert report["counts"]["failed"] == 0
    assert forwards_to_alb_group(member_clients(runtime, reachable), "shop-nlb")
    # and the error counts as one failed unit of four: 25% <= 30% tolerated
    assert report["failurePercentage"] == 25
    assert status["status"] == "SUCCEEDED", (status["error"], status["cause"])
    # and `report --fleet` names the account it could not reach, with the fix
    aws = ["--region", runtime.region, "--endpoint-url", runtime.endpoint]
    shown = runner.invoke(app, [*aws, "report", "--fleet", status["executionArn"]])
    assert shown.exit_code == 0, shown.output
    assert f"not reached {unreachable} / {runtime.region}: AccessDenied" in shown.output
    assert reachable in shown.output and "fleet-unreachable" in shown.output


def test_report_on_an_unknown_fleet_is_a_clear_error(runtime: LocalRuntime) -> None:
    aws = ["--region", runtime.region, "--endpoint-url", runtime.endpoint]
    shown = runner.invoke(app, [*aws, "report", "--fleet", "no-such-fleet"])
    assert shown.exit_code == 3  # not found: an AWS error
    assert "no-such-fleet" in shown.output
    assert "fix:" in shown.output


def test_cli_starts_a_fleet_from_a_file_and_shows_its_report(
    runtime: LocalRuntime, tmp_path: Path
) -> None:
    # Given a member account with the demo estate, and a fleet file naming it (YAML)
    account = "555555555555"
    seeded_member(runtime, account)
    fleet_file = tmp_path / "fleet.yaml"
    fleet_file.write_text(
        yaml.safe_dump(
            {
                "targets": [{"accountId": account, "regions": [runtime.region]}],
                "maxConcurrency": 3,
                "options": OPTIONS,
            }
        )
    )
    aws = ["--region", runtime.region, "--endpoint-url", runtime.endpoint]

    # When `migrate --fleet FILE --yes --wait` runs
    started = runner.invoke(app, [*aws, "migrate", "--fleet", str(fleet_file), "--yes", "--wait"])

    # Then it starts the fleet execution, prints its ARN, waits and shows the report
    assert started.exit_code == 0, started.output
    [arn] = re.findall(r"fleet: (arn:aws:states:\S+)", started.output)
    assert ":execution:ipsync-migrator-fleet:fleet-" in arn
    assert "3 migration(s): 3 succeeded, 0 failed" in started.output
    # and `status --fleet NAME -o json` shows the same execution, done, with its report
    shown = runner.invoke(app, [*aws, "status", "--fleet", arn.rsplit(":", 1)[-1], "-o", "json"])
    assert shown.exit_code == 0, shown.output
    status = json.loads(shown.output)
    assert (status["executionArn"], status["status"]) == (arn, "SUCCEEDED")
    assert status["report"]["counts"]["succeeded"] == 3
    assert {s["verdict"] for s in status["report"]["skipped"]} == {"blocked", "orphaned"}
    # and a bad fleet file is one clear error, before anything starts
    fleet_file.write_text("targets: []\n")
    refused = runner.invoke(app, [*aws, "migrate", "--fleet", str(fleet_file), "--yes"])
    assert refused.exit_code == 2
    assert "targets: List should have at least 1 item" in refused.output
    # and so is a fleet beyond the limits: 251 accounts x 2 regions, over 500
    sfn = runtime.clients().client("stepfunctions")
    fleets = runtime.outputs["FleetStateMachineArn"]
    before = sfn.list_executions(stateMachineArn=fleets)["executions"]
    accounts = [
        {"accountId": str(100000000000 + a), "regions": ["us-east-1", "eu-west-1"]}
        for a in range(251)
    ]
    fleet_file.write_text(yaml.safe_dump({"targets": accounts}))
    refused = runner.invoke(app, [*aws, "migrate", "--fleet", str(fleet_file), "--yes"])
    assert refused.exit_code == 2
    said = " ".join(refused.output.split())
    assert "it lists 502 accounts x regions; one fleet may list at most 500" in said
    assert "fix: Split the fleet" in said
    assert sfn.list_executions(stateMachineArn=fleets)["executions"] == before


# ---- a fleet of 2,000 deployments: only keys and counts between the states ----------------

#: Four member accounts of 500 migratable deployments each (a DiscoverTargets iteration each).
BULK_ACCOUNTS = ("777777777701", "777777777702", "777777777703", "777777777704")
BULK_PER_ACCOUNT = 500
#: Step Functions' limit of a state's input or output, and of an execution's (limits.html).
PAYLOAD_LIMIT = 256 * 1024


def payloads(event: dict[str, Any]) -> Iterator[tuple[str, int]]:
    """Every input, output, parameters or cause an execution history event carries, with its
    size in bytes (what Step Functions' 256 KiB limit counts)."""
    for key, details in event.items():
        if key.endswith("EventDetails") and isinstance(details, dict):
            for field, value in details.items():
                if isinstance(value, str):
                    yield f"{event['type']}.{field}", len(value.encode())


def history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [event for page in pages for event in page["events"]]


def s3_json(clients: ClientFactory, bucket: str, key: str) -> tuple[Any, int]:
    body = clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body), len(body)


@pytest.mark.timeout(1200)
def test_a_fleet_of_2000_deployments_passes_only_keys_between_its_states(
    runtime: LocalRuntime,
) -> None:
    # Given four member accounts of 500 migratable deployments each, and a fleet role that
    # may not start migration executions (each child fails at once: a cheap child, whose
    # failure still travels through the Map's results to the report)
    started = time.monotonic()
    for account in BULK_ACCOUNTS:
        seed_bulk(member_clients(runtime, account), account, BULK_PER_ACCOUNT)
    seeded = time.monotonic()
    runtime.realism.add_fault(
        FaultRule(
            "stepfunctions",
            "StartExecution",
            error_code="AccessDenied",
            message="not authorized to perform states:StartExecution (fleet test)",
            match={"stateMachineArn": runtime.outputs["StateMachineArn"]},
            times=None,
        )
    )
    spec = {
        "targets": [{"accountId": a, "regions": [runtime.region]} for a in BULK_ACCOUNTS],
        "maxConcurrency": 100,
        "toleratedFailurePercentage": 100,
        "options": OPTIONS,
    }

    # When the fleet runs
    status = run_fleet(runtime, "fleet-2000", spec, deadline=900)
    print(f"seeded in {seeded - started:.1f} s, fleet in {time.monotonic() - seeded:.1f} s")

    # Then it discovered and ran all 2,000, and reported each child's failure
    assert status["status"] == "SUCCEEDED", (status["error"], status["cause"])
    report = status["report"]
    migrations = len(BULK_ACCOUNTS) * BULK_PER_ACCOUNT
    assert report["counts"] == {
        "migrations": migrations,
        "succeeded": 0,
        "failed": migrations,
        "blocked": 0,
        "orphaned": 0,
        "accountErrors": 0,
    }
    assert {c["error"] for c in report["children"]} == {"StepFunctions.AccessDeniedException"}
    assert all("fleet test" in c["cause"] for c in report["children"])
    assert {c["accountId"] for c in report["children"]} == set(BULK_ACCOUNTS)
    # and the items went DiscoverFleet -> S3 -> ItemReader: too large for any state's data
    sfn = runtime.clients().client("stepfunctions")
    events = history(sfn, status["executionArn"])
    exits = {
        e["stateExitedEventDetails"]["name"]: json.loads(e["stateExitedEventDetails"]["output"])
        for e in events
        if "stateExitedEventDetails" in e
    }
    entered = {
        e["stateEnteredEventDetails"]["name"]: e["timestamp"]
        for e in events
        if "stateEnteredEventDetails" in e
    }
    left = {
        e["stateExitedEventDetails"]["name"]: e["timestamp"]
        for e in events
        if "stateExitedEventDetails" in e
    }
    print({name: f"{(left[name] - entered[name]).total_seconds():.1f} s" for name in left})
    fleet = exits["DiscoverFleet"]["fleet"]
    assert fleet["discovery"]["count"] == migrations
    # and each account was discovered in its own iteration of the DiscoverTargets Map
    assert fleet["targetCount"] == len(BULK_ACCOUNTS)
    items, items_size = s3_json(runtime.clients(), fleet["bucket"], fleet["itemsKey"])
    assert len(items) == migrations and items_size > PAYLOAD_LIMIT
    # and the Map's results went ResultWriter -> S3 -> FleetReport: the manifest's files
    # hold every child
    details = exits["MigrateFleet"]["results"]["ResultWriterDetails"]
    manifest, _ = s3_json(runtime.clients(), details["Bucket"], details["Key"])
    written = [
        entry
        for listed in manifest["ResultFiles"]["SUCCEEDED"]
        for entry in s3_json(runtime.clients(), details["Bucket"], listed["Key"])[0]
    ]
    assert len(written) == migrations
    assert manifest["ResultFiles"]["FAILED"] == manifest["ResultFiles"]["PENDING"] == []
    # and every state's input and output, and the execution's, stayed far below 256 KiB
    sizes = {f"{e['id']} {field}": size for e in events for field, size in payloads(e)}
    assert any(field.endswith("ExecutionStarted.input") for field in sizes), sizes
    largest = max(sizes, key=lambda field: sizes[field])
    assert sizes[largest] < PAYLOAD_LIMIT // 16, (largest, sizes[largest])
    # and `report --fleet` reads the same files: one row per deployment, each with its error
    aws = ["--region", runtime.region, "--endpoint-url", runtime.endpoint]
    shown = runner.invoke(app, [*aws, "report", "--fleet", "fleet-2000", "-o", "json"])
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)["rows"]
    assert len(rows) == migrations
    assert {(r["outcome"], r["error"]) for r in rows} == {
        ("failed", "StepFunctions.AccessDeniedException")
    }
