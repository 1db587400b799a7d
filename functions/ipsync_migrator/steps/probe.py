"""Steps `attach_probe` / `release_probe`: a temporary listener so the new group is checked.

An alb group is not health-checked until a listener forwards to it, so the probe proves
health before any production listener changes.
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.discovery import forwards_to
from ipsync_migrator.errors import StepPreconditionError
from ipsync_migrator.journal import MigrationRecord
from ipsync_migrator.naming import MANAGED_BY_VALUE, TAG_MANAGED_BY, TAG_MIGRATION_ID
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.context import StepContext, deployment_of
from ipsync_migrator.steps.create_target_group import require_new_target_group


def attach_probe(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Attach the new group to a TCP listener on a free port of the NLB (reused on re-run)."""
    record = ctx.load(migration_id, owner)
    group_arn = require_new_target_group(record.new_target_group_arn, migration_id)
    nlb_arn = deployment_of(record).network_load_balancers[0].arn
    listeners = ctx.elb.listeners(nlb_arn)
    probe = next((li for li in listeners if _is_probe(ctx, li, group_arn)), None)
    if probe is None:
        probe = ctx.elb.create_listener(
            LoadBalancerArn=nlb_arn,
            Protocol="TCP",
            Port=_free_port(ctx.probe_port_range, {li["Port"] for li in listeners}),
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
            Tags=[
                {"Key": TAG_MANAGED_BY, "Value": MANAGED_BY_VALUE},
                {"Key": TAG_MIGRATION_ID, "Value": migration_id},
            ],
        )
    entry = {"listenerArn": probe["ListenerArn"], "port": probe["Port"], "nlbArn": nlb_arn}
    record.probe_listeners = [entry]
    record.timestamps.setdefault("probeAttached", record.updated_at)
    ctx.complete(record, Step.ATTACH_PROBE, before=None, after=entry)
    return entry


def release_probe(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Remove every probe listener of this migration (none left is fine)."""
    record = ctx.load(migration_id, owner)
    released = remove_probes(ctx, record)
    record.probe_listeners = []
    ctx.complete(record, Step.RELEASE_PROBE, before={"probeListeners": released}, after=None)
    return {"released": released}


def remove_probes(ctx: StepContext, record: MigrationRecord) -> list[str]:
    """Delete the probe listeners: those journaled, and any found forwarding to our group."""
    arns = {p["listenerArn"] for p in record.probe_listeners}
    group_arn, migration_id = record.new_target_group_arn, record.migration_id
    if group_arn:
        for nlb in deployment_of(record).network_load_balancers:
            arns |= {
                li["ListenerArn"]
                for li in ctx.elb.listeners(nlb.arn)
                if _is_probe(ctx, li, group_arn, migration_id)
            }
    for arn in sorted(arns):
        ctx.elb.delete_listener(arn)
    return sorted(arns)


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
    tags = ctx.elb.tags([listener["ListenerArn"]]).get(listener["ListenerArn"], {})
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
