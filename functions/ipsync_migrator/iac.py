"""Template patches: what a person changes in CloudFormation or Terraform so the next
`deploy` / `apply` keeps the migration instead of silently reverting it."""

from __future__ import annotations

import re

from ipsync_migrator.models import Deployment, TargetGroupSpec


def template_patches(deployment: Deployment, spec: TargetGroupSpec) -> dict[str, str]:
    """CloudFormation and Terraform snippets for the new group and each listener's action."""
    return {
        "cloudformation": _cloudformation(deployment, spec),
        "terraform": _terraform(deployment, spec),
    }


def _logical_id(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]", name) if part)


def _cloudformation(deployment: Deployment, spec: TargetGroupSpec) -> str:
    check = spec.health_check
    group_id = _logical_id(spec.name) + "TargetGroup"
    lines = [
        "# Add the alb target group (replaces the IP group synced by the Lambda):",
        "Resources:",
        f"  {group_id}:",
        "    Type: AWS::ElasticLoadBalancingV2::TargetGroup",
        "    Properties:",
        f"      Name: {spec.name}",
        "      TargetType: alb",
        "      Protocol: TCP",
        f"      Port: {spec.port}",
        f"      VpcId: {spec.vpc_id}",
        f"      HealthCheckProtocol: {check.protocol}",
        f"      HealthCheckPath: {check.path or '/'}",
        f"      HealthCheckPort: {check.port}",
        "      Targets:",
        f"        - Id: {deployment.application_load_balancer_arn}",
        f"          Port: {spec.port}",
        "",
        "# Then, in each NLB listener that forwarded to the old group:",
    ]
    for nlb in deployment.network_load_balancers:
        for listener in nlb.listeners:
            lines += [
                f"#   {nlb.name} {listener.protocol}:{listener.port} ({listener.arn})",
                "      DefaultActions:",
                "        - Type: forward",
                f"          TargetGroupArn: !Ref {group_id}",
            ]
    lines += [
        "",
        "# And remove the legacy function, its schedule rule, invoke permission and the IP",
        f"# target group {deployment.target_group_name} once the migration is finalized.",
    ]
    return "\n".join(lines) + "\n"


def _terraform(deployment: Deployment, spec: TargetGroupSpec) -> str:
    check = spec.health_check
    name = spec.name.replace("-", "_")
    lines = [
        f'resource "aws_lb_target_group" "{name}" {{',
        f'  name        = "{spec.name}"',
        '  target_type = "alb"',
        '  protocol    = "TCP"',
        f"  port        = {spec.port}",
        f'  vpc_id      = "{spec.vpc_id}"',
        "  health_check {",
        f'    protocol = "{check.protocol}"',
        f'    path     = "{check.path or "/"}"',
        f'    port     = "{check.port}"',
        "  }",
        "}",
        "",
        f'resource "aws_lb_target_group_attachment" "{name}" {{',
        f"  target_group_arn = aws_lb_target_group.{name}.arn",
        f'  target_id        = "{deployment.application_load_balancer_arn}"',
        f"  port             = {spec.port}",
        "}",
        "",
        "# In each aws_lb_listener that forwarded to the old group:",
    ]
    for nlb in deployment.network_load_balancers:
        for listener in nlb.listeners:
            lines += [
                f"#   {nlb.name} {listener.protocol}:{listener.port}",
                "  default_action {",
                '    type             = "forward"',
                f"    target_group_arn = aws_lb_target_group.{name}.arn",
                "  }",
            ]
    lines += [
        "",
        "# Then remove the IP-sync module (function, schedule, permission) after finalize;",
        f'# until then, `target_type = "ip"` on {deployment.target_group_name} stays as it is.',
    ]
    return "\n".join(lines) + "\n"
