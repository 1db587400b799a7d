"""Elastic Load Balancing v2 adapter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory

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
