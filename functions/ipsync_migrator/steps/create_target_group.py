"""Step `create_target_group`: the alb group, tagged as ours, with the ALB registered."""

from __future__ import annotations

from typing import Any

from ipsync_migrator.errors import AwsServiceError, MigrationBlockedError, StepPreconditionError
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import MigrationOptions, TargetGroupSpec
from ipsync_migrator.naming import TAG_MIGRATION_ID
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.context import StepContext, deployment_of

#: AWS's lowest healthy threshold (2-10 for an alb group, DOMAIN.md section 6): the fast
#: health gate's, while the probe proves health.
FAST_GATE_THRESHOLD = 2


def create_target_group(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Create (or find, when re-run) the alb target group and register the ALB in it."""
    record = ctx.hold(migration_id, owner, {MigrationState.IN_PROGRESS})
    deployment = deployment_of(record)
    spec = TargetGroupSpec.model_validate(record.plan["newTargetGroup"])
    alb_arn = deployment.application_load_balancer_arn
    assert alb_arn is not None

    record = ctx.begin(record, Step.CREATE_TARGET_GROUP)
    existing = find_own_target_group(ctx, spec.name, migration_id)
    threshold = probe_phase_threshold(record, spec)
    if threshold != spec.health_check.healthy_threshold and not existing:
        record.notes.append(
            f"fast health gate: the new group's healthy threshold is {threshold} until the "
            f"probe is released, then {spec.health_check.healthy_threshold} again"
        )
    group = existing or ctx.elb.create_target_group(**_create_params(spec, threshold))
    arn = group["TargetGroupArn"]
    record.new_target_group_arn = arn
    _register_alb(ctx, arn, alb_arn, spec.port)
    ctx.complete(
        record,
        Step.CREATE_TARGET_GROUP,
        before=None,
        after={"targetGroupArn": arn, "registered": alb_arn, "reused": existing is not None},
    )
    return {"targetGroupArn": arn, "reused": existing is not None}


#: AWS's answer when the ALB is already behind as many NLBs as it allows (DOMAIN.md section 6).
ALB_LIMIT_ERROR = "TooManyRegistrationsForTargetId"


def _register_alb(ctx: StepContext, group_arn: str, alb_arn: str, port: int) -> None:
    """Register the ALB; AWS's refusal becomes a blocked migration that rollback undoes."""
    try:
        # Registering an already registered target is a no-op in ELB: safe to repeat.
        ctx.elb.register_targets(group_arn, [{"Id": alb_arn, "Port": port}])
    except AwsServiceError as exc:
        if exc.code != ALB_LIMIT_ERROR:
            raise
        raise MigrationBlockedError(
            f"AWS refused to register ALB {alb_arn} in the new alb target group "
            f"({ALB_LIMIT_ERROR}): the ALB is already behind as many NLBs as AWS allows.",
            "Nothing was changed: the migration rolls back. Detach the ALB from another "
            "NLB's alb target group (discover lists them under ALB_NLB_LIMIT), then migrate "
            "again, or keep the Lambda.",
        ) from exc


def find_own_target_group(ctx: StepContext, name: str, migration_id: str) -> dict[str, Any] | None:
    """The group named `name` if it carries our migration id; refuse one that is not ours."""
    group = ctx.elb.target_group_by_name(name)
    if group is None:
        return None
    tags = ctx.elb.tags([group["TargetGroupArn"]]).get(group["TargetGroupArn"], {})
    if tags.get(TAG_MIGRATION_ID) != migration_id:
        raise StepPreconditionError(
            f"A target group named {name} exists but was not created by migration "
            f"'{migration_id}'.",
            "Rename or delete that group, then re-run the migration.",
        )
    return group


def probe_phase_threshold(record: MigrationRecord, spec: TargetGroupSpec) -> int:
    """The new group's healthy threshold until the health gate has passed."""
    if MigrationOptions.model_validate(record.options).fast_health_gate:
        return min(FAST_GATE_THRESHOLD, spec.health_check.healthy_threshold)
    return spec.health_check.healthy_threshold


def _create_params(spec: TargetGroupSpec, healthy_threshold: int) -> dict[str, Any]:
    check = spec.health_check
    return {
        "Name": spec.name,
        "Protocol": spec.protocol,
        "Port": spec.port,
        "VpcId": spec.vpc_id,
        "TargetType": spec.target_type,
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": check.protocol,
        "HealthCheckPort": check.port,
        "HealthCheckPath": check.path or "/",
        "HealthCheckIntervalSeconds": check.interval_seconds,
        "HealthyThresholdCount": healthy_threshold,
        "Tags": [{"Key": k, "Value": v} for k, v in spec.tags.items()],
    }


def require_new_target_group(record_arn: str | None, migration_id: str) -> str:
    if not record_arn:
        raise StepPreconditionError(
            f"Migration '{migration_id}' has no new target group yet.",
            "Run create_target_group first (the state machine does).",
        )
    return record_arn
