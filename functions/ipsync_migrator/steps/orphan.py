"""Clean up an orphaned deployment: its target group is gone, its function syncs into nothing.

Nothing is migrated, so there is no state machine run: the CLI drives these with the caller's
credentials and the stack's journal, with the migration's safety. `retire_orphan` snapshots
the function, its rules, targets and permission, then disables the rules and sets reserved
concurrency to 0 (soft, journaled with the intent first); `undo_orphan` restores the snapshot;
`delete_orphan`, later, re-checks that the group is still gone and the function still has its
fingerprint, then deletes rule targets, rules, permission and function (retire.finalize).
No event is published: an orphan's cleanup is not a migration a replay could roll back.
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.errors import InvalidInputError, StepPreconditionError
from ipsync_migrator.journal import MigrationRecord, MigrationState, load, utc_now
from ipsync_migrator.models import Deployment, Verdict
from ipsync_migrator.planning import Step
from ipsync_migrator.reporting import ORPHAN_CLEANUP
from ipsync_migrator.steps.context import StepContext, deployment_of
from ipsync_migrator.steps.legacy_switch import disable_legacy, restore_legacy
from ipsync_migrator.steps.retire import _snapshot, finalize, recheck_fingerprint


class Silent:
    """The publisher of an orphan's cleanup: nothing goes to the bus."""

    def publish(self, detail_type: str, detail: dict[str, Any]) -> None:
        return None


def retire_orphan(ctx: StepContext, deployment: Deployment, owner: str) -> dict[str, Any]:
    """Snapshot, then disable the orphan's schedule rules and set its concurrency to 0."""
    if deployment.verdict != Verdict.ORPHANED:
        raise InvalidInputError(
            f"Deployment '{deployment.id}' is {deployment.verdict.value}, not orphaned: its "
            "target group exists. Nothing was changed.",
            "cleanup-orphan is only for deployments whose target group is gone; see "
            f"`ipsync-migrator plan {deployment.id}`.",
        )
    existing = ctx.journal.get(deployment.id)
    if existing is not None and existing.state in (
        MigrationState.RETIRED,
        MigrationState.FINALIZED,
    ):
        return {"already": existing.state.value}
    _refuse_if_group_exists(ctx, deployment)
    recheck_fingerprint(ctx, deployment)
    base = existing or MigrationRecord(migration_id=deployment.id)
    epoch = base.epoch + 1
    at = utc_now()
    record = base.model_copy(
        update={
            "state": MigrationState.IN_PROGRESS,
            "owner": owner,
            "epoch": epoch,
            "runs": [*base.runs, {"owner": owner, "epoch": epoch, "at": at}],
            "plan": {ORPHAN_CLEANUP: True},
            "deployment": deployment.to_json_dict(),
            "legacy_snapshot": _snapshot(ctx, deployment),
            "timestamps": {"started": at},
        }
    )
    # The snapshot is journaled with the intent, before the first change.
    record = ctx.begin(record, Step.RETIRE_LEGACY)
    assert record.legacy_snapshot is not None  # taken above, journaled by begin()
    after = disable_legacy(ctx, deployment, record.legacy_snapshot)
    ctx.complete(
        record,
        Step.RETIRE_LEGACY,
        before=record.legacy_snapshot,
        after=after,
        state=MigrationState.RETIRED,
        detail_type=None,
    )
    return after


def undo_orphan(ctx: StepContext, migration_id: str) -> dict[str, Any]:
    """Restore a retired orphan as the snapshot found it (rules' states, concurrency)."""
    record = _orphan_record(ctx, migration_id)
    if record.state != MigrationState.RETIRED or record.legacy_snapshot is None:
        raise StepPreconditionError(
            f"Orphan '{migration_id}' is {record.state.value}, not retired: there is nothing "
            "to restore"
            + (" (its function was deleted)." if record.state == MigrationState.FINALIZED else "."),
            "Run `ipsync-migrator discover` to see it as it is now.",
        )
    snapshot = record.legacy_snapshot
    record = ctx.begin(record, Step.ROLLBACK)
    restored = restore_legacy(ctx, deployment_of(record), snapshot)
    ctx.complete(
        record,
        Step.ROLLBACK,
        before={"reservedConcurrency": 0},
        after=restored,
        state=MigrationState.ROLLED_BACK,
        detail_type=None,
    )
    return restored


def delete_orphan(ctx: StepContext, migration_id: str) -> dict[str, Any]:
    """Delete a retired orphan's rule targets, rules, permission and function."""
    record = _orphan_record(ctx, migration_id)
    if record.state == MigrationState.FINALIZED:
        return {"alreadyFinalized": True}
    _refuse_if_group_exists(ctx, deployment_of(record))
    return finalize(ctx, migration_id, delete_target_group=False, delete_state=False)


def _orphan_record(ctx: StepContext, migration_id: str) -> MigrationRecord:
    record = load(ctx.journal, migration_id)
    if not record.plan.get(ORPHAN_CLEANUP):
        raise InvalidInputError(
            f"'{migration_id}' is a migration, not an orphan's cleanup. Nothing was changed.",
            f"Use `ipsync-migrator rollback {migration_id}` or `finalize {migration_id}`.",
        )
    return record


def _refuse_if_group_exists(ctx: StepContext, deployment: Deployment) -> None:
    if ctx.elb.target_group(deployment.target_group_arn) is not None:
        raise StepPreconditionError(
            f"Target group {deployment.target_group_arn} exists (again): "
            f"{deployment.function.name} is not an orphan. Nothing was changed.",
            "Run `ipsync-migrator discover`: if it is migratable, migrate it instead.",
        )
