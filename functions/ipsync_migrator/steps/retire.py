"""Steps `retire_legacy` (soft: disable, keep everything) and `finalize` (hard: delete).

Soft retirement snapshots everything rollback needs before it changes anything. Finalize
re-checks the fingerprint right before deleting, so it never deletes a function that has
since become something else.
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.aws.storage import delete_prefix
from ipsync_migrator.errors import (
    ConcurrentMigrationError,
    FingerprintMismatchError,
    LegacyGroupInUseError,
    StepPreconditionError,
)
from ipsync_migrator.events import DetailType
from ipsync_migrator.fingerprint import fingerprint, parse_input, still_syncs
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import Deployment, MigrationOptions
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.context import BAKE_PASSED, StepContext, deployment_of
from ipsync_migrator.steps.legacy_switch import disable_legacy
from ipsync_migrator.steps.listeners import describe, group_users

SNAPSHOT_KEYS = ("FunctionName", "FunctionArn", "Handler", "Runtime", "Role", "Description")


def retire_legacy(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Disable the schedule rule(s) and set reserved concurrency to 0, after a snapshot."""
    record = ctx.hold(migration_id, owner, {MigrationState.CUT_OVER, MigrationState.RETIRED})
    if record.state == MigrationState.CUT_OVER and BAKE_PASSED not in record.timestamps:
        raise StepPreconditionError(
            f"Migration '{migration_id}' has not passed its bake: the legacy sync stays on. "
            "Nothing was changed.",
            "Let the state machine's bake pass (VerifyBake), or roll the migration back.",
        )
    deployment = deployment_of(record)
    groups = None
    if record.legacy_snapshot is None:
        record.legacy_snapshot = _snapshot(ctx, deployment)
        groups = groups_in_snapshot(deployment, record.legacy_snapshot)  # read just now
    refuse_while_legacy_group_used(ctx, record, "retire its sync", groups)
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
        detail_type=DetailType.RETIRED,
    )
    return after


def finalize(
    ctx: StepContext,
    migration_id: str,
    delete_target_group: bool | None = None,
    delete_state: bool | None = None,
    owner: str | None = None,
) -> dict[str, Any]:
    """Delete the retired legacy function, its rule(s) and permission; optionally more.

    The state machine finalizes for its own run (`owner`); a person (the CLI) finalizes a
    retired migration whose run ended. Either way the intent is journaled, in the write that
    re-checks the record, before anything is deleted: a rollback that took over meanwhile
    fences it.
    """
    record = ctx.load(migration_id)
    if record.state == MigrationState.FINALIZED:
        return {"alreadyFinalized": True}
    if record.state != MigrationState.RETIRED or record.legacy_snapshot is None:
        raise StepPreconditionError(
            f"Migration '{migration_id}' is {record.state.value}, not retired: finalize "
            "deletes the legacy function only after a soft retirement.",
            "Let the migration reach `retired` (or run it again), then finalize.",
        )
    if owner is not None:
        record = ctx.hold(migration_id, owner, {MigrationState.RETIRED})
    in_flight = record.in_flight or {}
    if in_flight.get("step") == Step.ROLLBACK:
        raise ConcurrentMigrationError(
            f"Migration '{migration_id}' is being rolled back by '{in_flight.get('owner')}'. "
            "Nothing was deleted.",
            "Check `ipsync-migrator status ID` once the rollback ended.",
        )
    options = MigrationOptions.model_validate(record.options)
    deployment = deployment_of(record)
    recheck_fingerprint(ctx, deployment, record.legacy_snapshot)
    refuse_while_legacy_group_used(ctx, record, "delete its sync")
    record = ctx.begin(record, Step.FINALIZE)
    snapshot = record.legacy_snapshot
    assert snapshot is not None  # checked above; begin() keeps it
    function = deployment.function
    deleted: list[str] = []
    for rule in snapshot["rules"]:
        targets = ctx.schedules.targets(rule["Name"]) if ctx.schedules.current(rule["Name"]) else []
        ours = [t["Id"] for t in targets if t["Arn"] == function.arn]
        ctx.schedules.remove_targets(rule["Name"], ours)
        if len(ours) == len(targets):
            ctx.schedules.delete_rule(rule["Name"])
            deleted.append(f"rule {rule['Name']}")
    for statement in snapshot["permissions"]:
        if statement.get("Principal", {}).get("Service") == "events.amazonaws.com":
            ctx.functions.remove_permission(function.name, statement["Sid"])
    ctx.functions.delete(function.name)
    deleted.append(f"function {function.name}")
    if options.delete_target_group if delete_target_group is None else delete_target_group:
        deleted += _delete_old_group(ctx, record)
    if (options.delete_state if delete_state is None else delete_state) and deployment.s3_bucket:
        keys = delete_prefix(ctx.clients, deployment.s3_bucket, deployment.alb_dns_name)
        deleted += [f"s3://{deployment.s3_bucket}/{k}" for k in keys]
    ctx.complete(
        record,
        Step.FINALIZE,
        before=record.legacy_snapshot,
        after={"deleted": deleted},
        state=MigrationState.FINALIZED,
        detail_type=DetailType.FINALIZED,
    )
    return {"deleted": deleted}


def refuse_while_legacy_group_used(
    ctx: StepContext, record: MigrationRecord, what: str, groups: list[str] | None = None
) -> None:
    """No listener may be left on a group whose sync stops: checked now, in AWS, for every
    group the function feeds (a sibling group not migrated yet still needs it). `groups`:
    those groups, if the caller read them from AWS in this invocation."""
    deployment = deployment_of(record)
    if groups is None:
        groups = synced_groups(ctx, deployment, record.legacy_snapshot)
    for group in groups:
        users = group_users(ctx, record, group)
        if not users:
            continue
        listed = ", ".join(describe(listener) for listener in users.values())
        sibling = group != deployment.target_group_arn
        which = (
            f"the group {group}, which the same function also syncs,"
            if sibling
            else f"the legacy group {group},"
        )
        raise LegacyGroupInUseError(
            f"Migration '{record.migration_id}': listener(s) {listed} still forward to "
            f"{which} so this step will not {what}. Nothing was changed.",
            "Migrate that group first (its listeners then use an alb group)."
            if sibling
            else "Roll the migration back (`ipsync-migrator rollback ID`) so the sync keeps "
            "that listener's group current, or point the listener at the new group, then retry.",
        )


def _snapshot(ctx: StepContext, deployment: Deployment) -> dict[str, Any]:
    name = deployment.function.name
    configuration = ctx.functions.configuration(name) or {}
    rules = []
    for schedule in deployment.schedules:
        rule = ctx.schedules.current(schedule.rule)
        if rule is not None:
            rules.append(
                {
                    **{k: rule.get(k) for k in ("Name", "Arn", "ScheduleExpression", "State")},
                    "Targets": ctx.schedules.targets(schedule.rule),
                }
            )
    return {
        "function": {k: configuration.get(k) for k in SNAPSHOT_KEYS},
        "environment": configuration.get("Environment", {}).get("Variables", {}),
        "reservedConcurrency": ctx.functions.reserved_concurrency(name),
        "permissions": ctx.functions.policy_statements(name),
        "rules": rules,
    }


def recheck_fingerprint(
    ctx: StepContext, deployment: Deployment, snapshot: dict[str, Any] | None = None
) -> None:
    """Right before a delete: the function still syncs this group (its environment, or its
    schedule targets' Input, read now; a target that soft retirement removed from a shared
    rule counts as the snapshot saved it, if the function's environment is unchanged)."""
    configuration = ctx.functions.configuration(deployment.function.name)
    if configuration is None:
        return  # deleted by an earlier, interrupted finalize: finish the rest
    targets = _rule_targets(ctx, deployment, snapshot, configuration)
    if not still_syncs(configuration, targets, deployment.target_group_arn):
        raise FingerprintMismatchError(
            f"Function {deployment.function.name} no longer looks like the IP-sync function "
            f"of {deployment.target_group_arn}; it was not deleted.",
            "Someone changed it since the migration: check it and delete it by hand if it "
            "is really unused.",
        )


def synced_groups(
    ctx: StepContext, deployment: Deployment, snapshot: dict[str, Any] | None = None
) -> list[str]:
    """Every group the function syncs now (one function may feed several), this one first."""
    configuration = ctx.functions.configuration(deployment.function.name)
    groups = [deployment.target_group_arn]
    if configuration is None:
        return groups
    targets = _rule_targets(ctx, deployment, snapshot, configuration)
    return _groups_synced(
        deployment,
        configuration.get("Environment", {}).get("Variables", {}),
        configuration.get("Description", ""),
        configuration.get("Handler", ""),
        targets,
    )


def groups_in_snapshot(deployment: Deployment, snapshot: dict[str, Any]) -> list[str]:
    """`synced_groups` from a snapshot `_snapshot` has just read (no second read)."""
    function = snapshot["function"]
    if not function.get("FunctionName"):
        return [deployment.target_group_arn]  # the function is gone
    targets = [
        t
        for rule in snapshot["rules"]
        for t in rule["Targets"]
        if t.get("Arn") == deployment.function.arn
    ]
    return _groups_synced(
        deployment,
        snapshot["environment"],
        function.get("Description") or "",
        function.get("Handler") or "",
        targets,
    )


def _groups_synced(
    deployment: Deployment,
    environment: dict[str, str],
    description: str,
    handler: str,
    targets: list[dict[str, Any]],
) -> list[str]:
    groups = [deployment.target_group_arn]
    found = fingerprint(
        environment,
        description,
        handler,
        inputs=[i for t in targets if (i := parse_input(t.get("Input"))) is not None],
        scheduled=bool(targets),
    )
    if found is not None:
        groups += [g.target_group_arn for g in found.groups if g.target_group_arn not in groups]
    return groups


def _rule_targets(
    ctx: StepContext,
    deployment: Deployment,
    snapshot: dict[str, Any] | None = None,
    configuration: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The function's schedule targets now, plus those soft retirement removed from a shared
    rule (the snapshot's), while the function's environment is still the snapshot's."""
    function_arn = deployment.function.arn
    targets = [
        target
        for schedule in deployment.schedules
        if ctx.schedules.current(schedule.rule) is not None
        for target in ctx.schedules.targets(schedule.rule)
        if target.get("Arn") == function_arn
    ]
    environment = (configuration or {}).get("Environment", {}).get("Variables", {})
    if snapshot is None or environment != snapshot.get("environment"):
        return targets
    present = {t["Id"] for t in targets}
    return targets + [
        t
        for rule in snapshot["rules"]
        for t in rule["Targets"]
        if t.get("Arn") == function_arn and t["Id"] not in present
    ]


def _delete_old_group(ctx: StepContext, record: MigrationRecord) -> list[str]:
    legacy = deployment_of(record).target_group_arn
    users = group_users(ctx, record, legacy)
    if users:
        raise StepPreconditionError(
            f"The old target group is still used by listener {', '.join(users)}.",
            "Roll back or finish the cutover before deleting the old group.",
        )
    ctx.elb.delete_target_group(legacy)
    return [f"target group {legacy}"]
