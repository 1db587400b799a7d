"""Build `DeploymentFacts` in AWS's shapes for unit tests: a migratable baseline to vary."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ipsync_migrator.fingerprint import fingerprint
from ipsync_migrator.models import LegacyFunction, Schedule, Variant
from ipsync_migrator.preflight import DeploymentFacts, NlbFacts

ACCOUNT = "123456789012"
TG_ARN = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/web-ip/0123456789abcdef"
ALB_ARN = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/app/web-alb/1111"
NLB_ARN = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:loadbalancer/net/web-nlb/2222"
LISTENER_ARN = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/net/web-nlb/2222/3333"
ALB_DNS = "web-alb-1111.us-east-1.elb.amazonaws.com"
VPC = "vpc-1"
ZONES = [{"ZoneName": "us-east-1a"}, {"ZoneName": "us-east-1b"}]

ENV = {
    "ALB_DNS_NAME": ALB_DNS,
    "ALB_LISTENER": "80",
    "NLB_TG_ARN": TG_ARN,
    "S3_BUCKET": "state",
    "MAX_LOOKUP_PER_INVOCATION": "50",
    "INVOCATIONS_BEFORE_DEREGISTRATION": "3",
    "CW_METRIC_FLAG_IP_COUNT": "True",
}


def target_group(**overrides: Any) -> dict[str, Any]:
    return {
        "TargetGroupArn": TG_ARN,
        "TargetGroupName": "web-ip",
        "Protocol": "TCP",
        "Port": 80,
        "VpcId": VPC,
        "TargetType": "ip",
        "HealthCheckProtocol": "TCP",
        "HealthCheckPort": "traffic-port",
        "HealthCheckIntervalSeconds": 30,
        "HealthyThresholdCount": 3,
        "LoadBalancerArns": [NLB_ARN],
        **overrides,
    }


def nlb_listener(protocol: str = "TCP", port: int = 80) -> dict[str, Any]:
    return {
        "ListenerArn": LISTENER_ARN,
        "Protocol": protocol,
        "Port": port,
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": TG_ARN}],
    }


def nlb(
    scheme: str = "internal", cross_zone: str = "true", zones: list[dict[str, str]] | None = None
) -> NlbFacts:
    return NlbFacts(
        load_balancer={
            "LoadBalancerArn": NLB_ARN,
            "LoadBalancerName": "web-nlb",
            "Type": "network",
            "Scheme": scheme,
            "VpcId": VPC,
            "AvailabilityZones": zones if zones is not None else ZONES,
        },
        attributes={"load_balancing.cross_zone.enabled": cross_zone},
        listeners=[nlb_listener()],
    )


def alb(**overrides: Any) -> dict[str, Any]:
    return {
        "LoadBalancerArn": ALB_ARN,
        "LoadBalancerName": "web-alb",
        "DNSName": ALB_DNS,
        "Type": "application",
        "Scheme": "internal",
        "VpcId": VPC,
        "AvailabilityZones": ZONES,
        "SecurityGroups": ["sg-1"],
        **overrides,
    }


def security_group(*cidrs: str, port: int = 80) -> dict[str, Any]:
    return {
        "GroupId": "sg-1",
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": c} for c in cidrs],
            }
        ],
    }


def facts(env: dict[str, str] | None = None, **overrides: Any) -> DeploymentFacts:
    """A migratable deployment; override any field to make it otherwise."""
    environment = env or ENV
    found = fingerprint(environment)
    assert found is not None
    base = DeploymentFacts(
        function=LegacyFunction(
            arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:web-sync",
            name="web-sync",
            variant=Variant.V1,
            environment=environment,
        ),
        fingerprint=found,
        schedules=[Schedule(rule="web-sync-schedule", expression="rate(1 minute)", enabled=True)],
        target_group=target_group(),
        target_group_attributes={"deregistration_delay.timeout_seconds": "300"},
        nlbs=[nlb()],
        alb=alb(),
        alb_listeners=[{"Port": 80, "Protocol": "HTTP"}],
        alb_security_groups=[security_group("0.0.0.0/0")],
        vpc_cidrs=["10.0.0.0/16"],
    )
    return replace(base, **overrides)
