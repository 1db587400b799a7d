"""Step `rollback`: undo a migration from whatever point the journal says it reached.

Order: legacy sync back on, old group refilled with the ALB's current IPs, listeners
restored exactly, probe removed, new group deleted. Every part checks before it acts, so
rollback is idempotent and safe to run twice or concurrently with itself.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ipsync_migrator.aws.executions import is_execution_arn, stop_execution
from ipsync_migrator.errors import (
    ConcurrentMigrationError,
    ListenerChangedError,
    NotFoundError,
    StepPreconditionError,
)
from ipsync_migrator.events import DetailType
from ipsync_migrator.journal import MigrationRecord, MigrationState, utc_now
from ipsync_migrator.models import TargetGroupSpec
from ipsync_migrator.naming import TAG_MIGRATION_ID
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.context import StepContext, deployment_of
from ipsync_migrator.steps.cutover import canonical_actions
from ipsync_migrator.steps.probe import remove_probes

ATTEMPTS = 5
#: The owner a rollback from the CLI or a replay holds the migration by.
ROLLBACK_HOLDER_PREFIX = "rollback:"
#: A begun step older than this is no longer running: the longest function timeout is 60 s
#: (template.yaml), and Step Functions retries a timed-out step as a new invocation.
IN_FLIGHT_SECONDS = 300


def rollback(
    ctx: StepContext, migration_id: str, reason: str = "", owner: str | None = None
) -> dict[str, Any]:
    """Restore the pre-migration state exactly; a no-op when already rolled back.

    With `owner` (the state machine's Rollback for its own run) it undoes only while that
    run holds the migration. Without (the CLI, a replay) it first takes the migration over:
    a new owner and epoch, in a conditional write, then it stops the execution that drove it,
    so no later step of that run acts. A write that lost a race re-reads the record and
    applies the undo again from the fresh one.
    """
    holder = owner or f"{ROLLBACK_HOLDER_PREFIX}{uuid.uuid4()}"
    stopped: str | None = None
    for _ in range(ATTEMPTS):
        record = ctx.load(migration_id)
        if record.state == MigrationState.ROLLED_BACK:
            # Already done, or a concurrent run (a duplicated replayed event) recorded it first.
            return {"alreadyRolledBack": True, "state": record.state.value}
        _refuse_finalized(record)
        if record.owner != holder:
            if owner is not None:
                return {"superseded": True, "by": record.owner, "state": record.state.value}
            previous = record.owner
            try:
                record = _take_over(ctx, record, holder)
            except ConcurrentMigrationError:
                continue  # someone wrote meanwhile: re-read and decide again
            if stopped is None and is_execution_arn(previous):
                stop_execution(ctx.hub, previous, f"rolled back: {reason}"[:1000])
                stopped = previous
        report = undo(ctx, record)
        record.probe_listeners = []
        record.last_error = reason or record.last_error
        try:
            ctx.complete(
                record,
                Step.ROLLBACK,
                before={"state": record.state.value, "reason": reason},
                after=report,
                state=MigrationState.ROLLED_BACK,
                detail_type=DetailType.ROLLED_BACK,
            )
        except ConcurrentMigrationError:
            continue  # another writer saved meanwhile: re-read, undo again from that record
        return {**report, "state": MigrationState.ROLLED_BACK.value, "stoppedExecution": stopped}
    raise ConcurrentMigrationError(
        f"Migration '{migration_id}' kept changing during rollback.",
        "Run `ipsync-migrator rollback` again once other runs have stopped.",
    )


def undo(ctx: StepContext, record: MigrationRecord) -> dict[str, Any]:
    """Every part of the undo, in order; each checks before it acts (idempotent)."""
    return {
        "legacy": _restore_legacy(ctx, record),
        "oldTargetGroup": _refill_old_group(ctx, record),
        "listeners": _restore_listeners(ctx, record),
        "probes": remove_probes(ctx, record),
        "newTargetGroup": _delete_new_group(ctx, record),
    }


def reapply_undo_if_rolled_back(ctx: StepContext, migration_id: str, step: str) -> None:
    """A step fenced after its writes: if a rollback took over, its undo goes on top of them."""
    if step == Step.ROLLBACK:
        return
    record = ctx.load(migration_id)
    in_flight = record.in_flight or {}
    if record.state == MigrationState.ROLLED_BACK or in_flight.get("step") == Step.ROLLBACK:
        undo(ctx, record)


def _take_over(ctx: StepContext, record: MigrationRecord, holder: str) -> MigrationRecord:
    """The migration's new owner and epoch, in one conditional write (before any AWS call)."""
    in_flight = record.in_flight or {}
    if in_flight.get("step") == Step.FINALIZE and _age_seconds(in_flight.get("at")) < (
        IN_FLIGHT_SECONDS
    ):
        raise StepPreconditionError(
            f"Migration '{record.migration_id}' is being finalized (deleting the legacy "
            "function): it cannot be rolled back now. Nothing was changed.",
            "Wait for finalize to end (`ipsync-migrator status ID`); once finalized, redeploy "
            "the legacy function from the journal's snapshot and point the listeners back.",
        )
    if not record.runs and record.owner:
        record.runs.append({"owner": record.owner, "epoch": record.epoch})
    record.owner = holder
    record.epoch += 1
    record.runs.append({"owner": holder, "epoch": record.epoch, "at": utc_now()})
    return ctx.begin(record, Step.ROLLBACK)  # the intent, in the same conditional write


def _refuse_finalized(record: MigrationRecord) -> None:
    if record.state == MigrationState.FINALIZED:
        raise StepPreconditionError(
            f"Migration '{record.migration_id}' is finalized: the legacy function is deleted, "
            "so it cannot be rolled back automatically.",
            "Redeploy the legacy function (its snapshot is in the journal), then point the "
            "listeners back at the old target group.",
        )


def _age_seconds(iso: str | None) -> float:
    if not iso:
        return float("inf")
    return (datetime.fromisoformat(utc_now()) - datetime.fromisoformat(iso)).total_seconds()


def _restore_legacy(ctx: StepContext, record: MigrationRecord) -> dict[str, Any]:
    snapshot = record.legacy_snapshot
    if snapshot is None:
        return {"changed": False}
    name = deployment_of(record).function.name
    for rule in snapshot["rules"]:
        if rule.get("State") == "ENABLED":
            ctx.schedules.set_enabled(rule["Name"], True)
    if ctx.functions.reserved_concurrency(name) != snapshot["reservedConcurrency"]:
        ctx.functions.set_reserved_concurrency(name, snapshot["reservedConcurrency"])
    return {"changed": True, "reservedConcurrency": snapshot["reservedConcurrency"]}


def _refill_old_group(ctx: StepContext, record: MigrationRecord) -> dict[str, Any]:
    """Make sure the old IP group holds the ALB's current IPs (they may have changed)."""
    deployment = deployment_of(record)
    alb_arn = deployment.application_load_balancer_arn
    if alb_arn is None or ctx.elb.target_group(deployment.target_group_arn) is None:
        return {"registered": [], "unhealthy": []}
    health = ctx.elb.target_health(deployment.target_group_arn)
    present = {h["Target"]["Id"] for h in health}
    missing = [ip["ip"] for ip in ctx.network.load_balancer_ips(alb_arn) if ip["ip"] not in present]
    if missing:
        ctx.elb.register_targets(
            deployment.target_group_arn,
            [{"Id": ip, "Port": deployment.alb_port or 0} for ip in missing],
        )
    unhealthy = [
        h["Target"]["Id"] for h in health if h.get("TargetHealth", {}).get("State") == "unhealthy"
    ]
    return {"registered": missing, "unhealthy": unhealthy}


def _restore_listeners(ctx: StepContext, record: MigrationRecord) -> list[str]:
    restored = []
    for arn, saved in sorted(record.saved_listener_actions.items()):
        listener = ctx.elb.listener(arn)
        if listener is None:
            continue  # deleted by someone else: nothing to restore onto
        if canonical_actions(listener["DefaultActions"]) == canonical_actions(saved):
            continue
        ctx.elb.set_default_actions(arn, saved)
        read_back = ctx.elb.listener(arn)
        if read_back is None or canonical_actions(read_back["DefaultActions"]) != (
            canonical_actions(saved)
        ):
            raise ListenerChangedError(
                f"Listener {arn} does not read back as restored.",
                "Run the rollback again; if it persists, restore the listener by hand from "
                "the journal.",
            )
        restored.append(arn)
    return restored


def _delete_new_group(ctx: StepContext, record: MigrationRecord) -> str | None:
    name = TargetGroupSpec.model_validate(record.plan["newTargetGroup"]).name
    group = ctx.elb.target_group_by_name(name)
    if group is None:
        return None
    arn = group["TargetGroupArn"]
    if ctx.elb.tags([arn]).get(arn, {}).get(TAG_MIGRATION_ID) != record.migration_id:
        return None  # not ours: never delete it
    try:
        targets = [{"Id": h["Target"]["Id"]} for h in ctx.elb.target_health(arn)]
        if targets:
            ctx.elb.deregister_targets(arn, targets)
        ctx.elb.delete_target_group(arn)
    except NotFoundError:
        pass  # a concurrent rollback deleted it first
    return str(arn)
