"""Network interfaces for application load balancers in the emulator.

AWS gives an ALB one ENI per subnet, described ``ELB app/<name>/<id>`` and requested by
``amazon-elb``; rollback finds the ALB's current IPs through them. moto creates none, so this
module keeps the EC2 backend's ENIs in step with the ELBv2 backend's ALBs.
"""

from __future__ import annotations

from typing import Any

REQUESTER_ID = "amazon-elb"
_PREFIX = "ELB app/"


def eni_description(balancer: Any) -> str:
    """``ELB app/<name>/<id>``: the id is the last path part of the ALB ARN."""
    return f"{_PREFIX}{balancer.name}/{balancer.arn.rsplit('/', 1)[-1]}"


def _is_ours(eni: Any) -> bool:
    description = getattr(eni, "description", "") or ""
    return getattr(eni, "requester_id", None) == REQUESTER_ID and description.startswith(_PREFIX)


def sync_alb_enis(ec2_backend: Any, elbv2_backend: Any) -> None:
    """Create missing ALB ENIs and remove those of deleted ALBs or dropped subnets.

    Relies on moto's EC2 backend keeping ENIs in ``enis`` (id -> NetworkInterface) and on
    ``create_network_interface(subnet, private_ip_address, group_ids=..., description=...)``
    picking a free private IP in the subnet when given none.
    """
    wanted: dict[tuple[str, str], tuple[Any, Any]] = {}
    for balancer in elbv2_backend.load_balancers.values():
        if balancer.type != "application":
            continue
        for subnet in balancer.subnets:
            wanted[(eni_description(balancer), subnet.id)] = (balancer, subnet)

    present: set[tuple[str, str]] = set()
    for eni in list(ec2_backend.enis.values()):
        if not _is_ours(eni):
            continue
        key = (eni.description, eni.subnet.id)
        if key in wanted and key not in present:
            present.add(key)
        else:
            ec2_backend.enis.pop(eni.id, None)

    for key, (balancer, subnet) in wanted.items():
        if key in present:
            continue
        # Only groups that exist: moto would otherwise invent a security group per unknown id.
        groups = [
            group_id
            for group_id in balancer.security_groups or []
            if ec2_backend.get_security_group_from_id(group_id) is not None
        ]
        eni = ec2_backend.create_network_interface(
            subnet, None, group_ids=groups or None, description=key[0]
        )
        eni.requester_id = REQUESTER_ID
        eni.requester_managed = True
        eni.interface_type = "interface"
