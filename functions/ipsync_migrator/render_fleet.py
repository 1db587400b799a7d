"""Human-readable views (rich) of a fleet: the file before it starts, its status and report."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ipsync_migrator.fleet import FleetSpec

STATUS_STYLE = {
    "SUCCEEDED": "bold green",
    "RUNNING": "cyan",
    "FAILED": "bold red",
    "TIMED_OUT": "bold red",
    "ABORTED": "yellow",
}


def fleet_spec_view(spec: FleetSpec, path: str) -> Group:
    """What `migrate --fleet FILE` is about to start."""
    table = Table(title=f"Fleet {path}", title_justify="left")
    table.add_column("Account")
    table.add_column("Regions")
    table.add_column("Role", overflow="fold")
    for target in spec.targets:
        role = target.role_arn or "hub credentials, or the member role (MemberRoleName)"
        external = " + external id" if target.external_id else ""
        table.add_row(target.account_id, ", ".join(target.regions), role + external)
    settings = Text(
        f"{spec.max_concurrency} migration(s) at a time; up to "
        f"{spec.tolerated_failure_percentage:g}% may fail; strategy "
        f"{spec.options.strategy.value}. Only deployments discovered as migratable start."
    )
    return Group(table, settings)


def fleet_status_view(status: dict[str, Any]) -> Group:
    """`status --fleet`: the execution, then (when done) the report's tables."""
    style = STATUS_STYLE.get(status["status"], "")
    parts: list[Any] = [
        Text.assemble(("Fleet ", "bold"), status["name"], ": ", (status["status"], style))
    ]
    if status.get("error"):
        parts.append(Text(f"{status['error']}: {status.get('cause') or ''}", style="red"))
    report = status.get("report")
    if report is None:
        parts.append(_children_so_far(status["children"]))
        return Group(*parts)
    parts.append(Text(report["summary"]))
    parts.append(_children(report["children"]))
    if report["skipped"]:
        parts.append(_skipped(report["skipped"]))
    if report["errors"]:
        parts.append(_errors(report["errors"]))
    return Group(*parts)


def _children_so_far(children: list[dict[str, Any]]) -> Table:
    table = Table(title="Child migrations so far", title_justify="left")
    table.add_column("Execution", overflow="fold")
    table.add_column("Status")
    for child in children:
        table.add_row(child["name"], Text(child["status"], STATUS_STYLE.get(child["status"], "")))
    return table


def _children(children: list[dict[str, Any]]) -> Table:
    table = Table(title="Migrations", title_justify="left")
    table.add_column("Migration", overflow="fold", max_width=30)
    table.add_column("Account / region")
    table.add_column("Status")
    table.add_column("Error", overflow="fold")
    for child in children:
        error = f"{child['error']}: {child['cause']}" if child.get("error") else ""
        table.add_row(
            child["migrationId"],
            f"{child.get('accountId') or '-'} / {child.get('region') or '-'}",
            Text(child["status"], STATUS_STYLE.get(child["status"], "")),
            error,
        )
    return table


def _skipped(skipped: list[dict[str, Any]]) -> Table:
    table = Table(title="Not started (blocked or orphaned)", title_justify="left")
    table.add_column("Deployment", overflow="fold", max_width=30)
    table.add_column("Account / region")
    table.add_column("Verdict")
    table.add_column("Reasons and fixes", overflow="fold")
    for item in skipped:
        reasons = "\n".join(
            f"{b['code']}: {b.get('message', '')} Fix: {b.get('remediation', '')}"
            for b in item.get("blockers", [])
        )
        table.add_row(
            item["migrationId"],
            f"{item.get('accountId', '-')} / {item.get('region', '-')}",
            item.get("verdict", ""),
            reasons,
        )
    return table


def _errors(errors: list[dict[str, Any]]) -> Table:
    table = Table(title="Accounts and regions not reached", title_justify="left")
    table.add_column("Account / region")
    table.add_column("Error", overflow="fold")
    table.add_column("Fix", overflow="fold")
    for error in errors:
        table.add_row(
            f"{error['accountId']} / {error['region']}",
            f"{error['error']}: {error['message']}",
            error.get("remediation", ""),
        )
    return table
