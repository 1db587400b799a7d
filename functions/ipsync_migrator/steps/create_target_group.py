"""Step `create_target_group`: the alb group, tagged as ours, with the ALB registered."""

from __future__ import annotations

from typing import Any

from ipsync_migrator.errors import AwsServiceError, MigrationBlockedError, StepPreconditionError
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.models import TargetGroupSpec
from ipsync_migrator.naming import TAG_MIGRATION_ID
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.context import StepContext, deployment_of


def create_target_group(ctx: StepContext, migration_id: str, owner: str | None) -> dict[str, Any]:
    """Create (or find, when re-run) the alb target group and register the ALB in it."""
    record = ctx.hold(migration_id, owner, {MigrationState.IN_PROGRESS})
    deployment = deployment_of(record)
    spec = TargetGroupSpec.model_validate(record.plan["newTargetGroup"])
    alb_arn = deployment.application_load_balancer_arn
    assert alb_arn is not None

    record = ctx.begin(record, Step.CREATE_TARGET_GROUP)
    existing = find_own_target_group(ctx, spec.name, migration_id)
    group = existing or ctx.elb.create_target_group(**_create_params(spec))
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


def _create_params(spec: TargetGroupSpec) -> dict[str, Any]:
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
        "HealthyThresholdCount": check.healthy_threshold,
        "Tags": [{"Key": k, "Value": v} for k, v in spec.tags.items()],
    }


def require_new_target_group(record_arn: str | None, migration_id: str) -> str:
    if not record_arn:
        raise StepPreconditionError(
            f"Migration '{migration_id}' has no new target group yet.",
            "Run create_target_group first (the state machine does).",
        )
    return record_arn
