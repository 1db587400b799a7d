"""The migration report: deployments by verdict and outcome, blockers by reason, savings."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from ipsync_migrator.failures import from_journal
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import Deployment, DiscoveryReport, Model, Schedule, Verdict
from ipsync_migrator.steps.nlb_identity import summary as identity_summary

MINUTES_PER_MONTH = 30 * 24 * 60
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}
RETIRED_STATES = frozenset({MigrationState.RETIRED, MigrationState.FINALIZED})
#: States whose journal's last error says why the migration did not finish.
UNFINISHED_STATES = frozenset({"rolled_back", "rollback_incomplete", "failed"})
#: Journal states in which discovery reports a deployment as migrated (discovery.py).
MIGRATED_STATES = frozenset(
    {
        MigrationState.IN_PROGRESS.value,
        MigrationState.CUT_OVER.value,
        MigrationState.RETIRED.value,
        MigrationState.FINALIZED.value,
        # A rollback that could not undo everything: production may be on either group.
        "rollback_incomplete",
    }
)
#: The plan key that marks a journal record as an orphan's cleanup (steps/orphan.py), not a
#: migration: discovery and the report keep its verdict `orphaned`.
ORPHAN_CLEANUP = "orphanCleanup"
NOT_STARTED = "not started"
SUCCEEDED = "SUCCEEDED"


class ReportRow(Model):
    id: str
    function: str
    verdict: str
    outcome: str
    invocations_per_month: int | None
    seconds_to_cutover: float | None = None
    blockers: list[str] = []
    #: Where the deployment lives (fleet reports; a single report's are the report's own).
    account_id: str | None = None
    region: str | None = None
    #: Why a fleet's child migration failed (its execution's error, or the journal's).
    error: str | None = None
    #: The NLBs' identity as recorded before the migration and checked after cutover and
    #: rollback (steps/nlb_identity.py), in one line.
    nlb_identity: str | None = None


class BlockerGroup(Model):
    code: str
    remediation: str
    deployments: list[str]


class Unreached(Model):
    """A fleet's account and region that could not be read: its deployments are unknown."""

    account_id: str
    region: str
    error: str
    message: str
    remediation: str = ""


class MigrationReport(Model):
    account: str
    region: str
    rows: list[ReportRow]
    by_verdict: dict[str, int]
    by_outcome: dict[str, int]
    blockers: list[BlockerGroup]
    invocations_retired_per_month: int
    #: The fleet execution's name (fleet reports only) and the accounts it could not read.
    fleet: str | None = None
    unreached: list[Unreached] = []


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


class _Builder:
    """Rows plus blockers grouped by code (with the first remediation seen for each code)."""

    def __init__(self) -> None:
        self.rows: list[ReportRow] = []
        self.groups: dict[str, list[str]] = defaultdict(list)
        self.remediation: dict[str, str] = {}

    def add(self, row: ReportRow, blockers: list[tuple[str, str]]) -> None:
        for code, remediation in blockers:
            self.groups[code].append(row.id)
            self.remediation.setdefault(code, remediation)
        self.rows.append(row.model_copy(update={"blockers": [code for code, _ in blockers]}))

    def report(self, account: str, region: str, **extra: Any) -> MigrationReport:
        retired_states = {s.value for s in RETIRED_STATES}
        return MigrationReport(
            account=account,
            region=region,
            rows=self.rows,
            by_verdict=_count(row.verdict for row in self.rows),
            by_outcome=_count(row.outcome for row in self.rows),
            blockers=[
                BlockerGroup(code=code, remediation=self.remediation[code], deployments=ids)
                for code, ids in sorted(self.groups.items())
            ],
            invocations_retired_per_month=sum(
                row.invocations_per_month or 0 for row in self.rows if row.outcome in retired_states
            ),
            **extra,
        )


def build_report(discovery: DiscoveryReport, records: list[MigrationRecord]) -> MigrationReport:
    """Join what discovery sees now with what the journal says happened."""
    journal = {r.migration_id: r for r in records}
    deployments: dict[str, Deployment] = {d.id: d for d in discovery.deployments}
    for record in records:
        # A migration changes what discovery sees (schedules disabled, function deleted):
        # the journal's pre-migration view of the deployment is the one to report on.
        if record.deployment:
            deployments[record.migration_id] = Deployment.model_validate(record.deployment)
    builder = _Builder()
    for deployment in sorted(deployments.values(), key=lambda d: d.id):
        entry = journal.get(deployment.id)
        # After cutover discovery reads the deployment as unused: the journal's view wins,
        # with the verdict discovery gives a migration the project took over.
        migrated = entry is not None and entry.state.value in MIGRATED_STATES
        started = entry is not None and entry.state != MigrationState.PLANNED
        blockers = [] if started else deployment.blockers
        if migrated and entry is not None and entry.plan.get(ORPHAN_CLEANUP):
            verdict = Verdict.ORPHANED.value
        elif migrated:
            verdict = Verdict.MIGRATED.value
        elif started:
            verdict = Verdict.MIGRATABLE.value
        else:
            verdict = deployment.verdict.value
        builder.add(
            ReportRow(
                id=deployment.id,
                function=deployment.function.name,
                verdict=verdict,
                outcome=entry.state.value if entry else NOT_STARTED,
                invocations_per_month=invocations_per_month(deployment.schedules),
                seconds_to_cutover=_seconds_to_cutover(entry),
                error=entry.last_error
                if entry and entry.state.value in UNFINISHED_STATES
                else None,
                nlb_identity=identity_summary(entry.nlb_identity) if entry else None,
            ),
            [(f.code.value, f.remediation) for f in blockers],
        )
    return builder.report(discovery.account, discovery.region)


def build_fleet_report(
    fleet: str,
    discovered: dict[str, Any],
    children: list[dict[str, Any]] | None,
    records: list[MigrationRecord],
) -> MigrationReport:
    """A fleet's report: what its discovery found in every account and region, joined with
    the journal (outcomes, timings, invocations) and, once done, its children's results.

    `discovered` is the fleet's DiscoverFleet output (items, skipped, errors), `children`
    the FleetReport's per-migration results (None while the fleet runs).
    """
    journal = {r.migration_id: r for r in records}
    results = {c["migrationId"]: c for c in children or []}
    builder = _Builder()
    for item in sorted(discovered.get("items", []), key=lambda i: i["migrationId"]):
        migration_id = item["migrationId"]
        entry = journal.get(migration_id)
        deployment = (
            Deployment.model_validate(entry.deployment) if entry and entry.deployment else None
        )
        result = results.get(migration_id, {})
        failed = result.get("status", SUCCEEDED) != SUCCEEDED
        outcome = entry.state.value if entry else ("failed" if failed else NOT_STARTED)
        error = (result.get("error") or "") if failed else ""
        if failed and entry and entry.last_error:
            error = entry.last_error
        target = item.get("target", {})
        builder.add(
            ReportRow(
                id=migration_id,
                function=deployment.function.name if deployment else "",
                verdict=Verdict.MIGRATED.value
                if entry and entry.state.value in MIGRATED_STATES
                else Verdict.MIGRATABLE.value,
                outcome=outcome,
                invocations_per_month=(
                    invocations_per_month(deployment.schedules) if deployment else None
                ),
                seconds_to_cutover=_seconds_to_cutover(entry),
                account_id=target.get("accountId"),
                region=target.get("region"),
                error=error or None,
            ),
            [],
        )
    for item in sorted(discovered.get("skipped", []), key=lambda i: i["migrationId"]):
        # Skipped because an earlier run migrated it: the journal says how far (as discovery).
        entry = journal.get(item["migrationId"])
        migrated = entry is not None and entry.state.value in MIGRATED_STATES
        deployment = (
            Deployment.model_validate(entry.deployment)
            if migrated and entry is not None and entry.deployment
            else None
        )
        builder.add(
            ReportRow(
                id=item["migrationId"],
                function=item.get("functionName", ""),
                verdict=Verdict.MIGRATED.value if migrated else item.get("verdict", ""),
                outcome=entry.state.value if migrated and entry is not None else NOT_STARTED,
                invocations_per_month=(
                    invocations_per_month(deployment.schedules) if deployment else None
                ),
                seconds_to_cutover=_seconds_to_cutover(entry) if migrated else None,
                account_id=item.get("accountId"),
                region=item.get("region"),
            ),
            []
            if migrated
            else [(b["code"], b.get("remediation", "")) for b in item.get("blockers", [])],
        )
    unreached = [
        Unreached(
            account_id=e["accountId"],
            region=e["region"],
            error=e.get("error", ""),
            message=e.get("message", ""),
            remediation=e.get("remediation", ""),
        )
        for e in discovered.get("errors", [])
    ]
    scope = sorted(
        {(r.account_id or "", r.region or "") for r in builder.rows}
        | {(u.account_id, u.region) for u in unreached}
    )
    accounts = sorted({a for a, _ in scope})
    regions = sorted({r for _, r in scope})
    return builder.report(", ".join(accounts), ", ".join(regions), fleet=fleet, unreached=unreached)


def title(report: MigrationReport) -> str:
    if report.fleet:
        return f"IP-sync fleet report: {report.fleet}"
    return f"IP-sync migration report: {report.account} / {report.region}"


def markdown(report: MigrationReport) -> str:
    fleet = report.fleet is not None
    where = "account / region | " if fleet else ""
    lines = [
        f"# {title(report)}",
        "",
        f"Legacy invocations retired: **{report.invocations_retired_per_month:,} per month**.",
        "",
        "Deployments by verdict: " + _counts_text(report.by_verdict) + ".",
        "Outcomes: " + _counts_text(report.by_outcome) + ".",
        "",
        f"| deployment | {where}function | verdict | outcome | invocations/month "
        "| start to cutover |",
        "|---|" + ("---|" if fleet else "") + "---|---|---|---:|---:|",
    ]
    for row in report.rows:
        cutover = f"{row.seconds_to_cutover:.0f} s" if row.seconds_to_cutover is not None else ""
        invocations = f"{row.invocations_per_month:,}" if row.invocations_per_month else ""
        place = f"{row.account_id or '-'} / {row.region or '-'} | " if fleet else ""
        outcome = f"{row.outcome}: {_cell(_error_text(row.error))}" if row.error else row.outcome
        lines.append(
            f"| {row.id} | {place}{row.function} | {row.verdict} | {outcome} | {invocations} "
            f"| {cutover} |"
        )
    identities = [(row.id, row.nlb_identity) for row in report.rows if row.nlb_identity]
    if identities:
        lines += ["", "## NLB identity (what clients see)", ""]
        lines += [f"- {mid}: {_cell(identity)}" for mid, identity in identities]
    lines += ["", "## Blockers", ""]
    for group in report.blockers:
        lines += [
            f"- **{group.code}** ({len(group.deployments)}): {', '.join(group.deployments)}",
            f"  - fix: {group.remediation}",
        ]
    if not report.blockers:
        lines.append("None.")
    if report.unreached:
        lines += ["", "## Accounts and regions not reached", ""]
        for miss in report.unreached:
            lines += [
                f"- **{miss.account_id} / {miss.region}**: {miss.error}: {miss.message}",
                f"  - fix: {miss.remediation}",
            ]
    return "\n".join(lines) + "\n"


def _error_text(error: str) -> str:
    """A failure as one line and its fix (the full payload is in the JSON report)."""
    failure = from_journal(error)
    if failure is None:
        return error
    return failure.headline() + (f" (fix: {failure.fix})" if failure.fix else "")


def _counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in counts.items()) or "none"


def _cell(text: str) -> str:
    """Text safe inside one markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


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
