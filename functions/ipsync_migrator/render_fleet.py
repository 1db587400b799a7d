"""Human-readable views (rich) of a fleet: the file before it starts, its status and report.

As in render.py: text from files, AWS and the journal is `plain` text, and the columns that
hold names, ids, accounts and statuses are never wrapped or cut.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from ipsync_migrator.failures import from_execution, from_journal
from ipsync_migrator.fleet import FleetSpec
from ipsync_migrator.render import Column, SafeTable, failure_lines, plain

STATUS_STYLE = {
    "SUCCEEDED": "bold green",
    "RUNNING": "cyan",
    "FAILED": "bold red",
    "TIMED_OUT": "bold red",
    "ABORTED": "yellow",
}


def fleet_spec_view(spec: FleetSpec, path: str) -> Group:
    """What `migrate --fleet FILE` is about to start."""
    table = SafeTable(
        f"Fleet {path}", [Column("Account", keep=True), Column("Regions"), Column("Role")]
    )
    for target in spec.targets:
        role = target.role_arn or "hub credentials, or the member role (MemberRoleName)"
        external = " + external id" if target.external_id else ""
        table.add_row(
            plain(target.account_id), plain(", ".join(target.regions)), plain(role + external)
        )
    settings = plain(
        f"{spec.max_concurrency} migration(s) at a time; up to "
        f"{spec.tolerated_failure_percentage:g}% may fail; strategy "
        f"{spec.options.strategy.value}. Only deployments discovered as migratable start."
    )
    return Group(table, settings)


def fleet_status_view(status: dict[str, Any]) -> Group:
    """`status --fleet`: the execution, then (when done) the report's tables."""
    style = STATUS_STYLE.get(status["status"], "")
    parts: list[Any] = [
        Text.assemble(
            ("Fleet ", "bold"), plain(status["name"]), ": ", plain(status["status"], style)
        )
    ]
    failure = from_execution(status.get("error"), status.get("cause"))
    if failure is not None:
        parts.extend(failure_lines(failure))
    report = status.get("report")
    if report is None:
        parts.append(_children_so_far(status["children"]))
        return Group(*parts)
    parts.append(plain(report["summary"]))
    parts.extend(_children(report["children"]))
    if report["skipped"]:
        parts.append(_skipped(report["skipped"]))
    if report["errors"]:
        parts.append(_errors(report["errors"]))
    return Group(*parts)


def _children_so_far(children: list[dict[str, Any]]) -> SafeTable:
    table = SafeTable(
        "Child migrations so far", [Column("Execution", keep=True), Column("Status", keep=True)]
    )
    for child in children:
        table.add_row(
            plain(child["name"]), plain(child["status"], STATUS_STYLE.get(child["status"], ""))
        )
    return table


def _children(children: list[dict[str, Any]]) -> list[Any]:
    """The children's table, then each failed child's step, error, line and fix."""
    table = SafeTable(
        "Migrations",
        [
            Column("Migration", keep=True),
            Column("Account / region", keep=True),
            Column("Status", keep=True),
            Column("Error"),
        ],
    )
    failures: list[Text] = []
    for child in children:
        failure = (
            from_execution(child.get("error"), child.get("cause")) if child.get("error") else None
        )
        if failure is not None and not failure.message:
            failure = from_journal(child.get("cause")) or failure
        table.add_row(
            plain(child["migrationId"]),
            plain(f"{child.get('accountId') or '-'} / {child.get('region') or '-'}"),
            plain(child["status"], STATUS_STYLE.get(child["status"], "")),
            plain(failure.error if failure else ""),
        )
        if failure is not None:
            failures.extend(failure_lines(failure, child["migrationId"]))
    return [table, *failures]


def _skipped(skipped: list[dict[str, Any]]) -> Group:
    table = SafeTable(
        "Not started (blocked or orphaned)",
        [
            Column("Deployment", keep=True),
            Column("Account / region", keep=True),
            Column("Verdict", keep=True),
        ],
    )
    reasons: list[Text] = []
    for item in skipped:
        table.add_row(
            plain(item["migrationId"]),
            plain(f"{item.get('accountId', '-')} / {item.get('region', '-')}"),
            plain(item.get("verdict", "")),
        )
        for blocker in item.get("blockers", []):
            reasons.append(
                plain(f"{item['migrationId']}: {blocker['code']}: {blocker.get('message', '')}")
            )
            if blocker.get("remediation"):
                reasons.append(Text.assemble("  fix: ", plain(blocker["remediation"], "italic")))
    return Group(table, *reasons)


def _errors(errors: list[dict[str, Any]]) -> Group:
    table = SafeTable(
        "Accounts and regions not reached",
        [Column("Account / region", keep=True), Column("Error", keep=True)],
    )
    lines: list[Text] = []
    for error in errors:
        place = f"{error['accountId']} / {error['region']}"
        table.add_row(plain(place), plain(error["error"]))
        lines.append(plain(f"{place}: {error['error']}: {error['message']}"))
        if error.get("remediation"):
            lines.append(Text.assemble("  fix: ", plain(error["remediation"], "italic")))
    return Group(table, *lines)
