"""Which listeners forward to a target group now: found again, never taken from the plan.

A listener someone adds after the plan (or during the bake and the drain) must not be left
forwarding to the legacy group once its sync is retired. So cutover, retire, finalize and the
bake read, right before they act, the listeners of every load balancer that routes to the
group: those AWS lists in the group's LoadBalancerArns, read now, and the deployment's own
NLBs. An NLB's target group serves one load balancer
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/create-target-group.html:
"You can specify the same target group in multiple listeners, but these listeners must belong
to the same Network Load Balancer"), so that is one load balancer's listeners, or a few, never
every NLB of the region.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ipsync_migrator.discovery import forwards_to
from ipsync_migrator.journal import MigrationRecord
from ipsync_migrator.steps.context import StepContext, deployment_of


def load_balancers_using(ctx: StepContext, record: MigrationRecord, group_arn: str) -> list[str]:
    """The deployment's NLBs and those AWS lists as routing to `group_arn`.

    LoadBalancerArns: "the load balancers that route traffic to this target group"
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroup.html).
    """
    arns = {nlb.arn for nlb in deployment_of(record).network_load_balancers}
    group = ctx.elb.target_group(group_arn)
    if group is not None:
        arns |= set(group.get("LoadBalancerArns", []))
    return sorted(arns)


def listeners_of(ctx: StepContext, load_balancer_arns: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Every listener of these load balancers, read now, by ARN."""
    return {
        listener["ListenerArn"]: listener
        for lb_arn in load_balancer_arns
        for listener in ctx.elb.listeners(lb_arn)
    }


def forwarding_to(
    listeners: dict[str, dict[str, Any]], group_arn: str
) -> dict[str, dict[str, Any]]:
    """Those of `listeners` whose default actions forward to `group_arn`."""
    return {
        arn: listener
        for arn, listener in listeners.items()
        if forwards_to(listener.get("DefaultActions", []), group_arn)
    }


def listeners_forwarding_to(
    ctx: StepContext, group_arn: str, load_balancer_arns: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The listeners of these load balancers whose default actions forward to `group_arn`."""
    return forwarding_to(listeners_of(ctx, load_balancer_arns), group_arn)


def group_users(
    ctx: StepContext, record: MigrationRecord, group_arn: str
) -> dict[str, dict[str, Any]]:
    """Every listener that forwards to `group_arn`, read now."""
    return listeners_forwarding_to(ctx, group_arn, load_balancers_using(ctx, record, group_arn))


def legacy_group_users(ctx: StepContext, record: MigrationRecord) -> dict[str, dict[str, Any]]:
    """Every listener that forwards to the legacy IP group, read now."""
    return group_users(ctx, record, deployment_of(record).target_group_arn)


def describe(listener: dict[str, Any]) -> str:
    return f"{listener['ListenerArn']} ({listener.get('Protocol')}:{listener.get('Port')})"
