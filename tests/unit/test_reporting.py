"""The report: invocations retired, outcomes from the journal, blockers grouped."""

from __future__ import annotations

from ipsync_migrator.discovery import build_deployment
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import DiscoveryReport, Schedule
from ipsync_migrator.reporting import build_report, invocations_per_month, markdown
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
    assert rows[migrated.id].outcome == "retired" and rows[migrated.id].verdict == "migratable"
    assert rows[migrated.id].seconds_to_cutover == 150
    assert rows["blocked-1"].outcome == "not started"
    assert report.invocations_retired_per_month == 43_200
    assert [g.code for g in report.blockers] == ["ALB_NOT_FOUND"]
    assert report.by_outcome == {"not started": 1, "retired": 1}
    text = markdown(report)
    assert "43,200 per month" in text and "ALB_NOT_FOUND" in text
