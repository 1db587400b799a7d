"""Step `cutover`: read-verify-write each production listener onto the new group.

ModifyListener replaces the whole action list and has no ETag, so each listener is re-read
first and changed only if it still equals the plan's "before". The exact previous actions
are journaled before any write, and every write is read back.
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.errors import ListenerChangedError, StepPreconditionError
from ipsync_migrator.events import DetailType
from ipsync_migrator.journal import MigrationRecord, MigrationState, utc_now
from ipsync_migrator.models import MigrationOptions, Strategy
from ipsync_migrator.planning import NEW_TARGET_GROUP_ARN, Step, replace_target_group
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.create_target_group import require_new_target_group


def canonical_actions(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Actions reduced to what they do: a plain forward and a 1-group ForwardConfig are equal."""
    result = []
    for action in sorted(actions, key=lambda a: a.get("Order", 0)):
        if action.get("Type") != "forward":
            result.append({k: v for k, v in action.items() if k != "Order"})
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": action.get("TargetGroupArn")}
        ]
        result.append(
            {
                "Type": "forward",
                "TargetGroups": sorted(
                    (g["TargetGroupArn"], int(g.get("Weight", 1))) for g in groups
                ),
            }
        )
    return result


def planned_listener_changes(
    record: MigrationRecord, group_arn: str
) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Each production listener's planned (before, after) actions, with the real new ARN."""
    return {
        change["resource"]: (
            change["before"],
            replace_target_group(change["after"], NEW_TARGET_GROUP_ARN, group_arn),
        )
        for change in record.plan["changes"]
        if change["step"] == Step.CUTOVER
    }


def cutover(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Point every planned listener at the new group, or stop before any write if one drifted."""
    record = ctx.hold(migration_id, owner, {MigrationState.IN_PROGRESS, MigrationState.CUT_OVER})
    group_arn = require_new_target_group(record.new_target_group_arn, migration_id)
    options = MigrationOptions.model_validate(record.options)
    if options.strategy != Strategy.SWAP_AND_WATCH and not record.health.get("passed"):
        raise StepPreconditionError(
            f"Migration '{migration_id}': the new target group has not proved healthy.",
            "Production listeners change only after the health gate passes (or choose the "
            "swap-and-watch strategy explicitly).",
        )
    targets = planned_listener_changes(record, group_arn)
    current = {arn: ctx.elb.listener(arn) for arn in targets}
    pending: dict[str, list[dict[str, Any]]] = {}
    for arn, (before, after) in targets.items():
        listener = current[arn]
        actions = listener.get("DefaultActions", []) if listener else None
        if actions is not None and canonical_actions(actions) == canonical_actions(after):
            continue  # done by an earlier run
        accepted = [before, record.canary_listener_actions.get(arn)]
        if actions is None or canonical_actions(actions) not in [
            canonical_actions(a) for a in accepted if a is not None
        ]:
            raise ListenerChangedError(
                f"Listener {arn} changed since the plan was made: expected {before}, found "
                f"{actions}. Nothing more was changed.",
                "Review the listener, then re-plan and re-run the migration (or roll back).",
            )
        pending[arn] = actions

    # Journal the exact previous actions before the first write (a crash then still restores).
    for arn, actions in pending.items():
        record.saved_listener_actions.setdefault(arn, actions)
    record = ctx.begin(record, Step.CUTOVER)
    for arn in pending:
        after = targets[arn][1]
        ctx.elb.set_default_actions(arn, after)
        read_back = ctx.elb.listener(arn)
        if read_back is None or canonical_actions(read_back["DefaultActions"]) != (
            canonical_actions(after)
        ):
            raise ListenerChangedError(
                f"Listener {arn} does not read back as written.",
                "Roll the migration back and check the listener for concurrent changes.",
            )
    record.timestamps.setdefault("cutOver", utc_now())
    ctx.complete(
        record,
        Step.CUTOVER,
        before={arn: record.saved_listener_actions.get(arn) for arn in targets},
        after={arn: targets[arn][1] for arn in targets},
        state=MigrationState.CUT_OVER,
        detail_type=DetailType.CUT_OVER,
    )
    return {"listeners": sorted(targets), "changed": sorted(pending)}
