"""The report: invocations retired, outcomes from the journal, blockers grouped."""

from __future__ import annotations

from ipsync_migrator.discovery import build_deployment
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import DiscoveryReport, Schedule
from ipsync_migrator.reporting import (
    build_fleet_report,
    build_report,
    invocations_per_month,
    markdown,
)
from tests.unit import facts as f


def test_invocations_per_month_follow_the_rate() -> None:
    every_minute = Schedule(rule="a", expression="rate(1 minute)", enabled=True)
    every_five = Schedule(rule="b", expression="rate(5 minutes)", enabled=True)
    disabled = Schedule(rule="c", expression="rate(1 minute)", enabled=False)
    assert invocations_per_month([every_minute]) == 43_200
    assert invocations_per_month([every_five, disabled]) == 8_640
    assert (
        invocations_per_month([Schedule(rule="d", expression="cron(0 * * * ? *)", enabled=True)])
        is None
    )


def test_report_joins_discovery_with_the_journal() -> None:
    migrated = build_deployment(f.facts())
    blocked = build_deployment(f.facts(alb=None, alb_listeners=[])).model_copy(
        update={"id": "blocked-1"}
    )
    record = MigrationRecord(
        migration_id=migrated.id,
        state=MigrationState.RETIRED,
        deployment=migrated.to_json_dict(),
        timestamps={"started": "2026-11-21T10:00:00+00:00", "cutOver": "2026-11-21T10:02:30+00:00"},
    )
    # After cutover discovery no longer sees the migrated deployment as migratable.
    discovery = DiscoveryReport(account="123456789012", region="us-east-1", deployments=[blocked])

    report = build_report(discovery, [record])

    rows = {row.id: row for row in report.rows}
    # and its verdict is the one discovery gives it now: migrated
    assert rows[migrated.id].outcome == "retired" and rows[migrated.id].verdict == "migrated"
    assert rows[migrated.id].seconds_to_cutover == 150
    assert rows["blocked-1"].outcome == "not started"
    assert report.invocations_retired_per_month == 43_200
    assert [g.code for g in report.blockers] == ["ALB_NOT_FOUND"]
    assert report.by_outcome == {"not started": 1, "retired": 1}
    text = markdown(report)
    assert "43,200 per month" in text and "ALB_NOT_FOUND" in text


def test_fleet_report_joins_discovery_children_and_journal() -> None:
    # Given a fleet's discovery: two migratable items in two accounts, one blocked deployment,
    # one unreachable account; one child retired (journaled), one failed before journaling
    migrated = build_deployment(f.facts())
    item = {
        "migrationId": migrated.id,
        "target": {"accountId": "111111111111", "region": "eu-west-1"},
    }
    lost = {"migrationId": "lost-1", "target": {"accountId": "222222222222", "region": "us-east-1"}}
    blocked = {
        "migrationId": "blocked-1",
        "accountId": "222222222222",
        "region": "us-east-1",
        "functionName": "old-sync",
        "verdict": "blocked",
        "blockers": [{"code": "CROSS_VPC", "message": "m", "remediation": "keep the Lambda"}],
    }
    unreachable = {
        "accountId": "333333333333",
        "region": "us-east-1",
        "error": "AccessDenied",
        "message": "Cannot assume role",
        "remediation": "deploy member-role.yaml",
    }
    discovered = {"items": [item, lost], "skipped": [blocked], "errors": [unreachable]}
    children = [
        {"migrationId": migrated.id, "status": "SUCCEEDED", "error": None},
        {"migrationId": "lost-1", "status": "FAILED", "error": "States.TaskFailed"},
    ]
    record = MigrationRecord(
        migration_id=migrated.id,
        state=MigrationState.RETIRED,
        deployment=migrated.to_json_dict(),
        timestamps={"started": "2026-11-21T10:00:00+00:00", "cutOver": "2026-11-21T10:01:00+00:00"},
    )

    report = build_fleet_report("fleet-a", discovered, children, [record])

    # Then every deployment is a row in its account, with its outcome
    rows = {row.id: row for row in report.rows}
    assert (rows[migrated.id].outcome, rows[migrated.id].account_id) == ("retired", "111111111111")
    assert rows[migrated.id].seconds_to_cutover == 60
    assert rows[migrated.id].function == migrated.function.name
    assert (rows["lost-1"].outcome, rows["lost-1"].error) == ("failed", "States.TaskFailed")
    assert (rows["blocked-1"].verdict, rows["blocked-1"].blockers) == ("blocked", ["CROSS_VPC"])
    assert rows[migrated.id].verdict == "migrated" and rows["lost-1"].verdict == "migratable"
    assert report.by_outcome == {"failed": 1, "not started": 1, "retired": 1}
    assert report.invocations_retired_per_month == 43_200
    assert [(g.code, g.remediation) for g in report.blockers] == [("CROSS_VPC", "keep the Lambda")]
    assert [u.account_id for u in report.unreached] == ["333333333333"]
    assert report.account == "111111111111, 222222222222, 333333333333"
    # and the markdown says which fleet, where each row is, and what was not reached
    text = markdown(report)
    assert text.startswith("# IP-sync fleet report: fleet-a")
    assert (
        "| lost-1 | 222222222222 / us-east-1 |  | migratable | failed: States.TaskFailed |" in text
    )
    assert "**333333333333 / us-east-1**: AccessDenied: Cannot assume role" in text


def test_a_running_fleet_reports_children_without_results_as_not_started() -> None:
    discovered = {"items": [{"migrationId": "m-1", "target": {}}], "skipped": [], "errors": []}
    report = build_fleet_report("fleet-b", discovered, None, [])
    assert [(r.id, r.outcome, r.error) for r in report.rows] == [("m-1", "not started", None)]


def test_a_fleet_skipping_a_deployment_an_earlier_run_migrated_reports_its_outcome() -> None:
    # Given a fleet whose discovery skipped a deployment an earlier fleet retired (discovery
    # says migrated, no blockers), and the journal's record of that migration
    migrated = build_deployment(f.facts())
    skipped = {
        "migrationId": migrated.id,
        "accountId": "111111111111",
        "region": "eu-west-1",
        "functionName": migrated.function.name,
        "verdict": "migrated",
        "blockers": [],
    }
    record = MigrationRecord(
        migration_id=migrated.id,
        state=MigrationState.RETIRED,
        deployment=migrated.to_json_dict(),
        timestamps={"started": "2026-11-21T10:00:00+00:00", "cutOver": "2026-11-21T10:01:00+00:00"},
    )
    discovered = {"items": [], "skipped": [skipped], "errors": []}

    report = build_fleet_report("fleet-c", discovered, [], [record])

    # Then it is a retired migration, not "blocked, not started", and its savings count
    [row] = report.rows
    assert (row.verdict, row.outcome, row.blockers) == ("migrated", "retired", [])
    assert report.invocations_retired_per_month == 43_200
    assert report.blockers == []
