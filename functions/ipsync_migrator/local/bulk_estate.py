"""A bulk estate: many migratable legacy deployments in one account and region, seeded fast.

Each deployment is an IP target group behind its own NLB listener, synced by its own legacy
function (v1, no schedule) from an ALB. The VPC, the load balancers and the role go through
the API (``EstateBuilder``); the groups, listeners and functions through moto's backends,
the calls the API would make (each request costs this emulator about 12 ms: thousands of them
would be most of a test or benchmark). Relied on: ``elbv2_backends[account][region]``'s
``create_target_group`` / ``create_listener`` and ``lambda_backends[account][region]``'s
``create_function`` take what the API handlers pass them. Lambda code never imports this.
"""

from __future__ import annotations

import base64
import json

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.estate import (
    LEGACY_CODE,
    LEGACY_DESCRIPTION,
    LEGACY_HANDLER,
    EstateBuilder,
    legacy_environment,
)

__all__ = ["LISTENERS_PER_NLB", "seed_bulk"]

#: Listeners per NLB in the bulk estate (ports 10000 and up).
LISTENERS_PER_NLB = 250
#: An ALB can be the target of at most two alb groups (local/realism.py, DOMAIN.md section 2).
DEPLOYMENTS_PER_ALB = 2


def seed_bulk(
    clients: ClientFactory, account: str, count: int, *, migratable_albs: bool = False
) -> list[str]:
    """`count` migratable legacy deployments in `clients`' account and region; their groups.

    One ALB serves them all unless `migratable_albs`: then each pair of deployments has its
    own, so every one of them can also be migrated (an ALB is the target of at most two alb
    groups), at the cost of an ALB per pair.
    """
    from moto.awslambda.models import lambda_backends
    from moto.elbv2.models import elbv2_backends

    region = clients.region
    tag = f"{account[-2:]}-{region}"
    builder = EstateBuilder(clients)
    vpc = builder.vpc("10.20.0.0/16")
    alb_count = -(-count // DEPLOYMENTS_PER_ALB) if migratable_albs else 1
    albs = [builder.alb(f"bulk-alb-{tag}-{a}"[:32], vpc) for a in range(alb_count)]
    nlbs = [
        builder.nlb(f"bulk-nlb-{tag}-{k}"[:32], vpc) for k in range(-(-count // LISTENERS_PER_NLB))
    ]
    role = clients.client("iam").create_role(
        RoleName=f"bulk-legacy-role-{region}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"}),
    )["Role"]["Arn"]
    elb, lam = elbv2_backends[account][region], lambda_backends[account][region]
    code = base64.b64encode(LEGACY_CODE).decode()
    groups = []
    for i in range(count):
        group = elb.create_target_group(
            f"bulk-{tag}-{i:04d}"[:32],
            vpc_id=vpc.id,
            protocol="TCP",
            port=80,
            target_type="ip",
            healthcheck_protocol="TCP",
        )
        elb.create_listener(
            load_balancer_arn=nlbs[i // LISTENERS_PER_NLB].arn,
            protocol="TCP",
            # As the API handler passes them (parsed by the botocore model: Port an int;
            # SslPolicy its default when the request has none).
            port=10000 + i % LISTENERS_PER_NLB,  # type: ignore[arg-type]
            ssl_policy="ELBSecurityPolicy-2016-08",
            certificate=None,
            actions=[{"Type": "forward", "TargetGroupArn": group.arn}],
        )
        alb = albs[i // DEPLOYMENTS_PER_ALB if migratable_albs else 0]
        lam.create_function(
            {
                "FunctionName": f"bulk-{tag}-{i:04d}-ip-sync",
                "Runtime": "python3.13",
                "Role": role,
                "Handler": LEGACY_HANDLER,
                "Description": LEGACY_DESCRIPTION,
                "Code": {"ZipFile": code},
                "Environment": {
                    "Variables": legacy_environment(
                        alb.dns_name, group.arn, f"bulk-{tag}-{i:04d}-state", region
                    )
                },
            }
        )
        groups.append(group.arn)
    return groups
