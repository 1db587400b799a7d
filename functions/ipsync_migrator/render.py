"""Human-readable views (rich) of reports and plans; JSON views are the models' own.

Two rules keep what people copy intact. Text from users, AWS or the journal is text, never
markup (`plain` makes it a Text, which rich never parses, and escapes terminal control
characters). And nothing copyable is wrapped or cut: the consoles soft-wrap (a long line
stays one line; the terminal folds it on screen, and copying it gives it back whole), table
columns holding ids, ARNs or states never wrap, and a table too narrow for them prints its
rows as lines instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from ipsync_migrator.failures import Failure, from_journal
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import DiscoveryReport, Finding, Plan, Severity, Verdict
from ipsync_migrator.reporting import MigrationReport, title
from ipsync_migrator.steps.nlb_identity import summary as identity_summary

VERDICT_STYLE = {
    Verdict.MIGRATABLE: "bold green",
    Verdict.BLOCKED: "bold red",
    Verdict.ORPHANED: "bold yellow",
    Verdict.POSSIBLE: "yellow",
    Verdict.MIGRATED: "bold cyan",
}
STATE_STYLE = {
    MigrationState.PLANNED.value: "dim",
    MigrationState.RETIRED.value: "green",
    MigrationState.FINALIZED.value: "bold green",
    MigrationState.CUT_OVER.value: "cyan",
    MigrationState.IN_PROGRESS.value: "cyan",
    MigrationState.ROLLED_BACK.value: "yellow",
    MigrationState.ROLLBACK_INCOMPLETE.value: "bold red",
    MigrationState.FAILED.value: "bold red",
}
OUTCOME_STYLE = STATE_STYLE
SEVERITY_STYLE = {Severity.BLOCKER: "red", Severity.WARNING: "yellow", Severity.INFO: "dim"}
#: C0 and C1 control characters but newline and tab: an escape sequence in a tag or a
#: journal entry must not reach the terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(value: object, style: str = "") -> Text:
    """User, AWS or journal text as text: never markup, control characters and lone
    surrogates shown escaped (they would drive the terminal, or fail to encode)."""
    text = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return Text(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text), style=style)


def make_console(
    stderr: bool = False, file: IO[str] | None = None, width: int | None = None
) -> Console:
    """A console that never wraps a line itself: a long id, ARN or patch line stays one line,
    which the terminal may fold on screen. Print other people's text as `plain(...)` (or
    `rich.markup.escape`d): a string is read as markup."""
    return Console(stderr=stderr, file=file, width=width, highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class Column:
    header: str
    #: Never wrapped or cut (ids, ARNs, states, numbers); the other columns fold first.
    keep: bool = False
    justify: str = "left"


class SafeTable:
    """A table whose `keep` columns are never wrapped or cut: when the width cannot hold
    them, each row prints as lines (`value` of the first column, then `Header: value`)."""

    #: The narrowest a folding column is allowed to get before the table gives up.
    MIN_FOLD_WIDTH = 6

    def __init__(self, title: str, columns: Sequence[Column], show_lines: bool = False):
        self.title = title
        self.columns = list(columns)
        self.rows: list[list[Text]] = []
        self.show_lines = show_lines

    def add_row(self, *cells: Text | str) -> None:
        self.rows.append([c if isinstance(c, Text) else plain(c) for c in cells])

    def needed_width(self) -> int:
        """Columns' padding and borders, every kept column whole, the others narrow."""
        width = 3 * len(self.columns) + 1
        for index, column in enumerate(self.columns):
            if column.keep:
                cells = [Text(column.header), *(row[index] for row in self.rows)]
                width += max(
                    max((len(line) for line in c.plain.split("\n")), default=0) for c in cells
                )
            else:
                width += self.MIN_FOLD_WIDTH
        return width

    def table(self) -> Table:
        table = Table(title=plain(self.title), title_justify="left", show_lines=self.show_lines)
        for column in self.columns:
            table.add_column(
                column.header,
                no_wrap=column.keep,
                overflow="fold",
                justify=column.justify,  # type: ignore[arg-type]
            )
        for row in self.rows:
            table.add_row(*row)
        return table

    def lines(self) -> Group:
        parts: list[Any] = [plain(self.title, "bold")]
        for row in self.rows:
            parts.append(row[0])
            for column, cell in zip(self.columns[1:], row[1:], strict=True):
                if cell.plain:
                    parts.append(Text.assemble(f"  {column.header}: ", cell))
        return Group(*parts)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.table() if self.needed_width() <= options.max_width else self.lines()


# --- discovery and plans -----------------------------------------------------------------


def discovery_table(report: DiscoveryReport) -> Group:
    """The discovery report as a table (ids whole), then each deployment's notable findings."""
    table = SafeTable(
        f"Legacy IP-sync deployments in {report.account} / {report.region}",
        [
            Column("Id", keep=True),
            Column("Function"),
            Column("NLB listeners"),
            Column("ALB:port"),
            Column("Verdict", keep=True),
        ],
    )
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
            plain(deployment.id),
            plain(f"{deployment.function.name} ({deployment.function.variant.value})"),
            plain(listeners or "-"),
            plain(alb),
            plain(
                deployment.verdict.value
                + (f" ({deployment.migration.state})" if deployment.migration else ""),
                VERDICT_STYLE[deployment.verdict],
            ),
        )
    parts: list[Any] = [table, _summary(report)]
    for deployment in report.deployments:
        notable = [f for f in deployment.findings if f.severity != Severity.INFO]
        if notable:
            parts.append(_findings_block(deployment.id, notable))
    return Group(*parts)


def plan_view(plan: Plan) -> Group:
    """The plan: its changes (before/after below the table, whole), findings, and the
    CloudFormation patch when a stack owns the resources (every line whole, valid YAML)."""
    parts: list[Any] = [
        Text.assemble(
            ("Plan for ", "bold"),
            plain(plan.migration_id, "bold cyan"),
            ("  verdict: ", ""),
            plain(plan.verdict.value, VERDICT_STYLE[plan.verdict]),
        )
    ]
    if plan.blockers:
        parts.append(_findings_block("Blocked: nothing will change", plan.blockers))
        return Group(*parts)
    table = SafeTable(
        "", [Column("#", keep=True, justify="right"), Column("Step", keep=True), Column("Change")]
    )
    table.show_lines = True
    states: list[Text] = []
    for change in plan.changes:
        text = Text(f"{change.action.value.upper()} {change.resource_type}\n", style="bold")
        text.append_text(plain(change.description))
        table.add_row(plain(change.order), plain(change.step), text)
        if change.before is not None:
            states.append(plain(f"#{change.order} before: {_compact(change.before)}", "red"))
        if change.after is not None and change.resource_type.endswith("Listener"):
            states.append(plain(f"#{change.order} after:  {_compact(change.after)}", "green"))
    parts += [table, *states]
    if plan.attributes_lost:
        lost = ", ".join(f"{k}={v}" for k, v in plan.attributes_lost.items())
        parts.append(plain(f"Attributes lost: {lost}", "yellow"))
    if plan.warnings:
        parts.append(_findings_block("Findings", plan.warnings))
    if plan.stacks:
        parts.append(
            plain(
                f"CloudFormation owns {_stacks_text(plan.stacks)}: the next stack update reverts "
                "the migration unless the template gets this patch:",
                "bold yellow",
            )
        )
        parts.append(plain(plan.template_patches.get("cloudformation", "")))
    return Group(*parts)


def _stacks_text(stacks: dict[str, str]) -> str:
    """`stack api-edge (function, listener)`: each stack once, with what it owns."""
    owned: dict[str, list[str]] = {}
    for label, stack in stacks.items():
        owned.setdefault(stack, []).append(label)
    return ", ".join(f"stack {stack} ({', '.join(labels)})" for stack, labels in owned.items())


def _summary(report: DiscoveryReport) -> Text:
    counts = {v: sum(1 for d in report.deployments if d.verdict == v) for v in Verdict}
    # The later verdicts only when they occur: most estates have neither.
    counts = {v: n for v, n in counts.items() if n or v not in (Verdict.POSSIBLE, Verdict.MIGRATED)}
    text = Text(f"{len(report.deployments)} deployments: ")
    for index, (verdict, count) in enumerate(counts.items()):
        if index:
            text.append(", ")
        text.append(f"{count} {verdict.value}", style=VERDICT_STYLE[verdict])
    return text


def _findings_block(heading: str, findings: list[Finding]) -> Group:
    lines: list[Text] = [plain(heading, "bold")]
    for finding in findings:
        lines.append(
            Text.assemble(
                "  ",
                plain(finding.code.value, SEVERITY_STYLE[finding.severity]),
                f" ({finding.severity.value}) ",
                plain(finding.message),
            )
        )
        if finding.remediation:
            lines.append(Text.assemble("    fix: ", plain(finding.remediation, "italic")))
    return Group(*lines)


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


# --- status ------------------------------------------------------------------------------


def status_dict(
    record: MigrationRecord, execution: dict[str, Any] | None = None, console_url: str = ""
) -> dict[str, Any]:
    """`status --output json`: the record, its failure (one line and the fix; the full
    payload under lastError), and with `execution` its ARN, status and a console link."""
    failure = from_journal(record.last_error)
    options = record.options or {}
    body: dict[str, Any] = {
        "migrationId": record.migration_id,
        "state": record.state.value,
        "currentStep": record.current_step,
        "strategy": options.get("strategy"),
        "options": options,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "timestamps": record.timestamps,
        "failure": failure.to_json_dict() if failure else None,
        "lastError": record.last_error,
        "approval": _approval(record),
        "approvals": record.approvals,
        "rollback": record.rollback_report or None,
        "notes": record.notes,
        "newTargetGroupArn": record.new_target_group_arn,
        "nlbIdentity": record.nlb_identity,
    }
    if execution is not None:
        body["execution"] = {
            "executionArn": execution.get("executionArn"),
            "status": execution.get("status"),
            "consoleUrl": console_url,
        }
    return body


def _approval(record: MigrationRecord) -> dict[str, Any] | None:
    """The pending gate, or who approved (never the task token)."""
    approval = record.approval or {}
    shown = {k: v for k, v in approval.items() if k != "taskToken"}
    return shown or None


def status_table(records: list[MigrationRecord]) -> Group:
    """Every migration on one row (ids whole), then each failure's line and fix."""
    table = SafeTable(
        "Migrations",
        [
            Column("Id", keep=True),
            Column("State", keep=True),
            Column("Step", keep=True),
            Column("Updated", keep=True),
            Column("Error"),
        ],
    )
    failures: list[tuple[str, Failure]] = []
    for record in records:
        failure = from_journal(record.last_error) if record.state.value in _FAILED else None
        if failure:
            failures.append((record.migration_id, failure))
        table.add_row(
            plain(record.migration_id),
            plain(record.state.value, STATE_STYLE.get(record.state.value, "")),
            plain(record.current_step or "-"),
            plain(record.updated_at[:19]),
            plain(failure.error or "see below" if failure else ""),
        )
    parts: list[Any] = [table]
    for migration_id, failure in failures:
        parts.extend(failure_lines(failure, migration_id))
    for record in records:
        if record.state == MigrationState.ROLLBACK_INCOMPLETE:
            parts.extend(rollback_lines(record, record.migration_id))
    return Group(*parts)


#: States whose last error says why the migration did not finish.
_FAILED = frozenset({"rolled_back", "rollback_incomplete", "failed"})


def failure_lines(failure: Failure, label: str = "") -> list[Text]:
    """`label: step: Error: message` and `  fix: ...`, each one line."""
    head = Text.assemble(
        plain(f"{label}: ", "bold") if label else "", plain(failure.headline(), "red")
    )
    lines = [head]
    if failure.fix:
        lines.append(Text.assemble("  fix: ", plain(failure.fix, "italic")))
    return lines


def rollback_lines(record: MigrationRecord, label: str = "") -> list[Text]:
    """What the journal's rollback report says is left: `rollback: incomplete`, then each
    leftover (`left: ...`) and the fix of each part that failed."""
    report = record.rollback_report or {}
    leftovers, problems = report.get("leftovers") or [], report.get("problems") or []
    if not leftovers and not problems:
        return []
    state = "incomplete" if record.state == MigrationState.ROLLBACK_INCOMPLETE else "ended"
    ended = f" (ended {report['endedAt']})" if report.get("endedAt") else ""
    lines = [
        Text.assemble(
            plain(f"{label}: ", "bold") if label else "",
            ("rollback: ", "bold"),
            plain(f"{state}{ended}", STATE_STYLE[record.state.value]),
        )
    ]
    # A failed part is a leftover too ("part: not undone (message)"): its fix is added here.
    lines += [Text.assemble(("  left: ", "bold"), plain(item)) for item in leftovers]
    for problem in problems:
        if problem.get("fix"):
            lines.append(
                Text.assemble(
                    plain(f"  fix ({problem.get('part', '?')}): ", "bold"),
                    plain(problem["fix"], "italic"),
                )
            )
    return lines


def status_detail(
    record: MigrationRecord,
    execution: dict[str, Any] | None,
    failure: Failure | None,
    phase: str = "",
) -> Group:
    """`status ID`: one migration as `label: value` lines (every value whole)."""
    rows: list[tuple[str, str]] = [
        ("migration", record.migration_id),
        ("state", record.state.value),
        ("step", record.current_step or "-"),
    ]
    if phase:
        rows.append(("phase", phase))
    rows.append(("strategy", str((record.options or {}).get("strategy", "-"))))
    rows.append(("updated", record.updated_at))
    if execution is not None:
        rows.append(("execution", f"{execution.get('executionArn')} ({execution.get('status')})"))
    if record.new_target_group_arn:
        rows.append(("new target group", record.new_target_group_arn))
    if record.nlb_identity:
        rows.append(("NLB identity", identity_summary(record.nlb_identity)))
    approval = _approval(record)
    if approval:
        rows.append(("approval", ", ".join(f"{k} {v}" for k, v in approval.items())))
    for given in record.approvals:
        rows.append((f"approved before {given['gate']}", f"by {given['by']} at {given['at']}"))
    for name, at in record.timestamps.items():
        rows.append((name, at))
    lines: list[Any] = [
        Text.assemble(plain(f"{label}: ", "bold"), plain(value)) for label, value in rows
    ]
    if failure is not None:
        if failure.step:
            lines.append(Text.assemble(("failed at: ", "bold"), plain(failure.step, "red")))
        lines.append(
            Text.assemble(
                ("error: ", "bold"),
                plain(f"{failure.error}: " if failure.error else "", "red"),
                plain(failure.message),
            )
        )
        if failure.fix:
            lines.append(Text.assemble(("fix: ", "bold"), plain(failure.fix, "italic")))
    lines.extend(rollback_lines(record))
    for note in record.notes:
        lines.append(Text.assemble(("note: ", "bold"), plain(note)))
    patches = record.plan.get("templatePatches", {})
    stacks = record.plan.get("stacks") or {}
    if stacks and patches.get("cloudformation"):
        lines.append(plain(f"Template patch for {_stacks_text(stacks)}:", "bold yellow"))
        lines.append(plain(patches["cloudformation"]))
    return Group(*lines)


# --- the report --------------------------------------------------------------------------


def report_view(report: MigrationReport) -> Group:
    fleet = report.fleet is not None
    columns = [Column("Id", keep=True)]
    if fleet:
        columns.append(Column("Account / region", keep=True))
    columns += [
        Column("Verdict", keep=True),
        Column("Outcome", keep=True),
        Column("Invocations/mo", justify="right"),
        Column("To cutover", justify="right"),
    ]
    table = SafeTable(title(report), columns)
    errors: list[Text] = []
    for row in report.rows:
        place = [plain(f"{row.account_id or '-'} / {row.region or '-'}")] if fleet else []
        table.add_row(
            plain(row.id),
            *place,
            plain(row.verdict),
            plain(row.outcome, OUTCOME_STYLE.get(row.outcome, "")),
            plain(f"{row.invocations_per_month:,}" if row.invocations_per_month else ""),
            plain(f"{row.seconds_to_cutover:.0f} s" if row.seconds_to_cutover is not None else ""),
        )
        if row.error:
            failure = from_journal(row.error)
            if failure:
                errors.extend(failure_lines(failure, row.id))
        if row.nlb_identity:
            errors.append(
                Text.assemble(plain(f"{row.id} NLB identity: ", "bold"), plain(row.nlb_identity))
            )
    parts: list[Any] = [
        table,
        *errors,
        Text(
            f"Legacy invocations retired: {report.invocations_retired_per_month:,} per month",
            style="bold green",
        ),
    ]
    for group in report.blockers:
        parts.append(
            Text.assemble(
                plain(group.code, "red"),
                plain(f" ({len(group.deployments)}): {', '.join(group.deployments)}"),
            )
        )
        parts.append(Text.assemble("  fix: ", plain(group.remediation, "italic")))
    for miss in report.unreached:
        parts.append(
            Text.assemble(
                ("not reached ", "bold red"),
                plain(f"{miss.account_id} / {miss.region}: {miss.error}: {miss.message}"),
            )
        )
        parts.append(Text.assemble("  fix: ", plain(miss.remediation, "italic")))
    return Group(*parts)


def lines_of(values: Iterable[str]) -> Group:
    return Group(*(plain(v) for v in values))
