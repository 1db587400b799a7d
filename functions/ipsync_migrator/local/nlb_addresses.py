"""Per-zone addresses of network load balancers in the emulator.

AWS gives an NLB one address per subnet: the Elastic IP of the subnet mapping's
``AllocationId``, an AWS-assigned public address when an internet-facing NLB has none, and a
private IPv4 address in the subnet; DescribeLoadBalancers lists them under
``AvailabilityZones[].LoadBalancerAddresses`` (docs.aws.amazon.com/elasticloadbalancing/latest/
APIReference/API_LoadBalancerAddress.html).
moto keeps none (its AvailabilityZone holds a zone name and a subnet id), so this module
assigns them when an NLB is created and serves them with the zones.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from moto.ec2.utils import random_public_ip

#: Attribute of moto's FakeLoadBalancer holding {subnet id: [LoadBalancerAddress]}.
ADDRESSES = "ipsync_addresses"


def assign_nlb_addresses(
    ec2_backend: Any, balancer: Any, subnet_mappings: list[dict[str, Any]] | None
) -> None:
    """Give a new NLB its addresses: the mapped EIPs (and private IPs), or assigned ones.

    Relies on moto's FakeLoadBalancer having ``type``, ``scheme`` and ``subnets`` (Subnet
    objects with ``id`` and ``cidr_block``) and on the EC2 backend's ``addresses`` list of
    ElasticAddress (``allocation_id``, ``public_ip``).
    """
    if balancer.type != "network":
        return
    mappings = {m["SubnetId"]: m for m in subnet_mappings or []}
    eips = {a.allocation_id: a.public_ip for a in ec2_backend.addresses}
    addresses: dict[str, list[dict[str, str]]] = {}
    for subnet in balancer.subnets:
        mapping = mappings.get(subnet.id, {})
        private = mapping.get("PrivateIPv4Address") or _private_address(subnet.cidr_block)
        address = {"PrivateIPv4Address": private}
        if balancer.scheme != "internal":  # AWS's default scheme is internet-facing
            allocation = mapping.get("AllocationId")
            if allocation:
                address |= {"IpAddress": eips.get(allocation, ""), "AllocationId": allocation}
            else:
                address["IpAddress"] = random_public_ip()
        addresses[subnet.id] = [address]
    setattr(balancer, ADDRESSES, addresses)


def with_addresses(balancer: Any, zones: list[Any]) -> list[Any]:
    """moto's AvailabilityZone objects of `balancer`, each with its LoadBalancerAddresses."""
    addresses = getattr(balancer, ADDRESSES, {})
    for zone in zones:
        zone.load_balancer_addresses = addresses.get(zone.subnet_id, [])
    return zones


def _private_address(cidr: str) -> str:
    """A fixed host of the subnet (AWS picks a free one; the emulator needs only a stable one)."""
    network = ipaddress.ip_network(cidr, strict=False)
    return str(network.network_address + 200)
