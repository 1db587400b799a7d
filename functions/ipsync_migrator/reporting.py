"""The migration report: deployments by verdict and outcome, blockers by reason, savings."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import Deployment, DiscoveryReport, Model, Schedule

MINUTES_PER_MONTH = 30 * 24 * 60
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
RETIRED_STATES = frozenset({MigrationState.RETIRED, MigrationState.FINALIZED})


class ReportRow(Model):
    id: str
    function: str
    verdict: str
    outcome: str
    invocations_per_month: int | None
    seconds_to_cutover: float | None = None
    blockers: list[str] = []


class BlockerGroup(Model):
    code: str
    remediation: str
    deployments: list[str]


class MigrationReport(Model):
    account: str
    region: str
    rows: list[ReportRow]
    by_verdict: dict[str, int]
    by_outcome: dict[str, int]
    blockers: list[BlockerGroup]
    invocations_retired_per_month: int


def invocations_per_month(schedules: list[Schedule]) -> int | None:
    """Monthly invocations of the enabled rate schedules (None when there are cron ones)."""
    total = 0
    for schedule in schedules:
        if not schedule.enabled:
            continue
        match = _RATE.match(schedule.expression.strip())
        if match is None:
            return None
        minutes = int(match.group(1)) * _UNIT_MINUTES[match.group(2).rstrip("s")]
        total += MINUTES_PER_MONTH // minutes
    return total


def build_report(discovery: DiscoveryReport, records: list[MigrationRecord]) -> MigrationReport:
    """Join what discovery sees now with what the journal says happened."""
    journal = {r.migration_id: r for r in records}
    deployments: dict[str, Deployment] = {d.id: d for d in discovery.deployments}
    for record in records:
        # A migration changes what discovery sees (schedules disabled, function deleted):
        # the journal's pre-migration view of the deployment is the one to report on.
        if record.deployment:
            deployments[record.migration_id] = Deployment.model_validate(record.deployment)
    rows, groups = [], defaultdict(list)
    remediation: dict[str, str] = {}
    for deployment in sorted(deployments.values(), key=lambda d: d.id):
        entry = journal.get(deployment.id)
        # After cutover discovery reads the deployment as unused: the journal's view wins.
        migrated = entry is not None and entry.state != MigrationState.PLANNED
        verdict = "migratable" if migrated else deployment.verdict.value
        blockers = [] if migrated else deployment.blockers
        for finding in blockers:
            groups[finding.code.value].append(deployment.id)
            remediation.setdefault(finding.code.value, finding.remediation)
        snapshot_schedules = deployment.schedules
        rows.append(
            ReportRow(
                id=deployment.id,
                function=deployment.function.name,
                verdict=verdict,
                outcome=entry.state.value if entry else "not started",
                invocations_per_month=invocations_per_month(snapshot_schedules),
                seconds_to_cutover=_seconds_to_cutover(entry),
                blockers=[f.code.value for f in blockers],
            )
        )
    retired = sum(
        row.invocations_per_month or 0
        for row in rows
        if row.outcome in {s.value for s in RETIRED_STATES}
    )
    return MigrationReport(
        account=discovery.account,
        region=discovery.region,
        rows=rows,
        by_verdict=_count(row.verdict for row in rows),
        by_outcome=_count(row.outcome for row in rows),
        blockers=[
            BlockerGroup(code=code, remediation=remediation[code], deployments=ids)
            for code, ids in sorted(groups.items())
        ],
        invocations_retired_per_month=retired,
    )


def markdown(report: MigrationReport) -> str:
    lines = [
        f"# IP-sync migration report: {report.account} / {report.region}",
        "",
        f"Legacy invocations retired: **{report.invocations_retired_per_month:,} per month**.",
        "",
        "| deployment | function | verdict | outcome | invocations/month | start to cutover |",
        "|---|---|---|---|---:|---:|",
    ]
    for row in report.rows:
        cutover = f"{row.seconds_to_cutover:.0f} s" if row.seconds_to_cutover is not None else ""
        invocations = f"{row.invocations_per_month:,}" if row.invocations_per_month else ""
        lines.append(
            f"| {row.id} | {row.function} | {row.verdict} | {row.outcome} | {invocations} "
            f"| {cutover} |"
        )
    lines += ["", "## Blockers", ""]
    for group in report.blockers:
        lines += [
            f"- **{group.code}** ({len(group.deployments)}): {', '.join(group.deployments)}",
            f"  - fix: {group.remediation}",
        ]
    if not report.blockers:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return dict(sorted(counts.items()))


def _seconds_to_cutover(record: MigrationRecord | None) -> float | None:
    if record is None or "cutOver" not in record.timestamps:
        return None
    started = record.timestamps.get("started") or record.created_at
    delta = datetime.fromisoformat(record.timestamps["cutOver"]) - datetime.fromisoformat(started)
    return delta.total_seconds()
