"""Step `preflight`: discover the deployment again, plan it, and open (or resume) its record."""

from __future__ import annotations

from typing import Any

from ipsync_migrator.aws.executions import execution_status, is_execution_arn
from ipsync_migrator.discovery import discover
from ipsync_migrator.errors import (
    ConcurrentMigrationError,
    InvalidInputError,
    NotFoundError,
    StepPreconditionError,
)
from ipsync_migrator.events import DetailType
from ipsync_migrator.journal import ACTIVE_STATES, MigrationRecord, MigrationState
from ipsync_migrator.limits import check_history_budget
from ipsync_migrator.models import MigrationOptions, Target, Verdict
from ipsync_migrator.naming import migration_id_for_target_group
from ipsync_migrator.planning import Step, plan_migration
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.nlb_identity import record_identity

#: Preflight's verdict for a migration another run already took to its end (retired or
#: finalized): the state machine reports it and stops (AlreadyMigrated), changing nothing.
ALREADY_MIGRATED = "already_migrated"
#: States from which a new run may start the migration afresh.
RESTARTABLE = frozenset({MigrationState.PLANNED, MigrationState.ROLLED_BACK, MigrationState.FAILED})


def preflight(
    ctx: StepContext,
    target_group_arn: str,
    owner: str,
    options: MigrationOptions,
    target: Target | None = None,
) -> dict[str, Any]:
    """Classify and plan; a migratable deployment gets an in-progress record owned by `owner`."""
    # Before any read or write: timings whose polls could outgrow the execution's history.
    check_history_budget(options)
    region = target_group_arn.split(":")[3]
    if region != ctx.clients.region:
        raise InvalidInputError(
            f"Target group {target_group_arn} is in {region}, but this runs in "
            f"{ctx.clients.region}.",
            f"Run against region {region} (--region {region}, or the stack deployed there).",
        )
    account = target_group_arn.split(":")[4]
    if account != ctx.account:
        raise InvalidInputError(
            f"Target group {target_group_arn} is in account {account}, but these credentials "
            f"act in account {ctx.account}. Nothing was changed.",
            f"Run with credentials of account {account} (--profile), or through a fleet "
            "file whose roleArn is in that account.",
        )
    migration_id = migration_id_for_target_group(target_group_arn)
    record = ctx.journal.get(migration_id)
    if record is not None and record.state not in RESTARTABLE:
        if record.owner == owner:
            # Resume (a retried Preflight of the same run): the plan stands.
            return _result(record, resumed=True)
        if record.state == MigrationState.ROLLBACK_INCOMPLETE:
            raise StepPreconditionError(
                f"Migration '{migration_id}' has an incomplete rollback: "
                f"{record.last_error or 'see the journal'}. Nothing was changed.",
                "Fix what it names, run `ipsync-migrator rollback ID` again until it ends "
                "rolled_back, then start the migration again.",
            )
        if record.state in ACTIVE_STATES and not _abandoned_after_preflight(ctx, record):
            raise ConcurrentMigrationError(
                f"Migration '{migration_id}' is already being driven by '{record.owner}'.",
                "Follow it with `ipsync-migrator status ID`; start again only after it ends. "
                "If that run is no longer running, take the migration over with "
                "`ipsync-migrator rollback ID` (it undoes whatever the run did), then start "
                "again.",
            )
        if record.state not in ACTIVE_STATES:
            # Ended (retired or finalized) under another run: reported, nothing is changed.
            return {
                **_result(record, resumed=False),
                "verdict": ALREADY_MIGRATED,
                "by": record.owner,
            }

    report = discover(ctx.clients, target_group_arn=target_group_arn, account=account)
    deployment = next((d for d in report.deployments if d.id == migration_id), None)
    if deployment is None:
        raise NotFoundError(
            f"No legacy IP-sync function syncs target group {target_group_arn}.",
            "Run `ipsync-migrator discover` for the ids and target groups that can migrate.",
        )
    plan = plan_migration(deployment)
    if deployment.verdict != Verdict.MIGRATABLE:
        return {
            "migrationId": migration_id,
            "verdict": deployment.verdict.value,
            "findings": [f.to_json_dict() for f in deployment.findings],
            "plan": plan.to_json_dict(),
            "options": options.to_json_dict(),
            "resumed": False,
        }
    if options.strategy.value == "weighted" and len(deployment.network_load_balancers) > 1:
        raise InvalidInputError("The weighted strategy needs a deployment with a single NLB.")
    fresh = MigrationRecord(migration_id=migration_id)
    base = record if record is not None else fresh
    # A new run takes the migration over: the fencing epoch only grows, the runs accumulate.
    epoch = base.epoch + 1
    started = base.model_copy(
        update={
            **fresh.model_dump(exclude={"migration_id", "version", "created_at"}),
            "state": MigrationState.IN_PROGRESS,
            "owner": owner,
            "epoch": epoch,
            "runs": [*base.runs, {"owner": owner, "epoch": epoch, "at": fresh.updated_at}],
            "plan": plan.to_json_dict(),
            "options": options.to_json_dict(),
            "target": target.to_json_dict() if target else {},
            "deployment": deployment.to_json_dict(),
            "nlb_identity": record_identity(ctx, deployment),
            "timestamps": {"started": fresh.updated_at},
        }
    )
    saved = ctx.complete(
        started,
        Step.PREFLIGHT,
        after={"plan": plan.to_json_dict()},
        detail_type=DetailType.STARTED,
    )
    return _result(saved, resumed=False)


def _abandoned_after_preflight(ctx: StepContext, record: MigrationRecord) -> bool:
    """The holder's execution verifiably ended right after its Preflight, having changed
    nothing in AWS: a new run may take the migration over (the epoch grows)."""
    if record.current_step != Step.PREFLIGHT or record.in_flight is not None:
        return False  # a later step began: only a rollback knows what to undo
    if not is_execution_arn(record.owner):
        return False
    return execution_status(ctx.hub, record.owner) not in ("RUNNING", "PENDING_REDRIVE")


def _result(record: MigrationRecord, resumed: bool) -> dict[str, Any]:
    return {
        "migrationId": record.migration_id,
        "verdict": Verdict.MIGRATABLE.value,
        "findings": record.plan.get("warnings", []),
        "plan": record.plan,
        "state": record.state.value,
        # Through the model: a record journaled before an option existed gets its default,
        # so every path the state machine reads (TimeoutSecondsPath, SecondsPath) exists.
        "options": MigrationOptions.model_validate(record.options).to_json_dict(),
        "resumed": resumed,
    }
