"""Which listeners forward to a target group now: found again, never taken from the plan.

A listener someone adds after the plan (or during the bake and the drain) must not be left
forwarding to the legacy group once its sync is retired. So cutover, retire and finalize look
at every listener of every network load balancer in the region, right before they write; the
bake, which polls, looks at the load balancers AWS says use the group (LoadBalancerArns) and
the deployment's own.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ipsync_migrator.discovery import forwards_to
from ipsync_migrator.journal import MigrationRecord
from ipsync_migrator.steps.context import StepContext, deployment_of


def network_load_balancer_arns(ctx: StepContext) -> list[str]:
    """Every network load balancer of the region (only NLBs forward to these groups)."""
    return sorted(
        lb["LoadBalancerArn"] for lb in ctx.elb.load_balancers() if lb.get("Type") == "network"
    )


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


def listeners_forwarding_to(
    ctx: StepContext, group_arn: str, load_balancer_arns: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """The listeners of these load balancers whose default actions forward to `group_arn`."""
    found: dict[str, dict[str, Any]] = {}
    for lb_arn in load_balancer_arns:
        for listener in ctx.elb.listeners(lb_arn):
            if forwards_to(listener.get("DefaultActions", []), group_arn):
                found[listener["ListenerArn"]] = listener
    return found


def legacy_group_users(ctx: StepContext, record: MigrationRecord) -> dict[str, dict[str, Any]]:
    """Every listener in the region that forwards to the legacy IP group, read now."""
    legacy = deployment_of(record).target_group_arn
    return listeners_forwarding_to(ctx, legacy, network_load_balancer_arns(ctx))


def describe(listener: dict[str, Any]) -> str:
    return f"{listener['ListenerArn']} ({listener.get('Protocol')}:{listener.get('Port')})"
