"""Approval gates on the emulator: a gate's wait that times out is journaled as such."""

from __future__ import annotations

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import ConcurrentMigrationError, StepPreconditionError
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.steps.approval import (
    APPROVAL_TIMED_OUT_STEP,
    approval_timed_out,
    pending_approval,
    request_approval,
)
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.create_target_group import create_target_group
from ipsync_migrator.steps.cutover import cutover
from ipsync_migrator.steps.health import verify_bake
from ipsync_migrator.steps.preflight import preflight
from ipsync_migrator.steps.probe import attach_probe, release_probe
from ipsync_migrator.steps.retire import retire_legacy
from tests.integration.engine.conftest import FAST, snapshot
from tests.integration.engine.test_happy_path import OWNER, run_until_healthy


def retired(ctx: StepContext, demo: DemoEstate) -> str:
    """The shop deployment migrated and soft-retired; returns its migration id."""
    mid = str(preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"])
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    run_until_healthy(ctx, mid)
    cutover(ctx, mid, OWNER)
    release_probe(ctx, mid, OWNER)
    assert verify_bake(ctx, mid, OWNER)["gate"] == "passed"
    retire_legacy(ctx, mid, OWNER)
    return mid


def test_finalize_gate_that_times_out_leaves_the_migration_retired_and_says_so(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a retired migration waiting at its finalize gate
    mid = retired(ctx, demo)
    request_approval(ctx, mid, OWNER, "finalize", "token-1")
    before = snapshot(aws)

    # When the gate's wait times out after 60 s
    result = approval_timed_out(ctx, mid, OWNER, "finalize", 60)

    # Then the migration stays retired, production untouched, and the token is dropped
    record = ctx.journal.get(mid)
    assert record is not None and record.state == MigrationState.RETIRED
    assert snapshot(aws) == before
    assert record.approval is None
    with pytest.raises(StepPreconditionError, match="not waiting for an approval"):
        pending_approval(record)
    # and the record and its journal tell what happened and what to do next
    assert record.current_step == APPROVAL_TIMED_OUT_STEP
    assert record.notes[-1] == result["note"]
    assert "finalize approval timed out after 60 s" in result["note"]
    assert f"ipsync-migrator finalize {mid}" in result["note"]
    entry = ctx.journal.entries(mid)[-1]
    assert entry.step == APPROVAL_TIMED_OUT_STEP
    assert entry.after == {"gate": "finalize", "timedOutAfterSeconds": 60}


def test_a_timed_out_gate_of_another_run_is_refused(demo: DemoEstate, ctx: StepContext) -> None:
    # Given a migration driven by one run
    mid = str(preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"])
    request_approval(ctx, mid, OWNER, "cutover", "token-1")

    # When another run reports its gate timed out, Then it is refused and the gate stays
    with pytest.raises(ConcurrentMigrationError, match="now driven by"):
        approval_timed_out(ctx, mid, "another-run", "cutover", 60)
    record = ctx.journal.get(mid)
    assert record is not None and record.approval == {"gate": "cutover", "taskToken": "token-1"}
