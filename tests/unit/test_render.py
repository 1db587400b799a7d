"""What people read and copy: text is never markup, and ids, ARNs and states are never cut."""

from __future__ import annotations

import io

import pytest
from rich.console import RenderableType

from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.render import Column, SafeTable, make_console, status_detail, status_table

HOSTILE = "[/] [bold red]not bold[/] :smile: \x1b[31mred\x1b[0m \ud800"
EXECUTION_ARN = (
    "arn:aws:states:us-east-1:123456789012:execution:"
    "ipsync-migrator-MigrationStateMachine-EHSMCK9OKY43:shop-ip-tg-f28870e9"
)


def rendered(renderable: RenderableType, width: int) -> str:
    buffer = io.StringIO()
    make_console(file=buffer, width=width).print(renderable)
    return buffer.getvalue()


def rolled_back(reason: str, migration_id: str = "shop-ip-tg-f28870e9") -> MigrationRecord:
    return MigrationRecord(
        migration_id=migration_id,
        state=MigrationState.ROLLED_BACK,
        current_step="rollback",
        last_error=reason,
        notes=[HOSTILE],
    )


def test_journal_text_with_markup_and_escapes_prints_as_text() -> None:
    # Given a rollback reason and a note with markup, an emoji code, ANSI escapes and a lone
    # surrogate (a rollback reason is free text from whoever asked for it)
    record = rolled_back(f"RollbackRequested: {HOSTILE}")

    # When status shows the table and the one migration
    table = rendered(status_table([record]), 120)
    detail = rendered(status_detail(record, None, None), 120)

    # Then the text is there as typed, and nothing reaches the terminal as a control sequence
    for output in (table, detail):
        assert "[/] [bold red]not bold[/] :smile:" in output
        assert "\x1b" not in output and "\\x1b[31mred" in output
        assert "\\ud800" in output


@pytest.mark.parametrize("width", [60, 80, 200])
def test_ids_and_states_are_never_wrapped_or_cut(width: int) -> None:
    ids = [f"{name}-ip-tg-{n:08x}" for n, name in enumerate(["shop", "payments", "media"])]
    records = [rolled_back("AccessDeniedError: denied", i) for i in ids]

    output = rendered(status_table(records), width)

    lines = output.splitlines()
    for migration_id in ids:
        assert any(migration_id in line for line in lines), (width, output)
    assert any("rolled_back" in line for line in lines)
    assert "…" not in output


def test_a_table_too_narrow_for_its_kept_columns_prints_its_rows_as_lines() -> None:
    table = SafeTable("Executions", [Column("Id", keep=True), Column("Execution", keep=True)])
    table.add_row("shop-ip-tg-f28870e9", EXECUTION_ARN)

    narrow = rendered(table, 80)
    wide = rendered(table, 200)

    assert "shop-ip-tg-f28870e9\n" in narrow and f"  Execution: {EXECUTION_ARN}\n" in narrow
    assert f"│ {EXECUTION_ARN} │" in wide


def test_the_execution_arn_and_failure_are_each_one_whole_line_at_60_columns() -> None:
    from ipsync_migrator.failures import from_journal

    record = rolled_back(
        'AccessDeniedError: {"errorMessage": "Access denied calling elasticloadbalancing:'
        'ModifyListener: injected fault fix: Grant the caller permission.", '
        '"errorType": "AccessDeniedError"}'
    )
    failure = from_journal(record.last_error)
    execution = {"executionArn": EXECUTION_ARN, "status": "FAILED"}

    output = rendered(status_detail(record, execution, failure), 60)

    assert f"execution: {EXECUTION_ARN} (FAILED)\n" in output
    assert (
        "error: AccessDeniedError: Access denied calling "
        "elasticloadbalancing:ModifyListener: injected fault\n"
    ) in output
    assert "fix: Grant the caller permission.\n" in output


def test_a_fleet_status_prints_aws_messages_as_text_and_names_whole() -> None:
    from ipsync_migrator.render_fleet import fleet_status_view

    name = "shop-ip-tg-f28870e9-1a2b3c4d"
    status = {
        "name": "fleet-0123456789ab-20261202T010203Z",
        "status": "FAILED",
        "error": "States.Runtime",
        "cause": "[/] broke",
        "report": {
            "summary": "1 migration(s): 0 succeeded, 1 failed",
            "children": [
                {
                    "migrationId": name,
                    "accountId": "123456789012",
                    "region": "us-east-1",
                    "status": "FAILED",
                    "error": "MigrationRolledBack",
                    "cause": '{"errorMessage": "denied [/] fix: Grant it.", "errorType": "X"}',
                }
            ],
            "skipped": [],
            "errors": [
                {
                    "accountId": "210987654321",
                    "region": "eu-west-1",
                    "error": "AccessDenied",
                    "message": "[bold]no[/bold] role",
                    "remediation": "Deploy member-role.yaml.",
                }
            ],
        },
    }

    output = rendered(fleet_status_view(status), 60)

    assert "Fleet fleet-0123456789ab-20261202T010203Z: FAILED" in output
    assert "States.Runtime: [/] broke" in output
    assert f"{name}: X: denied [/]\n  fix: Grant it." in output
    assert "210987654321 / eu-west-1: AccessDenied: [bold]no[/bold] role" in output
    assert any(name in line for line in output.splitlines() if line.startswith(("│", name)))


def incomplete_rollback(migration_id: str = "shop-ip-tg-f28870e9") -> MigrationRecord:
    listener = (
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/net/shop-nlb/"
        "0123456789abcdef/fedcba9876543210"
    )
    return MigrationRecord(
        migration_id=migration_id,
        state=MigrationState.ROLLBACK_INCOMPLETE,
        current_step="rollback",
        last_error="rollback incomplete: see the report",
        rollback_report={
            "endedAt": "2026-12-02T08:00:00.000+00:00",
            "complete": False,
            "leftovers": [
                f"production stays on the new group (listeners {listener}): the old group did "
                "not prove healthy",
                "newTargetGroup: not undone (Access denied [/] calling DeleteTargetGroup)",
            ],
            "problems": [
                {
                    "part": "newTargetGroup",
                    "error": "AccessDenied",
                    "message": "Access denied [/] calling DeleteTargetGroup",
                    "fix": "Grant the caller elasticloadbalancing:DeleteTargetGroup.",
                }
            ],
        },
    )


@pytest.mark.parametrize("width", [60, 200])
def test_status_shows_what_an_incomplete_rollback_left_whole(width: int) -> None:
    # Given a rollback that could not move production back nor delete the new group
    record = incomplete_rollback()
    [first, second] = record.rollback_report["leftovers"]

    # When status shows the one migration and the list
    detail = rendered(status_detail(record, None, None), width)
    listing = rendered(status_table([record]), width)

    # Then each leftover is one whole line (its listener ARN too), and the failed part's fix
    assert "rollback: incomplete (ended 2026-12-02T08:00:00.000+00:00)\n" in detail
    for output in (detail, listing):
        assert f"  left: {first}\n" in output and f"  left: {second}\n" in output
        assert "  fix (newTargetGroup): Grant the caller elasticloadbalancing:Delete" in output
    assert f"{record.migration_id}: rollback: incomplete" in listing


def test_every_migration_state_has_a_style() -> None:
    from ipsync_migrator.render import STATE_STYLE

    assert set(STATE_STYLE) == {state.value for state in MigrationState}
