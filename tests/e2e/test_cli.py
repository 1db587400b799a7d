"""The CLI against the local runtime, as a platform engineer types it."""

from __future__ import annotations

import json
import threading
from typing import Any

from typer.testing import CliRunner

from ipsync_migrator.cli import app
from ipsync_migrator.discovery import discover
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.realism import FaultRule
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment, Verdict
from ipsync_migrator.operations import Service
from ipsync_migrator.steps.rollback import ROLLBACK_HOLDER_PREFIX
from tests.e2e.conftest import wait_until

runner = CliRunner()
FAST = ["--poll-seconds", "1", "--bake-seconds", "0", "--drain-seconds", "0"]


def test_migrate_status_report_and_replay_rollback(runtime: LocalRuntime) -> None:
    base = ["--region", "us-east-1", "--endpoint-url", runtime.endpoint]
    assert runtime.demo is not None
    shop = next(
        d
        for d in discover(runtime.clients()).deployments
        if d.target_group_arn == runtime.demo.shop_tg and d.verdict == Verdict.MIGRATABLE
    )

    migrated = runner.invoke(app, [*base, "migrate", shop.id, *FAST, "--yes", "--wait"])
    assert migrated.exit_code == 0, migrated.output
    assert "SUCCEEDED" in migrated.stdout

    again = runner.invoke(app, [*base, "migrate", shop.id, *FAST, "--yes"])
    assert again.exit_code == 0, again.output

    status = runner.invoke(app, [*base, "status", "--output", "json"])
    assert status.exit_code == 0, status.output
    [record] = json.loads(status.stdout)
    assert (record["migrationId"], record["state"]) == (shop.id, "retired")
    # The NLB's clients see the same NLB: its EIPs and endpoint service, checked after cutover
    detail = runner.invoke(app, [*base, "status", shop.id], env={"COLUMNS": "400"})
    assert detail.exit_code == 0, detail.output
    [identity] = [line for line in detail.stdout.splitlines() if "NLB identity" in line]
    assert "2 Elastic IP(s), 1 endpoint service(s); after cutover unchanged" in identity

    report = runner.invoke(app, [*base, "report", "--output", "markdown"])
    assert report.exit_code == 0, report.output
    assert "43,200 per month" in report.stdout
    assert f"- {shop.id}: 1 NLB(s): DNS name" in report.stdout

    replay = runner.invoke(app, [*base, "replay-rollback", "--since", "10m", "--wait", "--yes"])
    assert replay.exit_code == 0, replay.output
    assert f"{shop.id}: rolled_back" in replay.stdout


def test_migrate_skips_blocked_deployments_and_needs_a_choice(runtime: LocalRuntime) -> None:
    base = ["--endpoint-url", runtime.endpoint]
    blocked = next(
        d for d in discover(runtime.clients()).deployments if d.verdict == Verdict.BLOCKED
    )

    result = runner.invoke(app, [*base, "migrate", blocked.id, "--yes"])
    assert result.exit_code == 2
    assert f"skipped {blocked.id}" in result.stderr
    assert "Nothing to migrate" in result.stderr

    nothing = runner.invoke(app, [*base, "migrate"])
    assert nothing.exit_code == 2 and "--all" in nothing.stderr


def test_commands_against_a_missing_stack_say_how_to_get_one(runtime: LocalRuntime) -> None:
    result = runner.invoke(
        app, ["--endpoint-url", runtime.endpoint, "status", "--stack-name", "nope"]
    )
    assert result.exit_code == 3  # not found: an AWS or setup error
    assert "No ipsync-migrator stack named 'nope'" in result.stderr
    assert "sam deploy" in result.stderr


def test_a_fresh_machine_without_credentials_can_use_the_local_runtime(
    runtime: LocalRuntime,
) -> None:
    # Given no AWS credentials at all (a fresh machine), and the runtime's loopback endpoint
    no_credentials = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}
    base = ["--region", runtime.region, "--endpoint-url", runtime.endpoint]

    # When discover and status run against it
    found = runner.invoke(app, [*base, "discover", "-o", "json"], env=no_credentials)
    status = runner.invoke(app, [*base, "status"], env=no_credentials)

    # Then they work: an emulator on 127.0.0.1 takes any credentials
    assert found.exit_code == 0, found.output
    assert {d["verdict"] for d in json.loads(found.stdout)["deployments"]} >= {"migratable"}
    assert status.exit_code == 0, status.output


def migrated_shop(runtime: LocalRuntime, base: list[str]) -> Deployment:
    """The demo's shop deployment, migrated with `migrate --wait` (as discovered before)."""
    assert runtime.demo is not None
    shop = next(
        d
        for d in discover(runtime.clients()).deployments
        if d.target_group_arn == runtime.demo.shop_tg
    )
    migrated = runner.invoke(app, [*base, "migrate", shop.id, *FAST, "--yes", "--wait"])
    assert migrated.exit_code == 0, migrated.output
    return shop


def test_a_rollback_that_leaves_something_exits_4_and_lists_it_until_forced(
    runtime: LocalRuntime,
) -> None:
    # Given shop migrated, and a person who since pointed its listener at a group of their own
    base = ["--endpoint-url", runtime.endpoint]
    clients = runtime.clients()
    shop = migrated_shop(runtime, base)
    [listener] = shop.network_load_balancers[0].listeners
    elb = clients.client("elbv2")
    [legacy] = elb.describe_target_groups(TargetGroupArns=[shop.target_group_arn])["TargetGroups"]
    theirs = elb.create_target_group(
        Name="theirs", Protocol="TCP", Port=80, VpcId=legacy["VpcId"], TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_listener(
        ListenerArn=listener.arn, DefaultActions=[{"Type": "forward", "TargetGroupArn": theirs}]
    )

    # When it is rolled back, Then it exits 4 and names the listener it left, and how to force it
    left = runner.invoke(app, [*base, "rollback", shop.id], env={"COLUMNS": "400"})
    assert left.exit_code == 4, left.output
    assert "rollback_incomplete" in left.stdout
    [leftover] = [line for line in left.stdout.splitlines() if line.startswith("  left: ")]
    assert listener.arn in leftover and "--force" in leftover

    # When forced, Then the listener goes back to the old group and the rollback exits 0
    forced = runner.invoke(app, [*base, "rollback", shop.id, "--force"])
    assert forced.exit_code == 0, forced.output
    [action] = elb.describe_listeners(ListenerArns=[listener.arn])["Listeners"][0]["DefaultActions"]
    assert action["TargetGroupArn"] == shop.target_group_arn


def test_a_rollback_another_rollback_took_over_exits_5_and_says_who(
    runtime: LocalRuntime,
) -> None:
    # Given shop migrated, and its old group's targets reading `initial` (a rollback waits)
    base = ["--endpoint-url", runtime.endpoint]
    service = Service.connect(runtime.clients(), runtime.stack_name)
    shop = migrated_shop(runtime, base)
    runtime.realism.add_fault(
        FaultRule("elbv2", "DescribeTargetHealth", target_health="initial", times=None)
    )

    # When a CLI rollback waits on the old group, and another rollback takes the migration over
    outcome: dict[str, Any] = {}
    waiting = threading.Thread(
        target=lambda: outcome.update(
            first=runner.invoke(app, [*base, "rollback", shop.id], env={"COLUMNS": "400"})
        )
    )
    waiting.start()
    first = wait_until(
        lambda: (
            (r := service.journal.get(shop.id))
            and r.owner.startswith(ROLLBACK_HOLDER_PREFIX)
            and r.rollback_report.get("waitingFor")
            and r.owner
        )
    )

    def until_the_first_gives_up(_: float) -> None:
        # The other rollback took over and waits too; once the first has answered, it heals.
        waiting.join(timeout=120)
        runtime.realism.clear_faults()

    second = service.rollback(shop.id, sleep=until_the_first_gives_up)

    # Then the first exits 5 naming the rollback that took over, and that one ends it
    assert second["state"] == MigrationState.ROLLED_BACK.value
    record = service.journal.get(shop.id)
    assert record is not None and record.owner != first
    result = outcome["first"]
    assert result.exit_code == 5, result.output
    assert "another rollback took the migration over" in result.stdout
    assert record.owner in result.stdout
