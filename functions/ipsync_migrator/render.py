"""Human-readable views (rich) of reports and plans; JSON views are the models' own."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import DiscoveryReport, Finding, Plan, Severity, Verdict
from ipsync_migrator.reporting import MigrationReport, title

VERDICT_STYLE = {
    Verdict.MIGRATABLE: "bold green",
    Verdict.BLOCKED: "bold red",
    Verdict.ORPHANED: "bold yellow",
}
STATE_STYLE = {
    MigrationState.RETIRED: "green",
    MigrationState.FINALIZED: "bold green",
    MigrationState.CUT_OVER: "cyan",
    MigrationState.IN_PROGRESS: "cyan",
    MigrationState.ROLLED_BACK: "yellow",
    MigrationState.FAILED: "bold red",
}
OUTCOME_STYLE = {state.value: style for state, style in STATE_STYLE.items()}
SEVERITY_STYLE = {Severity.BLOCKER: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}


def discovery_table(report: DiscoveryReport) -> Group:
    """The discovery report as a table that fits 100 columns, then each blocker's fix."""
    table = Table(
        title=f"Legacy IP-sync deployments in {report.account} / {report.region}",
        title_justify="left",
        expand=False,
    )
    table.add_column("Id", overflow="fold", max_width=26)
    table.add_column("Function", overflow="fold", max_width=18)
    table.add_column("NLB listeners", overflow="fold", max_width=20)
    table.add_column("ALB:port", overflow="fold", max_width=14)
    table.add_column("Verdict", max_width=10)
    for deployment in report.deployments:
        listeners = ", ".join(
            f"{nlb.name} {li.protocol}:{li.port}"
            for nlb in deployment.network_load_balancers
            for li in nlb.listeners
        )
        alb = (
            f"{deployment.application_load_balancer_arn.split('/')[-2]}:{deployment.alb_port}"
            if deployment.application_load_balancer_arn
            else "-"
        )
        table.add_row(
            deployment.id,
            f"{deployment.function.name} ({deployment.function.variant.value})",
            listeners or "-",
            alb,
            Text(deployment.verdict.value, style=VERDICT_STYLE[deployment.verdict]),
        )
    parts: list[Any] = [table, _summary(report)]
    for deployment in report.deployments:
        notable = [f for f in deployment.findings if f.severity != Severity.INFO]
        if notable:
            parts.append(_findings_block(deployment.id, notable))
    return Group(*parts)


def plan_view(plan: Plan) -> Group:
    parts: list[Any] = [
        Text.assemble(
            ("Plan for ", "bold"),
            (plan.migration_id, "bold cyan"),
            ("  verdict: ", ""),
            (plan.verdict.value, VERDICT_STYLE[plan.verdict]),
        )
    ]
    if plan.blockers:
        parts.append(_findings_block("Blocked: nothing will change", plan.blockers))
        return Group(*parts)
    table = Table(show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("Step")
    table.add_column("Change", overflow="fold", max_width=70)
    for change in plan.changes:
        text = Text(f"{change.action.value.upper()} {change.resource_type}\n", style="bold")
        text.append(change.description)
        if change.before is not None:
            text.append(f"\nbefore: {_compact(change.before)}", style="red")
        if change.after is not None and change.resource_type.endswith("Listener"):
            text.append(f"\nafter:  {_compact(change.after)}", style="green")
        table.add_row(str(change.order), change.step, text)
    parts.append(table)
    if plan.attributes_lost:
        lost = ", ".join(f"{k}={v}" for k, v in plan.attributes_lost.items())
        parts.append(Text(f"Attributes lost: {lost}", style="yellow"))
    if plan.warnings:
        parts.append(_findings_block("Findings", plan.warnings))
    if plan.stacks:
        owned = ", ".join(f"{label}: {stack}" for label, stack in plan.stacks.items())
        parts.append(
            Text(
                f"CloudFormation owns {owned}: the next stack update reverts the migration "
                "unless the template gets this patch:",
                style="bold yellow",
            )
        )
        parts.append(Text(plan.template_patches.get("cloudformation", ""), style="dim"))
    return Group(*parts)


def _summary(report: DiscoveryReport) -> Text:
    counts = {v: sum(1 for d in report.deployments if d.verdict == v) for v in Verdict}
    text = Text(f"{len(report.deployments)} deployments: ")
    for index, (verdict, count) in enumerate(counts.items()):
        if index:
            text.append(", ")
        text.append(f"{count} {verdict.value}", style=VERDICT_STYLE[verdict])
    return text


def _findings_block(title: str, findings: list[Finding]) -> Panel:
    lines = Text()
    for index, finding in enumerate(findings):
        if index:
            lines.append("\n")
        lines.append(f"{finding.code.value}", style=SEVERITY_STYLE[finding.severity])
        lines.append(f" ({finding.severity.value}) {finding.message}")
        if finding.remediation:
            lines.append(f"\n  fix: {finding.remediation}", style="italic")
    return Panel(lines, title=title, title_align="left", width=100)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def make_console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, width=None if not stderr else 100)


def status_dict(record: MigrationRecord) -> dict[str, Any]:
    return {
        "migrationId": record.migration_id,
        "state": record.state.value,
        "currentStep": record.current_step,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "timestamps": record.timestamps,
        "lastError": record.last_error,
        "notes": record.notes,
        "newTargetGroupArn": record.new_target_group_arn,
    }


def status_table(records: list[MigrationRecord]) -> Table:
    table = Table(title="Migrations", title_justify="left")
    table.add_column("Id", overflow="fold", max_width=26)
    table.add_column("State")
    table.add_column("Step")
    table.add_column("Updated", max_width=19)
    table.add_column("Last error", overflow="fold", max_width=30)
    for record in records:
        table.add_row(
            record.migration_id,
            Text(record.state.value, style=STATE_STYLE.get(record.state, "")),
            record.current_step,
            record.updated_at[:19],
            record.last_error or "",
        )
    return table


def report_view(report: MigrationReport) -> Group:
    fleet = report.fleet is not None
    table = Table(title=title(report))
    table.add_column("Id", overflow="fold", max_width=26)
    if fleet:
        table.add_column("Account\nregion", no_wrap=True)
    table.add_column("Verdict")
    table.add_column("Outcome", overflow="fold")
    table.add_column("Invocations/mo", justify="right")
    table.add_column("To cutover", justify="right")
    for row in report.rows:
        place = [f"{row.account_id or '-'}\n{row.region or '-'}"] if fleet else []
        outcome = Text(row.outcome, OUTCOME_STYLE.get(row.outcome, ""))
        if row.error:
            outcome.append(f"\n{row.error}", style="red")
        table.add_row(
            row.id,
            *place,
            row.verdict,
            outcome,
            f"{row.invocations_per_month:,}" if row.invocations_per_month else "",
            f"{row.seconds_to_cutover:.0f} s" if row.seconds_to_cutover is not None else "",
        )
    parts: list[Any] = [
        table,
        Text(
            f"Legacy invocations retired: {report.invocations_retired_per_month:,} per month",
            style="bold green",
        ),
    ]
    for group in report.blockers:
        parts.append(
            Text.assemble(
                (f"{group.code}", "red"),
                f" ({len(group.deployments)}): {', '.join(group.deployments)}\n  fix: ",
                (group.remediation, "italic"),
            )
        )
    for miss in report.unreached:
        parts.append(
            Text.assemble(
                ("not reached ", "bold red"),
                f"{miss.account_id} / {miss.region}: {miss.error}: {miss.message}\n  fix: ",
                (miss.remediation, "italic"),
            )
        )
    return Group(*parts)
