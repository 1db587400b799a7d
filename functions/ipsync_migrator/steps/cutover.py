"""Step `cutover`: read-verify-write each production listener onto the new group.

ModifyListener replaces the whole action list and has no ETag, so each listener is re-read
first and changed only if it still equals the plan's "before". The exact previous actions
(and those about to be set) are journaled before any write, and every write is read back.
Listeners on the legacy group that are not in the plan are found again right before the
writes: moved too when they qualify, otherwise the step stops before any write.
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.errors import ListenerChangedError, StepPreconditionError
from ipsync_migrator.events import DetailType
from ipsync_migrator.journal import MigrationRecord, MigrationState, utc_now
from ipsync_migrator.models import MigrationOptions, Strategy
from ipsync_migrator.planning import NEW_TARGET_GROUP_ARN, Step, replace_target_group
from ipsync_migrator.steps.context import StepContext, deployment_of
from ipsync_migrator.steps.create_target_group import require_new_target_group
from ipsync_migrator.steps.listeners import describe, legacy_group_users
from ipsync_migrator.steps.nlb_identity import AFTER_CUTOVER, verify_identity


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
    """Point every listener on the legacy group at the new one, or stop before any write."""
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
    for arn, set_before in record.listener_actions_set.items():
        if arn not in targets:  # found by an earlier run of this step: moved, or about to be
            targets[arn] = (record.saved_listener_actions.get(arn, []), set_before)
    users = legacy_group_users(ctx, record)
    targets.update(_unplanned_listeners(record, users, group_arn, set(targets)))
    # Read now: those on the legacy group in the read just made, the others (moved by an
    # earlier run of this step, or changed since the plan) one by one.
    current = {arn: users.get(arn) or ctx.elb.listener(arn) for arn in targets}
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

    # Journal the exact previous actions, and what will be set, before the first write: a
    # crash then still restores, and a rollback knows what this migration put there.
    for arn, actions in pending.items():
        record.saved_listener_actions.setdefault(arn, actions)
    for arn, (_, after) in targets.items():
        record.listener_actions_set[arn] = after
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
    verify_identity(ctx, record, AFTER_CUTOVER)
    ctx.complete(
        record,
        Step.CUTOVER,
        before={arn: record.saved_listener_actions.get(arn) for arn in targets},
        after={arn: targets[arn][1] for arn in targets},
        state=MigrationState.CUT_OVER,
        detail_type=DetailType.CUT_OVER,
    )
    return {"listeners": sorted(targets), "changed": sorted(pending)}


def _unplanned_listeners(
    record: MigrationRecord,
    users: dict[str, dict[str, Any]],
    group_arn: str,
    known: set[str],
) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Listeners that forward to the legacy group but are not in the plan: moved too, if they can.

    One qualifies when it is a TCP listener of the deployment's NLB that forwards to the legacy
    group alone (plain, or a one-group ForwardConfig): then its after is its before with the new
    group. Any other is an error before any write, since cutting over without it would strand
    it on a group whose sync is about to be retired.
    """
    deployment = deployment_of(record)
    legacy = deployment.target_group_arn
    nlbs = {nlb.arn for nlb in deployment.network_load_balancers}
    found = {}
    for arn, listener in users.items():
        if arn in known:
            continue
        actions = listener.get("DefaultActions", [])
        reasons = []
        if listener.get("LoadBalancerArn") not in nlbs:
            reasons.append("it belongs to another load balancer than the migrated NLB")
        if listener.get("Protocol") != "TCP":
            # Only TCP listeners can forward to an alb target group (DOMAIN.md section 2).
            reasons.append(f"its protocol is {listener.get('Protocol')}, not TCP")
        forwards = [a for a in canonical_actions(actions) if a.get("Type") == "forward"]
        if any(group != legacy for a in forwards for group, _ in a["TargetGroups"]):
            reasons.append("it splits traffic between the legacy group and others")
        if reasons:
            raise ListenerChangedError(
                f"Listener {describe(listener)} forwards to the legacy group {legacy} but is "
                f"not in the plan, and it cannot be moved: {'; '.join(reasons)}. Nothing was "
                "changed.",
                "Point that listener elsewhere (or remove it), or roll back, then re-plan.",
            )
        found[arn] = (actions, replace_target_group(actions, legacy, group_arn))
    return found
