"""Steps `attach_probe` / `release_probe`: a temporary listener so the new group is checked.

An alb group is not health-checked until a listener forwards to it, so the probe proves
health before any production listener changes.
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.discovery import forwards_to
from ipsync_migrator.errors import (
    AwsServiceError,
    InvalidInputError,
    ListenerChangedError,
    NotFoundError,
    StepPreconditionError,
)
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import MigrationOptions, Strategy, TargetGroupSpec
from ipsync_migrator.naming import MANAGED_BY_VALUE, TAG_MANAGED_BY, TAG_MIGRATION_ID
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.context import StepContext, deployment_of
from ipsync_migrator.steps.create_target_group import (
    probe_phase_threshold,
    require_new_target_group,
)
from ipsync_migrator.steps.cutover import canonical_actions, planned_listener_changes

#: Share of production traffic the weighted strategy sends to the new group before cutover.
CANARY_PERCENT = 10


def attach_probe(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Attach the new group to a TCP listener on a free port of the NLB (reused on re-run)."""
    record = ctx.hold(migration_id, owner, {MigrationState.IN_PROGRESS})
    group_arn = require_new_target_group(record.new_target_group_arn, migration_id)
    options = MigrationOptions.model_validate(record.options)
    record = ctx.begin(record, Step.ATTACH_PROBE)
    if options.strategy == Strategy.WEIGHTED:
        canary = _attach_weighted_canary(ctx, record, group_arn)
        if canary is not None:
            return canary
        record = ctx.hold(migration_id, owner, {MigrationState.IN_PROGRESS})
    nlb_arn = deployment_of(record).network_load_balancers[0].arn
    probe = _probe_listener(ctx, nlb_arn, group_arn, migration_id, reuse_any=True)
    entry = {"listenerArn": probe["ListenerArn"], "port": probe["Port"], "nlbArn": nlb_arn}
    record.probe_listeners = [entry]
    record.timestamps.setdefault("probeAttached", record.updated_at)
    ctx.complete(record, Step.ATTACH_PROBE, before=None, after=entry)
    return {"mode": "probe", **entry, "notes": record.notes}


def _attach_weighted_canary(
    ctx: StepContext, record: MigrationRecord, group_arn: str
) -> dict[str, Any] | None:
    """Send CANARY_PERCENT of production traffic to the new group, if ELB accepts it.

    AWS has not documented an alb group inside a weighted forward, so it is tried at run
    time; when ELB refuses, the migration falls back to the probe listener and says so.
    """
    changes = planned_listener_changes(record, group_arn)
    canary: dict[str, list[dict[str, Any]]] = {}
    for arn, (before, _) in changes.items():
        listener = ctx.elb.listener(arn)
        current = listener["DefaultActions"] if listener else None
        if (
            current is not None
            and arn in record.canary_listener_actions
            and canonical_actions(current) == canonical_actions(record.canary_listener_actions[arn])
        ):
            canary[arn] = current
            continue
        if current is None or canonical_actions(current) != canonical_actions(before):
            raise ListenerChangedError(
                f"Listener {arn} changed since the plan was made. Nothing was changed.",
                "Review the listener, then re-plan and re-run the migration.",
            )
        record.saved_listener_actions.setdefault(arn, current)
        canary[arn] = weighted_forward(before, deployment_of(record).target_group_arn, group_arn)
    # The intended canary is journaled before the first write: a run that crashes after a
    # ModifyListener finds 90/10 weights it knows, and resumes (or a rollback undoes them).
    record.canary_listener_actions = canary
    record = ctx.save(record)
    try:
        for arn, actions in canary.items():
            ctx.elb.set_default_actions(arn, actions)
    except (InvalidInputError, AwsServiceError) as exc:
        for arn in canary:  # undo any listener already changed, exactly
            ctx.elb.set_default_actions(arn, record.saved_listener_actions[arn])
        record.notes.append(
            f"weighted forward to an alb target group was refused ({exc.code}: "
            f"{exc.message}); fell back to the probe strategy"
        )
        record.saved_listener_actions = {}
        record.canary_listener_actions = {}
        ctx.save(record)
        return None
    record.timestamps.setdefault("probeAttached", record.updated_at)
    after = {"canaryPercent": CANARY_PERCENT, "listeners": sorted(canary)}
    ctx.complete(record, Step.ATTACH_PROBE, before=record.saved_listener_actions, after=after)
    return {"mode": "weighted", **after, "notes": record.notes}


def weighted_forward(
    actions: list[dict[str, Any]], old_arn: str, new_arn: str
) -> list[dict[str, Any]]:
    """`actions` with the forward to `old_arn` split CANARY_PERCENT to `new_arn`."""
    return [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": old_arn, "Weight": 100 - CANARY_PERCENT},
                    {"TargetGroupArn": new_arn, "Weight": CANARY_PERCENT},
                ]
            },
        }
        if action.get("Type") == "forward" and action.get("TargetGroupArn") == old_arn
        else action
        for action in actions
    ]


def release_probe(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Remove every probe listener of this migration (none left is fine); after a fast health
    gate, put the new group's configured healthy threshold back."""
    record = ctx.hold(migration_id, owner, {MigrationState.IN_PROGRESS, MigrationState.CUT_OVER})
    record = ctx.begin(record, Step.RELEASE_PROBE)
    released = remove_probes(ctx, record)
    record.probe_listeners = []
    spec = TargetGroupSpec.model_validate(record.plan["newTargetGroup"])
    configured = spec.health_check.healthy_threshold
    after = None
    if record.new_target_group_arn and probe_phase_threshold(record, spec) != configured:
        # Setting the same value again is a no-op for ELB: safe to repeat.
        ctx.elb.set_healthy_threshold(record.new_target_group_arn, configured)
        after = {"healthyThreshold": configured}
    ctx.complete(record, Step.RELEASE_PROBE, before={"probeListeners": released}, after=after)
    return {"released": released, **(after or {})}


def remove_probes(ctx: StepContext, record: MigrationRecord) -> list[str]:
    """Delete the probe listeners: those journaled, and any of ours found forwarding to our
    new group or (a rollback's return probe) to the legacy group."""
    arns = {p["listenerArn"] for p in record.probe_listeners}
    groups = [g for g in (record.new_target_group_arn, deployment_of(record).target_group_arn) if g]
    for nlb in deployment_of(record).network_load_balancers:
        arns |= {
            li["ListenerArn"]
            for li in ctx.elb.listeners(nlb.arn)
            # A journaled probe is deleted anyway: its tags need no read.
            if li["ListenerArn"] not in arns
            and any(_is_probe(ctx, li, group, record.migration_id) for group in groups)
        }
    for arn in sorted(arns):
        ctx.elb.delete_listener(arn)
    return sorted(arns)


def attach_return_probe(ctx: StepContext, record: MigrationRecord) -> dict[str, Any]:
    """A probe listener on the legacy group, so a rollback sees its targets health-checked.

    A target group no load balancer uses reports its targets `unused` (Target.NotInUse: "the
    target group is not used by any load balancer", elasticloadbalancing/latest/APIReference/
    API_TargetHealth.html), never healthy: after cutover the old group cannot prove health
    until something forwards to it. (The emulator reports IP groups healthy at once.)
    """
    legacy = deployment_of(record).target_group_arn
    nlb_arn = deployment_of(record).network_load_balancers[0].arn
    probe = _probe_listener(ctx, nlb_arn, legacy, record.migration_id, reuse_any=False)
    return {
        "listenerArn": probe["ListenerArn"],
        "port": probe["Port"],
        "nlbArn": nlb_arn,
        "targetGroupArn": legacy,
    }


def _probe_listener(
    ctx: StepContext, nlb_arn: str, group_arn: str, migration_id: str, reuse_any: bool
) -> dict[str, Any]:
    """The probe listener forwarding to `group_arn` on a free port of the NLB: an existing one
    (any probe of the group with `reuse_any`, else only one tagged with this migration), or a
    new one, tagged as ours."""
    listeners = ctx.elb.listeners(nlb_arn)
    owner = None if reuse_any else migration_id
    probe = next((li for li in listeners if _is_probe(ctx, li, group_arn, owner)), None)
    if probe is not None:
        return probe
    return ctx.elb.create_listener(
        LoadBalancerArn=nlb_arn,
        Protocol="TCP",
        Port=_free_port(ctx.probe_port_range, {li["Port"] for li in listeners}),
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
        Tags=[
            {"Key": TAG_MANAGED_BY, "Value": MANAGED_BY_VALUE},
            {"Key": TAG_MIGRATION_ID, "Value": migration_id},
        ],
    )


def _is_probe(
    ctx: StepContext, listener: dict[str, Any], group_arn: str, migration_id: str | None = None
) -> bool:
    low, high = ctx.probe_port_range
    if not (low <= listener["Port"] <= high):
        return False
    if not forwards_to(listener.get("DefaultActions", []), group_arn):
        return False
    if migration_id is None:
        return True
    try:
        tags = ctx.elb.tags([listener["ListenerArn"]]).get(listener["ListenerArn"], {})
    except NotFoundError:
        return False  # deleted meanwhile (a concurrent rollback)
    return tags.get(TAG_MIGRATION_ID) == migration_id


def _free_port(port_range: tuple[int, int], used: set[int]) -> int:
    low, high = port_range
    for port in range(low, high + 1):
        if port not in used:
            return port
    raise StepPreconditionError(
        f"No free probe port in {low}-{high} on the NLB.",
        "Pass another range (PROBE_PORT_RANGE) or remove unused listeners.",
    )
