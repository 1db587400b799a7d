"""Plan one migration: the exact, ordered changes (ELB has no DryRun, so this is the dry-run)."""

from __future__ import annotations

import copy
from typing import Any

from ipsync_migrator.iac import template_patches
from ipsync_migrator.models import (
    ChangeAction,
    Deployment,
    Plan,
    PlannedChange,
    Severity,
    Verdict,
)

#: Stands for the new group's ARN in a plan, until create_target_group knows it.
NEW_TARGET_GROUP_ARN = "<new-target-group-arn>"


class Step:
    """Step names: spelled once, shared by planning, handlers, journal, events and the ASL."""

    PREFLIGHT = "preflight"
    CREATE_TARGET_GROUP = "create_target_group"
    ATTACH_PROBE = "attach_probe"
    CHECK_HEALTH = "check_health"
    CUTOVER = "cutover"
    RELEASE_PROBE = "release_probe"
    VERIFY_BAKE = "verify_bake"
    RETIRE_LEGACY = "retire_legacy"
    FINALIZE = "finalize"
    ROLLBACK = "rollback"


def replace_target_group(
    actions: list[dict[str, Any]], old_arn: str, new_arn: str
) -> list[dict[str, Any]]:
    """The same actions with every forward to `old_arn` sent to `new_arn` instead."""
    result = copy.deepcopy(actions)
    for action in result:
        if action.get("TargetGroupArn") == old_arn:
            action["TargetGroupArn"] = new_arn
        for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
            if group.get("TargetGroupArn") == old_arn:
                group["TargetGroupArn"] = new_arn
    return result


def plan_migration(deployment: Deployment) -> Plan:
    """Build the plan for `deployment`; a blocked or orphaned one gets its blockers, no changes."""
    blockers = [f for f in deployment.findings if f.severity == Severity.BLOCKER]
    warnings = [f for f in deployment.findings if f.severity != Severity.BLOCKER]
    plan = Plan(
        migration_id=deployment.id,
        deployment_id=deployment.id,
        verdict=deployment.verdict,
        target_group_arn=deployment.target_group_arn,
        new_target_group=deployment.proposed_target_group,
        attributes_lost=deployment.attributes_lost,
        blockers=blockers,
        warnings=warnings,
    )
    if deployment.verdict != Verdict.MIGRATABLE or deployment.proposed_target_group is None:
        return plan
    return plan.model_copy(
        update={
            "changes": _changes(deployment),
            "stacks": _stacks(deployment),
            "template_patches": template_patches(deployment, deployment.proposed_target_group),
        }
    )


def _stacks(deployment: Deployment) -> dict[str, str]:
    stacks = {}
    if deployment.function.stack_name:
        stacks["function"] = deployment.function.stack_name
    if deployment.target_group_stack_name:
        stacks["target group"] = deployment.target_group_stack_name
    for nlb in deployment.network_load_balancers:
        for listener in nlb.listeners:
            if listener.stack_name:
                stacks[f"listener {nlb.name} {listener.protocol}:{listener.port}"] = (
                    listener.stack_name
                )
    return stacks


def _changes(deployment: Deployment) -> list[PlannedChange]:
    spec = deployment.proposed_target_group
    assert spec is not None
    changes: list[dict[str, Any]] = [
        {
            "step": Step.CREATE_TARGET_GROUP,
            "action": ChangeAction.CREATE,
            "resource_type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "resource": spec.name,
            "after": spec.to_json_dict(),
            "description": f"Create alb target group {spec.name} (TCP:{spec.port}, "
            f"health check {spec.health_check.protocol} {spec.health_check.path}), "
            "tagged with the migration id.",
        },
        {
            "step": Step.CREATE_TARGET_GROUP,
            "action": ChangeAction.CREATE,
            "resource_type": "TargetRegistration",
            "resource": f"{spec.name} <- {deployment.application_load_balancer_arn}",
            "after": {"Id": deployment.application_load_balancer_arn, "Port": spec.port},
            "description": f"Register the ALB in {spec.name} on port {spec.port}.",
        },
    ]
    for nlb in deployment.network_load_balancers:
        changes.append(
            {
                "step": Step.ATTACH_PROBE,
                "action": ChangeAction.CREATE,
                "resource_type": "AWS::ElasticLoadBalancingV2::Listener",
                "resource": f"{nlb.name}: probe listener (free port chosen at run time)",
                "after": {
                    "Protocol": "TCP",
                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": NEW_TARGET_GROUP_ARN}],
                },
                "description": f"Attach a temporary TCP probe listener on {nlb.name} so the "
                "new group is health-checked before any production listener changes.",
            }
        )
    for nlb in deployment.network_load_balancers:
        for listener in nlb.listeners:
            changes.append(
                {
                    "step": Step.CUTOVER,
                    "action": ChangeAction.MODIFY,
                    "resource_type": "AWS::ElasticLoadBalancingV2::Listener",
                    "resource": listener.arn,
                    "before": listener.default_actions,
                    "after": replace_target_group(
                        listener.default_actions,
                        deployment.target_group_arn,
                        NEW_TARGET_GROUP_ARN,
                    ),
                    "description": f"{nlb.name} {listener.protocol}:{listener.port}: forward to "
                    f"{spec.name} instead of {deployment.target_group_name} (only if the "
                    "listener still equals 'before').",
                }
            )
    changes += [
        {
            "step": Step.RELEASE_PROBE,
            "action": ChangeAction.DELETE,
            "resource_type": "AWS::ElasticLoadBalancingV2::Listener",
            "resource": "probe listener",
            "description": "Remove the temporary probe listener.",
        },
    ]
    for schedule in deployment.schedules:
        changes.append(
            {
                "step": Step.RETIRE_LEGACY,
                "action": ChangeAction.DISABLE,
                "resource_type": "AWS::Events::Rule",
                "resource": schedule.rule,
                "before": {"State": "ENABLED" if schedule.enabled else "DISABLED"},
                "after": {"State": "DISABLED"},
                "description": f"Disable schedule {schedule.rule} ({schedule.expression}).",
            }
        )
    function = deployment.function
    changes += [
        {
            "step": Step.RETIRE_LEGACY,
            "action": ChangeAction.MODIFY,
            "resource_type": "AWS::Lambda::Function",
            "resource": function.name,
            "before": {"ReservedConcurrentExecutions": function.reserved_concurrency},
            "after": {"ReservedConcurrentExecutions": 0},
            "description": f"Set {function.name}'s reserved concurrency to 0 (soft retire; "
            "configuration, rule, targets and permission are snapshotted for rollback).",
        },
        *[
            {
                "step": Step.FINALIZE,
                "action": ChangeAction.DELETE,
                "resource_type": "AWS::Events::Rule",
                "resource": schedule.rule,
                "description": f"At finalize: remove the targets of {schedule.rule}, then the "
                "rule.",
            }
            for schedule in deployment.schedules
        ],
        {
            "step": Step.FINALIZE,
            "action": ChangeAction.DELETE,
            "resource_type": "AWS::Lambda::Function",
            "resource": function.name,
            "description": f"At finalize: re-check the fingerprint, then delete the invoke "
            f"permission and the function {function.name}.",
        },
        {
            "step": Step.FINALIZE,
            "action": ChangeAction.DELETE,
            "resource_type": "AWS::ElasticLoadBalancingV2::TargetGroup",
            "resource": deployment.target_group_arn,
            "description": "Optional at finalize (--delete-target-group): delete the old IP "
            f"group {deployment.target_group_name}.",
        },
    ]
    if deployment.s3_bucket:
        changes.append(
            {
                "step": Step.FINALIZE,
                "action": ChangeAction.DELETE,
                "resource_type": "AWS::S3::Object",
                "resource": f"s3://{deployment.s3_bucket}/ (objects under the ALB DNS name)",
                "description": "Optional at finalize (--delete-state): delete the legacy "
                "function's S3 state objects.",
            }
        )
    return [PlannedChange(order=i, **change) for i, change in enumerate(changes, start=1)]
