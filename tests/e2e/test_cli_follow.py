"""Following migrations from the CLI on the local runtime: causes, re-attaching, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from ipsync_migrator.cli import app
from ipsync_migrator.local.realism import FaultRule
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment
from ipsync_migrator.operations import Service
from tests.e2e.conftest import wait_until

runner = CliRunner()
FAST = ["--poll-seconds", "1", "--bake-seconds", "0", "--drain-seconds", "0"]
FAST += ["--healthy-checks-required", "2", "--health-timeout-seconds", "60"]


def base(runtime: LocalRuntime) -> list[str]:
    return ["--region", runtime.region, "--endpoint-url", runtime.endpoint]


def test_a_failed_migration_shows_its_cause_in_wait_status_and_report(
    runtime: LocalRuntime, shop: Deployment
) -> None:
    # Given ELB refusing to change the production listener (the cutover)
    runtime.realism.add_fault(
        FaultRule(
            "elbv2",
            "ModifyListener",
            error_code="AccessDenied",
            message="injected fault",
            match={"ListenerArn": shop.network_load_balancers[0].listeners[0].arn},
            times=None,
        )
    )
    cause = "Cutover: AccessDeniedError: Access denied calling elasticloadbalancing:ModifyListener"

    # When the migration runs with --wait, and status and the report are asked afterwards
    waited = runner.invoke(app, [*base(runtime), "migrate", shop.id, *FAST, "--yes", "--wait"])
    status = runner.invoke(app, [*base(runtime), "status", shop.id])
    listing = runner.invoke(app, [*base(runtime), "status"])
    as_json = runner.invoke(app, [*base(runtime), "status", shop.id, "-o", "json"])
    report = runner.invoke(app, [*base(runtime), "report"])

    # Then --wait ends 1 with the failed step, the error, one line and the fix
    assert waited.exit_code == 1, waited.output
    assert f"{shop.id}: {cause}: injected fault" in waited.stdout
    assert "  fix: Grant the caller permission for elasticloadbalancing:ModifyListener" in (
        waited.stdout
    )
    # status ID says the same as label: value lines, with no traceback anywhere
    assert status.exit_code == 0, status.output
    assert "failed at: Cutover\n" in status.stdout
    assert "error: AccessDeniedError: Access denied calling elasticloadbalancing:" in status.stdout
    assert "fix: Grant the caller permission" in status.stdout
    for output in (waited.stdout, status.stdout, listing.stdout, report.stdout):
        assert (
            "stackTrace" not in output and 'File "' not in output and "errorMessage" not in output
        )
    assert "fix: Grant the caller permission" in listing.stdout
    assert "fix: Grant the caller permission" in report.stdout
    # and the JSON has it all: the execution, its console page, the options, the payload
    body = json.loads(as_json.stdout)
    assert body["failure"]["step"] == "Cutover"
    assert body["failure"]["error"] == "AccessDeniedError"
    assert body["failure"]["fix"].startswith("Grant the caller permission")
    assert body["execution"]["executionArn"].endswith(f":{shop.id}")
    assert body["execution"]["consoleUrl"].startswith("https://us-east-1.console.aws.amazon.com/")
    assert body["strategy"] == "probe" and body["options"]["healthyChecksRequired"] == 2
    assert "stackTrace" in body["lastError"]  # the full payload, for --output json only


def test_migrate_again_with_wait_re_attaches_and_finalize_twice_says_so(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given a migration started without --wait, its bake still running
    # (long enough that the second migrate, discovery and all, starts within it)
    slow = [*FAST[:2], "--bake-seconds", "12", "--drain-seconds", "0", *FAST[6:]]
    started = runner.invoke(app, [*base(runtime), "migrate", shop.id, *slow, "--yes"])
    assert started.exit_code == 0, started.output
    assert f"follow it: ipsync-migrator status {shop.id} --watch" in started.stdout
    wait_until(lambda: (r := service.journal.get(shop.id)) and r.state.value == "cut_over")

    # When the same migrate runs again with --wait
    again = runner.invoke(app, [*base(runtime), "migrate", shop.id, *slow, "--yes", "--wait"])

    # Then it follows the running execution to its end (without a terminal: a line per
    # change, with the phase), and exits 0 for the success
    assert again.exit_code == 0, again.output
    assert f"{shop.id}: already cut_over, running: arn:aws:states:" in again.stdout
    assert " left" in again.stdout and "SUCCEEDED retired" in again.stdout

    # and status --watch of the finished migration exits with its outcome at once
    watched = runner.invoke(app, [*base(runtime), "status", shop.id, "--watch"])
    assert watched.exit_code == 0, watched.output
    assert "state: retired" in watched.stdout

    # When it is finalized twice, the first time deleting the old IP group too
    first = runner.invoke(app, [*base(runtime), "finalize", shop.id, "--delete-target-group"])
    second = runner.invoke(app, [*base(runtime), "finalize", shop.id])

    # Then the old group is gone, and the second run says there is nothing left to do
    assert first.exit_code == 0, first.output
    assert f"deleted target group {shop.target_group_arn}" in first.stdout
    assert f"{shop.id}: finalized" in first.stdout
    groups = runtime.clients().client("elbv2").describe_target_groups()["TargetGroups"]
    assert shop.target_group_arn not in {g["TargetGroupArn"] for g in groups}
    assert second.exit_code == 0, second.output
    assert f"{shop.id}: already finalized" in second.stdout


def test_status_of_an_unknown_id_says_it_does_not_exist(runtime: LocalRuntime) -> None:
    result = runner.invoke(app, [*base(runtime), "status", "nonexistent-id"])

    assert result.exit_code == 3  # not found
    assert "No migration 'nonexistent-id' exists in the journal" in result.stderr
    assert "migrate ID" not in result.stderr and "Start it" not in result.stderr
    assert "fix: `ipsync-migrator status` lists the migrations" in result.stderr


def test_ctrl_c_leaves_the_execution_running_and_says_how_to_re_attach(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    # Given `migrate --wait` following a migration with a long bake, in its own process
    slow = [*FAST[:2], "--bake-seconds", "200", "--drain-seconds", "0", *FAST[6:]]
    cli = str(Path(sys.executable).with_name("ipsync-migrator"))  # the installed script
    command = [cli, *base(runtime), "migrate", shop.id]
    process = subprocess.Popen(
        [*command, *slow, "--yes", "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_until(
            lambda: (
                process.poll() is not None
                or ((r := service.journal.get(shop.id)) and r.state.value == "cut_over")
            )
        )
        assert process.poll() is None, process.communicate()
        time.sleep(1.5)  # at least one poll in the bake

        # When Ctrl-C reaches it
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()

    # Then it exits 130, says the execution goes on and how to follow it again
    assert process.returncode == 130, (stdout, stderr)
    assert "keep running in Step Functions; nothing was stopped" in stderr
    assert f"follow it: ipsync-migrator status {shop.id} --watch" in stderr
    assert "bake" in stdout and "left" in stdout  # the phase and time left, line by line
    latest = service.latest_execution(shop.id)
    assert latest is not None and latest["status"] == "RUNNING"


def test_without_a_terminal_to_confirm_on_migrate_says_pass_yes_and_starts_nothing(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    result = runner.invoke(app, [*base(runtime), "migrate", shop.id, *FAST], input="")

    assert result.exit_code == 2, result.output
    assert "error: There is no terminal to confirm on" in result.stderr
    assert "fix: Check the plans above, then pass --yes." in result.stderr
    assert service.latest_execution(shop.id) is None


def test_wait_with_jsonl_is_an_event_stream_for_automation(
    runtime: LocalRuntime, shop: Deployment
) -> None:
    # When a pipeline migrates with --wait --output jsonl
    result = runner.invoke(
        app, [*base(runtime), "migrate", shop.id, *FAST, "--yes", "--wait", "-o", "jsonl"]
    )
    listing = runner.invoke(app, [*base(runtime), "status", "-o", "jsonl"])

    # Then stdout holds only JSON events: the start, each change, the end; people's text
    # (the plan) is on stderr
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["started"] is True and events[0]["migrationId"] == shop.id
    changes = events[1:]
    assert {e["migrationId"] for e in changes} == {shop.id}
    assert "cut_over" in {e["state"] for e in changes} or "retired" in {e["state"] for e in changes}
    assert (changes[-1]["status"], changes[-1]["done"], changes[-1]["failure"]) == (
        "SUCCEEDED",
        True,
        None,
    )
    assert f"Plan for {shop.id}" in result.stderr
    # and status -o jsonl is one migration a line
    [record] = [json.loads(line) for line in listing.stdout.splitlines()]
    assert (record["migrationId"], record["state"]) == (shop.id, "retired")


def test_migrate_plan_applies_the_saved_plan_and_refuses_it_after_drift(
    runtime: LocalRuntime, service: Service, shop: Deployment, tmp_path: Path
) -> None:
    saved = tmp_path / "shop.plan.json"
    planned = runner.invoke(app, [*base(runtime), "plan", shop.id, "--out", str(saved)])
    assert planned.exit_code == 0, planned.output

    # Given someone changed the legacy group's health check since the plan was made
    runtime.clients().client("elbv2").modify_target_group(
        TargetGroupArn=shop.target_group_arn,
        HealthCheckProtocol="HTTP",
        HealthCheckPath="/healthz",
        Matcher={"HttpCode": "200"},
    )

    # When the saved plan is applied
    refused = runner.invoke(app, [*base(runtime), "migrate", "--plan", str(saved), *FAST, "--yes"])

    # Then nothing starts, and the error names the difference
    assert refused.exit_code == 2, refused.output
    assert "error: The account changed since the plan in" in refused.stderr
    assert 'healthCheck.path: planned "/", now "/healthz"' in refused.stderr
    assert "fix: Review the new plan" in refused.stderr
    assert service.latest_execution(shop.id) is None

    # When the plan is made again and applied
    again = runner.invoke(app, [*base(runtime), "plan", shop.id, "--out", str(saved)])
    applied = runner.invoke(
        app, [*base(runtime), "migrate", "--plan", str(saved), *FAST, "--yes", "--wait"]
    )

    # Then exactly that migration runs
    assert again.exit_code == 0 and applied.exit_code == 0, applied.output
    latest = service.latest_execution(shop.id)
    assert latest is not None and latest["status"] == "SUCCEEDED"
