"""Amazon EC2 adapter: security groups, VPCs, the ALB's network interfaces and the NLBs'
endpoint services."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory


class Network:
    def __init__(self, clients: ClientFactory):
        self._ec2 = clients.client("ec2")

    def security_groups(self, group_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        ids = sorted(set(group_ids))
        if not ids:
            return {}
        with aws_call("ec2:DescribeSecurityGroups"):
            pages = self._ec2.get_paginator("describe_security_groups").paginate(GroupIds=ids)
            return {sg["GroupId"]: sg for page in pages for sg in page["SecurityGroups"]}

    def vpc_cidrs(self, vpc_ids: Iterable[str]) -> dict[str, list[str]]:
        ids = sorted(set(vpc_ids))
        if not ids:
            return {}
        with aws_call("ec2:DescribeVpcs"):
            vpcs = self._ec2.describe_vpcs(VpcIds=ids)["Vpcs"]
        return {
            vpc["VpcId"]: [a["CidrBlock"] for a in vpc.get("CidrBlockAssociationSet", [])]
            or [vpc["CidrBlock"]]
            for vpc in vpcs
        }

    def endpoint_services(self, nlb_arns: Iterable[str]) -> dict[str, list[str]]:
        """The VPC endpoint services (PrivateLink) in front of each NLB, by NLB ARN.

        DescribeVpcEndpointServiceConfigurations has no load-balancer filter (service-name,
        service-id, service-state, supported-ip-address-types and tags only: docs.aws.amazon.com/
        AWSEC2/latest/APIReference/API_DescribeVpcEndpointServiceConfigurations.html), so the
        region's services are listed and matched here.
        """
        wanted = set(nlb_arns)
        found: dict[str, list[str]] = {arn: [] for arn in wanted}
        if not wanted:
            return found
        with aws_call("ec2:DescribeVpcEndpointServiceConfigurations"):
            pages = self._ec2.get_paginator(
                "describe_vpc_endpoint_service_configurations"
            ).paginate()
            for page in pages:
                for service in page["ServiceConfigurations"]:
                    for arn in wanted.intersection(service.get("NetworkLoadBalancerArns", [])):
                        found[arn].append(service["ServiceId"])
        return {arn: sorted(ids) for arn, ids in found.items()}

    def alb_interfaces(self) -> dict[str, list[dict[str, str]]]:
        """Every ALB's ENIs in the region, by ENI description `ELB app/<name>/<id>` (one list).

        EC2 filter values accept `*` wildcards (docs.aws.amazon.com/AWSEC2/latest/UserGuide/
        Using_Filtering.html); AWS gives each ALB one such ENI per subnet, requested by
        amazon-elb.
        """
        with aws_call("ec2:DescribeNetworkInterfaces"):
            pages = self._ec2.get_paginator("describe_network_interfaces").paginate(
                Filters=[{"Name": "description", "Values": ["ELB app/*"]}],
                PaginationConfig={"PageSize": 1000},
            )
            interfaces = [eni for page in pages for eni in page["NetworkInterfaces"]]
        result: dict[str, list[dict[str, str]]] = {}
        for eni in interfaces:
            for address in eni.get("PrivateIpAddresses") or [
                {"PrivateIpAddress": eni.get("PrivateIpAddress")}
            ]:
                if address.get("PrivateIpAddress"):
                    result.setdefault(eni.get("Description", ""), []).append(
                        {
                            "ip": address["PrivateIpAddress"],
                            "availabilityZone": eni.get("AvailabilityZone", ""),
                        }
                    )
        return result

    def load_balancer_ips(self, load_balancer_arn: str) -> list[dict[str, str]]:
        """Private IPs (with their AZ) of an ALB, from ENIs described `ELB app/<name>/<id>`."""
        name, lb_id = load_balancer_arn.split(":loadbalancer/", 1)[1].split("/")[1:3]
        description = f"ELB app/{name}/{lb_id}"
        with aws_call("ec2:DescribeNetworkInterfaces"):
            pages = self._ec2.get_paginator("describe_network_interfaces").paginate(
                Filters=[{"Name": "description", "Values": [description]}]
            )
            interfaces = [eni for page in pages for eni in page["NetworkInterfaces"]]
        return [
            {"ip": eni["PrivateIpAddress"], "availabilityZone": eni["AvailabilityZone"]}
            for eni in interfaces
            if eni.get("PrivateIpAddress")
        ]
