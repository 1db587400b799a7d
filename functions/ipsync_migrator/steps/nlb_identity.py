"""The NLB's identity: what its clients see, recorded at preflight and verified after.

Teams deployed the workaround to keep what an NLB gives its clients: its DNS name, one static
address per zone (an Elastic IP, or a private IPv4 address for an internal NLB) and the VPC
endpoint services (PrivateLink) in front of it. A migration changes only listener actions, so
all of it must read the same after cutover and after rollback; `status` and the report show
the check. Reads only: a failed read is recorded as "not verified", never fails the step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ipsync_migrator.errors import IpsyncError
from ipsync_migrator.journal import MigrationRecord, utc_now

if TYPE_CHECKING:  # the report imports `summary`: no AWS adapters at its import
    from ipsync_migrator.models import Deployment
    from ipsync_migrator.steps.context import StepContext

#: When the identity is checked again (keys of the record's `nlb_identity["checks"]`).
AFTER_CUTOVER, AFTER_ROLLBACK = "cutover", "rollback"


def read_identity(ctx: StepContext, nlb_arns: list[str]) -> dict[str, dict[str, Any]]:
    """Each NLB's DNS name, per-zone addresses and endpoint services, by ARN (two reads)."""
    balancers = {lb["LoadBalancerArn"]: lb for lb in ctx.elb.load_balancers()}
    services = ctx.network.endpoint_services(nlb_arns)
    return {arn: _identity(balancers.get(arn), services.get(arn, [])) for arn in sorted(nlb_arns)}


def record_identity(ctx: StepContext, deployment: Deployment) -> dict[str, Any]:
    """The `nlb_identity` a new migration journals: the NLBs as they are before any change."""
    arns = [nlb.arn for nlb in deployment.network_load_balancers]
    return {"before": read_identity(ctx, arns), "checks": {}}


def verify_identity(ctx: StepContext, record: MigrationRecord, after: str) -> dict[str, Any]:
    """Read the NLBs again, compare with `before`, and put the check on `record` (unsaved)."""
    before = (record.nlb_identity or {}).get("before")
    if not before:
        return {}
    check: dict[str, Any] = {"at": utc_now()}
    try:
        now = read_identity(ctx, sorted(before))
    except IpsyncError as exc:
        check |= {"verified": False, "error": exc.message}
    else:
        changes = differences(before, now)
        check |= {"verified": True, "unchanged": not changes, "differences": changes}
    record.nlb_identity = {**record.nlb_identity, "checks": {**_checks(record), after: check}}
    return check


def summary(identity: dict[str, Any]) -> str:
    """One line for `status` and the report: what was checked and how it read."""
    before = identity.get("before") or {}
    if not before:
        return ""
    zones = sum(len(i.get("zones", {})) for i in before.values())
    eips = sum(
        1
        for i in before.values()
        for addresses in i.get("zones", {}).values()
        for a in addresses
        if a.get("allocationId")
    )
    services = sum(len(i.get("endpointServices", [])) for i in before.values())
    what = (
        f"{len(before)} NLB(s): DNS name, {zones} zone address(es), {eips} Elastic IP(s), "
        f"{services} endpoint service(s)"
    )
    checks = [f"{after} {_verdict(check)}" for after, check in identity.get("checks", {}).items()]
    return what + (f"; after {', after '.join(checks)}" if checks else "; recorded")


def differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """What changed, one sentence per property and NLB (empty: clients see the same NLBs)."""
    changes = []
    for arn, was in sorted(before.items()):
        name = arn.split("/")[-2] if "/" in arn else arn
        is_ = now.get(arn, {"missing": True})
        if is_.get("missing") and not was.get("missing"):
            changes.append(f"{name}: the NLB is gone")
            continue
        for key, label in (
            ("dnsName", "DNS name"),
            ("zones", "zone addresses"),
            ("endpointServices", "endpoint services"),
        ):
            if was.get(key) != is_.get(key):
                changes.append(f"{name}: {label} {was.get(key)} -> {is_.get(key)}")
    return changes


def _identity(balancer: dict[str, Any] | None, services: list[str]) -> dict[str, Any]:
    if balancer is None:
        return {"missing": True}
    return {
        "dnsName": balancer.get("DNSName", ""),
        "zones": {
            zone["ZoneName"]: sorted(
                (
                    {
                        key: value
                        for key, value in (
                            ("ipAddress", a.get("IpAddress")),
                            ("allocationId", a.get("AllocationId")),
                            ("privateIPv4Address", a.get("PrivateIPv4Address")),
                            ("ipv6Address", a.get("IPv6Address")),
                        )
                        if value
                    }
                    for a in zone.get("LoadBalancerAddresses", [])
                ),
                key=lambda a: sorted(a.items()),
            )
            for zone in balancer.get("AvailabilityZones", [])
        },
        "endpointServices": services,
    }


def _checks(record: MigrationRecord) -> dict[str, Any]:
    return dict((record.nlb_identity or {}).get("checks", {}))


def _verdict(check: dict[str, Any]) -> str:
    if not check.get("verified"):
        return f"not verified ({check.get('error', 'no read')})"
    if check.get("unchanged"):
        return "unchanged"
    return "CHANGED: " + "; ".join(check.get("differences", []))
