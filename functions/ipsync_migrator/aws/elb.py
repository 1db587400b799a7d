"""Elastic Load Balancing v2 adapter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import NotFoundError

TAG_BATCH = 20  # DescribeTags accepts at most 20 resource ARNs per call


class LoadBalancing:
    """Reads (and, for the engine, writes) load balancers, listeners and target groups."""

    def __init__(self, clients: ClientFactory):
        self._elb = clients.client("elbv2")

    def load_balancers(self) -> list[dict[str, Any]]:
        with aws_call("elasticloadbalancing:DescribeLoadBalancers"):
            pages = self._elb.get_paginator("describe_load_balancers").paginate(
                PaginationConfig={"PageSize": 400}
            )
            return [lb for page in pages for lb in page["LoadBalancers"]]

    def target_groups(self) -> list[dict[str, Any]]:
        with aws_call("elasticloadbalancing:DescribeTargetGroups"):
            pages = self._elb.get_paginator("describe_target_groups").paginate(
                PaginationConfig={"PageSize": 400}
            )
            return [tg for page in pages for tg in page["TargetGroups"]]

    def listeners(self, load_balancer_arn: str) -> list[dict[str, Any]]:
        with aws_call("elasticloadbalancing:DescribeListeners"):
            pages = self._elb.get_paginator("describe_listeners").paginate(
                LoadBalancerArn=load_balancer_arn, PaginationConfig={"PageSize": 400}
            )
            return [li for page in pages for li in page["Listeners"]]

    def load_balancer_attributes(self, arn: str) -> dict[str, str]:
        with aws_call("elasticloadbalancing:DescribeLoadBalancerAttributes"):
            response = self._elb.describe_load_balancer_attributes(LoadBalancerArn=arn)
        return {a["Key"]: a["Value"] for a in response["Attributes"]}

    def target_group_attributes(self, arn: str) -> dict[str, str]:
        with aws_call("elasticloadbalancing:DescribeTargetGroupAttributes"):
            response = self._elb.describe_target_group_attributes(TargetGroupArn=arn)
        return {a["Key"]: a["Value"] for a in response["Attributes"]}

    def target_health(self, target_group_arn: str) -> list[dict[str, Any]]:
        with aws_call("elasticloadbalancing:DescribeTargetHealth"):
            response = self._elb.describe_target_health(TargetGroupArn=target_group_arn)
        return list(response["TargetHealthDescriptions"])

    def tags(self, arns: Iterable[str]) -> dict[str, dict[str, str]]:
        """Tags of many resources, batched."""
        unique = list(dict.fromkeys(arns))
        result: dict[str, dict[str, str]] = {}
        for start in range(0, len(unique), TAG_BATCH):
            with aws_call("elasticloadbalancing:DescribeTags"):
                response = self._elb.describe_tags(ResourceArns=unique[start : start + TAG_BATCH])
            for description in response["TagDescriptions"]:
                result[description["ResourceArn"]] = {
                    t["Key"]: t.get("Value", "") for t in description.get("Tags", [])
                }
        return result

    # --- writes (the engine) -----------------------------------------------------------

    def target_group_by_name(self, name: str) -> dict[str, Any] | None:
        try:
            with aws_call("elasticloadbalancing:DescribeTargetGroups"):
                groups = self._elb.describe_target_groups(Names=[name])["TargetGroups"]
        except NotFoundError:
            return None
        return groups[0] if groups else None

    def target_group(self, arn: str) -> dict[str, Any] | None:
        try:
            with aws_call("elasticloadbalancing:DescribeTargetGroups"):
                groups = self._elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
        except NotFoundError:
            return None
        return groups[0] if groups else None

    def create_target_group(self, **params: Any) -> dict[str, Any]:
        with aws_call("elasticloadbalancing:CreateTargetGroup"):
            return dict(self._elb.create_target_group(**params)["TargetGroups"][0])

    def set_healthy_threshold(self, target_group_arn: str, count: int) -> None:
        with aws_call("elasticloadbalancing:ModifyTargetGroup"):
            self._elb.modify_target_group(
                TargetGroupArn=target_group_arn, HealthyThresholdCount=count
            )

    def register_targets(self, target_group_arn: str, targets: list[dict[str, Any]]) -> None:
        with aws_call("elasticloadbalancing:RegisterTargets"):
            self._elb.register_targets(TargetGroupArn=target_group_arn, Targets=targets)

    def deregister_targets(self, target_group_arn: str, targets: list[dict[str, Any]]) -> None:
        with aws_call("elasticloadbalancing:DeregisterTargets"):
            self._elb.deregister_targets(TargetGroupArn=target_group_arn, Targets=targets)

    def delete_target_group(self, arn: str) -> None:
        """Delete a target group; a group that is already gone is fine."""
        try:
            with aws_call("elasticloadbalancing:DeleteTargetGroup"):
                self._elb.delete_target_group(TargetGroupArn=arn)
        except NotFoundError:
            return

    def listener(self, arn: str) -> dict[str, Any] | None:
        try:
            with aws_call("elasticloadbalancing:DescribeListeners"):
                listeners = self._elb.describe_listeners(ListenerArns=[arn])["Listeners"]
        except NotFoundError:
            return None
        return listeners[0] if listeners else None

    def create_listener(self, **params: Any) -> dict[str, Any]:
        with aws_call("elasticloadbalancing:CreateListener"):
            return dict(self._elb.create_listener(**params)["Listeners"][0])

    def set_default_actions(self, listener_arn: str, actions: list[dict[str, Any]]) -> None:
        with aws_call("elasticloadbalancing:ModifyListener"):
            self._elb.modify_listener(ListenerArn=listener_arn, DefaultActions=actions)

    def delete_listener(self, arn: str) -> None:
        """Delete a listener; one that is already gone is fine."""
        try:
            with aws_call("elasticloadbalancing:DeleteListener"):
                self._elb.delete_listener(ListenerArn=arn)
        except NotFoundError:
            return
