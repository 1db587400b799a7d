"""`finalize --delete-stack`: delete a legacy stack that holds only the legacy deployment.

Deleting the stack instead of its resources leaves no drift behind. It is refused when the
stack holds anything else (a load balancer, a listener, another function, a bucket...).
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.aws.stacks import Stacks
from ipsync_migrator.errors import StepPreconditionError
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.steps.context import StepContext, deployment_of
from ipsync_migrator.steps.retire import recheck_fingerprint

#: What the published template (and its copies) deploys next to the function.
LEGACY_RESOURCE_TYPES = frozenset(
    {
        "AWS::Lambda::Function",
        "AWS::Lambda::Permission",
        "AWS::Events::Rule",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Logs::LogGroup",
    }
)


def foreign_resources(
    resources: list[dict[str, Any]], function_name: str, rules: set[str]
) -> list[str]:
    """Resources of the stack that are not part of the legacy deployment (empty: deletable)."""
    foreign = []
    for resource in resources:
        kind, physical = resource["ResourceType"], resource.get("PhysicalResourceId", "")
        if kind not in LEGACY_RESOURCE_TYPES:
            foreign.append(f"{resource['LogicalResourceId']} ({kind})")
        elif kind == "AWS::Lambda::Function" and physical != function_name:
            foreign.append(f"{resource['LogicalResourceId']} (another function: {physical})")
        elif kind == "AWS::Events::Rule" and physical.split("|")[0] not in rules:
            foreign.append(f"{resource['LogicalResourceId']} (another rule: {physical})")
    return foreign


def delete_legacy_stack(ctx: StepContext, migration_id: str) -> dict[str, Any]:
    """Delete the retired legacy function's stack, or refuse and say what else it holds."""
    record = ctx.load(migration_id)
    deployment = deployment_of(record)
    stack = deployment.function.stack_name
    if record.state != MigrationState.RETIRED:
        raise StepPreconditionError(
            f"Migration '{migration_id}' is {record.state.value}, not retired.",
            "Delete the legacy stack only after the migration is retired.",
        )
    if not stack:
        raise StepPreconditionError(
            f"The legacy function {deployment.function.name} belongs to no CloudFormation stack.",
            "Run `ipsync-migrator finalize ID` without --delete-stack.",
        )
    stacks = Stacks(ctx.clients)
    rules = {s.rule for s in deployment.schedules}
    foreign = foreign_resources(stacks.resources(stack), deployment.function.name, rules)
    if foreign:
        raise StepPreconditionError(
            f"Stack '{stack}' holds more than the legacy deployment: {', '.join(foreign)}.",
            "Remove the legacy resources from that template and update the stack, or run "
            "`ipsync-migrator finalize ID` without --delete-stack.",
        )
    recheck_fingerprint(ctx, deployment, record.legacy_snapshot)
    stacks.delete(stack)
    return {"deletedStack": stack}
