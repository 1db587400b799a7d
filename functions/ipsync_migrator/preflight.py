"""Classify one legacy deployment: verdict and findings (DOMAIN.md section 2).

Pure functions over `DeploymentFacts`, which discovery reads from AWS; nothing here calls AWS.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ipsync_migrator.fingerprint import Fingerprint
from ipsync_migrator.models import (
    Finding,
    FindingCode,
    HealthCheck,
    LegacyFunction,
    Schedule,
    Severity,
    Verdict,
)

#: Attribute values of an IP-type TCP group that an `alb` group also has; anything else is lost.
ALB_GROUP_EQUIVALENT_ATTRIBUTES = {
    "deregistration_delay.timeout_seconds": "300",
    "deregistration_delay.connection_termination.enabled": "false",
    "stickiness.enabled": "false",
    "stickiness.type": "source_ip",
    "proxy_protocol_v2.enabled": "false",
    "preserve_client_ip.enabled": "false",
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "target_health_state.unhealthy.connection_termination.enabled": "true",
    "target_health_state.unhealthy.draining_interval_seconds": "0",
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
}
ALB_NLB_LIMIT = 2
NLB_TARGETS_PER_AZ = 500


@dataclass(frozen=True)
class NlbFacts:
    """An NLB and those of its listeners whose default actions forward to the legacy group."""

    load_balancer: dict[str, Any]
    attributes: dict[str, str]
    listeners: list[dict[str, Any]]


@dataclass(frozen=True)
class DeploymentFacts:
    """Everything discovery read about one legacy deployment, in AWS's shapes."""

    function: LegacyFunction
    fingerprint: Fingerprint
    schedules: list[Schedule]
    target_group: dict[str, Any] | None
    target_group_attributes: dict[str, str] = field(default_factory=dict)
    nlbs: list[NlbFacts] = field(default_factory=list)
    alb: dict[str, Any] | None = None
    alb_listeners: list[dict[str, Any]] = field(default_factory=list)
    alb_security_groups: list[dict[str, Any]] = field(default_factory=list)
    vpc_cidrs: list[str] = field(default_factory=list)
    #: Other `alb`-type groups that have this ALB registered (ARNs), excluding our own.
    other_alb_groups: list[str] = field(default_factory=list)
    #: Stack names of CloudFormation-managed resources, keyed by a human label.
    stacks: dict[str, str] = field(default_factory=dict)
    #: How the ALB was found (a human-readable signal), when it was.
    alb_found_by: str = ""
    #: The IP addresses registered in the legacy group now (None: not read).
    group_target_ips: list[str] | None = None
    #: The ALB's current ENI addresses (None: not read, or the ALB is not known here).
    alb_ips: list[str] | None = None
    #: The function's Errors and Throttles of the last 24 h (None: not read).
    metrics: dict[str, int] | None = None

    @property
    def alb_port(self) -> int | None:
        if self.fingerprint.alb_port is not None:
            return self.fingerprint.alb_port
        return self.target_group.get("Port") if self.target_group else None

    def alb_listener_on(self, port: int | None) -> dict[str, Any] | None:
        return next((li for li in self.alb_listeners if li.get("Port") == port), None)


def lost_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """Attributes of the old group whose values an `alb` group cannot have."""
    return {
        key: value
        for key, value in attributes.items()
        if key in ALB_GROUP_EQUIVALENT_ATTRIBUTES and ALB_GROUP_EQUIVALENT_ATTRIBUTES[key] != value
    }


def verdict_of(findings: list[Finding]) -> Verdict:
    if any(f.code == FindingCode.TARGET_GROUP_NOT_FOUND for f in findings):
        return Verdict.ORPHANED
    if any(f.code == FindingCode.ALB_UNCONFIRMED for f in findings):
        return Verdict.POSSIBLE
    if any(f.severity == Severity.BLOCKER for f in findings):
        return Verdict.BLOCKED
    return Verdict.MIGRATABLE


def classify(facts: DeploymentFacts) -> list[Finding]:
    """All findings for one deployment, blockers first."""
    findings = _schedule_findings(facts) + _activity_findings(facts) + _iac_findings(facts)
    if facts.target_group is None:
        findings.insert(0, _target_group_not_found(facts))
        return findings
    if facts.alb is None and not _names_an_alb(facts):
        # Nothing says it is an ALB: never blocked, never told to retire a working sync.
        return [_alb_unconfirmed(facts), *findings]
    findings += _target_group_findings(facts) + _listener_findings(facts)
    if facts.alb is None:
        findings.append(_alb_not_found(facts))
    else:
        findings += _alb_findings(facts) + _sync_findings(facts)
    order = {Severity.BLOCKER: 0, Severity.WARNING: 1, Severity.INFO: 2}
    return sorted(findings, key=lambda f: order[f.severity])


def translate_health_check(facts: DeploymentFacts) -> tuple[HealthCheck, list[Finding]]:
    """The alb group's health check, translated from the legacy group's, with what changed."""
    assert facts.target_group is not None
    old = facts.target_group
    old_protocol = old.get("HealthCheckProtocol", "TCP")
    old_port = old.get("HealthCheckPort", "traffic-port")
    traffic_listener = facts.alb_listener_on(facts.alb_port)
    protocol = traffic_listener.get("Protocol", "HTTP") if traffic_listener else "HTTP"
    port = "traffic-port"
    findings: list[Finding] = []
    if old_protocol in ("HTTP", "HTTPS") and old_port != "traffic-port":
        named = facts.alb_listener_on(int(old_port))
        if named is not None and named.get("Protocol") == old_protocol:
            protocol, port = old_protocol, old_port
        else:
            findings.append(
                Finding(
                    code=FindingCode.HEALTH_CHECK_LISTENER_MISSING,
                    severity=Severity.WARNING,
                    message=(
                        f"The old health check uses {old_protocol} on port {old_port}, but the "
                        "ALB has no such listener; health checks of an alb group go through "
                        "an ALB listener."
                    ),
                    remediation=(
                        f"The plan checks {protocol} on the traffic port ({facts.alb_port}) "
                        f"instead; add an {old_protocol} listener on port {old_port} to the "
                        "ALB first if that port must be checked."
                    ),
                )
            )
    path = old.get("HealthCheckPath") if old_protocol in ("HTTP", "HTTPS") else None
    check = HealthCheck(
        protocol=protocol,
        port=port,
        path=path or "/",
        interval_seconds=int(old.get("HealthCheckIntervalSeconds", 30)),
        healthy_threshold=int(old.get("HealthyThresholdCount", 5)),
    )
    findings.append(
        Finding(
            code=FindingCode.HEALTH_CHECK_TRANSLATED,
            severity=Severity.INFO,
            message=(
                f"Health check {old_protocol}:{old_port} becomes {check.protocol} GET "
                f"{check.path} on {check.port} through the ALB (success codes 200-399, "
                "unhealthy threshold 2, fixed timeout)."
            ),
            remediation="Make sure the ALB answers that path with 2xx/3xx.",
        )
    )
    return check, findings


# --- the rules --------------------------------------------------------------------------


def _finding(code: FindingCode, severity: Severity, message: str, remediation: str) -> Finding:
    return Finding(code=code, severity=severity, message=message, remediation=remediation)


#: The command that cleans an orphaned deployment up (retire, later delete; undoable).
ORPHAN_CLEANUP_COMMAND = "ipsync-migrator cleanup-orphan"


def _target_group_not_found(facts: DeploymentFacts) -> Finding:
    stack = facts.stacks.get("function")
    return _finding(
        FindingCode.TARGET_GROUP_NOT_FOUND,
        Severity.BLOCKER,
        f"Target group {facts.fingerprint.target_group_arn} no longer exists; the function "
        "syncs into nothing.",
        f"Nothing to migrate: `{ORPHAN_CLEANUP_COMMAND} ID` retires the function and its "
        "schedule (snapshot first, `--undo` restores them), and with `--delete` later "
        "deletes them" + (f"; or delete its CloudFormation stack '{stack}'." if stack else "."),
    )


def _names_an_alb(facts: DeploymentFacts) -> bool:
    """True when the function's own reference can only be an ALB (an ALB-shaped DNS name, an
    `app/<name>/<id>` ARN or ENI description), though no such ALB is here."""
    reference = facts.fingerprint.alb_reference
    return reference is not None and reference.looks_like_alb


def _alb_unconfirmed(facts: DeploymentFacts) -> Finding:
    reference = facts.fingerprint.alb_reference
    named = f"names '{reference.value}' ({reference.source})" if reference else "names no ALB"
    return _finding(
        FindingCode.ALB_UNCONFIRMED,
        Severity.WARNING,
        f"The function is shaped like the IP-sync workaround and {named}, but no ALB in this "
        "account and region has that name, and the target group's addresses are not an "
        "ALB's: it may sync a load balancer elsewhere (a CNAME to it), or something that is "
        "not an ALB.",
        "Nothing is changed for it. If it syncs an ALB, point the function at the ALB's DNS "
        "name or ARN (or run discovery in the ALB's account and region) and re-run "
        "discovery; if it syncs something else, it is not this workaround: keep it.",
    )


def _alb_not_found(facts: DeploymentFacts) -> Finding:
    return _finding(
        FindingCode.ALB_NOT_FOUND,
        Severity.BLOCKER,
        f"No application load balancer named {facts.fingerprint.alb_dns_name} in this account "
        "and region: it is in another account or region, or it was deleted.",
        "An alb target group needs the ALB in the same account and VPC: keep the Lambda for "
        "this deployment, or re-run discovery in the ALB's account and region. Only if the "
        "ALB is known to be deleted is the function useless (then delete it and its "
        "schedule).",
    )


def _sync_findings(facts: DeploymentFacts) -> list[Finding]:
    """Is the workaround working today? The IP group against the ALB's current ENIs."""
    if facts.group_target_ips is None or not facts.alb_ips:
        return []
    registered, current = set(facts.group_target_ips), set(facts.alb_ips)
    stale, missing = sorted(registered - current), sorted(current - registered)
    if not stale and not missing:
        return []
    parts = []
    if stale:
        parts.append(f"holds {', '.join(stale)}, which are not the ALB's addresses now")
    if missing:
        parts.append(f"lacks the ALB's current {', '.join(missing)}")
    return [
        _finding(
            FindingCode.SYNC_BROKEN,
            Severity.WARNING,
            f"The IP target group {' and '.join(parts)}: the sync is broken now, and clients "
            "reaching a stale address fail.",
            "Migrate soon: the alb target group follows the ALB's addresses by itself. Until "
            "then check the function's logs and errors (VPC functions need DNS and ELB API "
            "access).",
        )
    ]


def _activity_findings(facts: DeploymentFacts) -> list[Finding]:
    if facts.metrics is None:
        return []
    errors, throttles = facts.metrics.get("Errors", 0), facts.metrics.get("Throttles", 0)
    enabled = [s for s in facts.schedules if s.enabled]
    schedule = (
        ", ".join(f"{s.rule} {s.expression} enabled" for s in enabled)
        if enabled
        else "no enabled schedule"
    )
    failing = bool(errors or throttles)
    return [
        _finding(
            FindingCode.FUNCTION_ACTIVITY,
            Severity.WARNING if failing else Severity.INFO,
            f"In the last 24 h the function had {errors} errors and {throttles} throttles; "
            f"schedule: {schedule}.",
            "Failing runs leave the IP group stale: migrate it first."
            if failing
            else "Nothing to do: the numbers say how urgent the migration is.",
        )
    ]


def _schedule_findings(facts: DeploymentFacts) -> list[Finding]:
    shared = [
        _finding(
            FindingCode.SCHEDULE_SHARED,
            Severity.WARNING,
            f"Schedule rule {s.rule} also invokes {', '.join(s.other_targets)}: retiring "
            "the legacy function removes only its target from the rule (rollback puts it "
            "back), so the other targets keep running.",
            f"If {s.rule} is managed as code, remove the function's target there too after "
            "finalize, or the next deploy puts it back.",
        )
        for s in facts.schedules
        if s.other_targets
    ]
    if any(s.enabled for s in facts.schedules):
        return shared
    what = "has no schedule rule" if not facts.schedules else "has only disabled schedules"
    return [
        *shared,
        _finding(
            FindingCode.SCHEDULE_DISABLED,
            Severity.WARNING,
            f"The function {what}: the target group may hold stale ALB IPs.",
            "Check the old group's targets before migrating; rollback leaves the schedule "
            "as it found it.",
        ),
    ]


def _iac_findings(facts: DeploymentFacts) -> list[Finding]:
    return [
        _finding(
            FindingCode.IAC_MANAGED,
            Severity.WARNING,
            f"The {label} belongs to CloudFormation stack '{stack}': the next stack update "
            "reverts changes made outside it.",
            f"Apply the migration's template patch to stack '{stack}' after cutover (or delete "
            "the legacy stack at finalize).",
        )
        for label, stack in sorted(facts.stacks.items())
    ]


def _target_group_findings(facts: DeploymentFacts) -> list[Finding]:
    assert facts.target_group is not None
    group = facts.target_group
    findings: list[Finding] = []
    if group.get("TargetType") != "ip" or group.get("Protocol") != "TCP":
        findings.append(
            _finding(
                FindingCode.TARGET_GROUP_NOT_IP_TCP,
                Severity.BLOCKER,
                f"Target group {group['TargetGroupName']} is {group.get('TargetType')}/"
                f"{group.get('Protocol')}; only IP-type TCP groups can be replaced by an "
                "alb group.",
                "Keep the Lambda for this group, or rebuild it as an IP-type TCP group first.",
            )
        )
    if facts.fingerprint.same_vpc is False or (
        facts.alb is not None and facts.alb.get("VpcId") != group.get("VpcId")
    ):
        findings.append(
            _finding(
                FindingCode.CROSS_VPC,
                Severity.BLOCKER,
                "The ALB is in another VPC than the NLB's target group (SAME_VPC=false or "
                "different VpcId); alb target groups need both in the same VPC and account.",
                "Keep the Lambda for this deployment, or move the NLB into the ALB's VPC.",
            )
        )
    lost = lost_attributes(facts.target_group_attributes)
    if lost:
        listed = ", ".join(f"{k}={v}" for k, v in sorted(lost.items()))
        findings.append(
            _finding(
                FindingCode.ATTRIBUTES_LOST,
                Severity.WARNING,
                f"These attributes of the old group cannot be set on an alb group and are "
                f"lost: {listed}.",
                "Confirm the application does not depend on them (an alb group always uses a "
                "300 s deregistration delay, no stickiness, no proxy protocol).",
            )
        )
    return findings


_PROTOCOL_REMEDIATION = {
    "TLS": "Move TLS termination to an HTTPS listener on the ALB, then change the NLB "
    "listener to TCP (its certificate is dropped), then migrate.",
    "UDP": "ALBs do not serve UDP: keep the Lambda for this listener.",
    "TCP_UDP": "ALBs do not serve UDP: split the listener into a TCP listener (migratable) "
    "and keep UDP on the IP group.",
}


def _listener_findings(facts: DeploymentFacts) -> list[Finding]:
    listeners = [li for nlb in facts.nlbs for li in nlb.listeners]
    if not listeners:
        return [
            _finding(
                FindingCode.TARGET_GROUP_UNUSED,
                Severity.BLOCKER,
                "No NLB listener forwards to the legacy target group: there is no traffic to move.",
                "If the group is no longer needed, retire the function; otherwise attach the "
                "group to an NLB listener and re-run discovery.",
            )
        ]
    return [
        _finding(
            FindingCode.LISTENER_PROTOCOL_UNSUPPORTED,
            Severity.BLOCKER,
            f"NLB listener {li['Protocol']}:{li['Port']} cannot forward to an alb target "
            "group (only TCP listeners can).",
            _PROTOCOL_REMEDIATION.get(li["Protocol"], "Change the listener to TCP."),
        )
        for li in listeners
        if li.get("Protocol") != "TCP"
    ]


def _alb_findings(facts: DeploymentFacts) -> list[Finding]:
    assert facts.alb is not None
    findings: list[Finding] = []
    alb_name = facts.alb["LoadBalancerName"]
    if facts.alb_listener_on(facts.alb_port) is None:
        ports = ", ".join(str(li["Port"]) for li in facts.alb_listeners) or "none"
        findings.append(
            _finding(
                FindingCode.ALB_LISTENER_PORT_MISSING,
                Severity.BLOCKER,
                f"ALB {alb_name} has no listener on port {facts.alb_port} (its ports: "
                f"{ports}); an alb group's port must equal an ALB listener port.",
                f"Add a listener on port {facts.alb_port} to the ALB, or fix ALB_LISTENER.",
            )
        )
    else:
        findings += translate_health_check(facts)[1]
    if len(facts.other_alb_groups) >= ALB_NLB_LIMIT:
        findings.append(
            _finding(
                FindingCode.ALB_NLB_LIMIT,
                # AWS's pages disagree on the limit (DOMAIN.md section 6): AWS enforces it at
                # RegisterTargets, and a refusal there rolls the migration back cleanly.
                Severity.WARNING,
                f"ALB {alb_name} is already the target of {len(facts.other_alb_groups)} alb "
                f"target groups; older AWS guides allow an ALB behind at most {ALB_NLB_LIMIT} "
                "NLBs, so AWS may refuse to register it. If it does, the migration rolls back "
                "with nothing changed.",
                "If AWS refuses: detach the ALB from one of those groups ("
                + ", ".join(facts.other_alb_groups)
                + "), or keep the Lambda.",
            )
        )
    findings += _zone_findings(facts) + _security_group_findings(facts)
    return findings


def _zone_findings(facts: DeploymentFacts) -> list[Finding]:
    assert facts.alb is not None
    findings: list[Finding] = []
    alb_zones = {z["ZoneName"] for z in facts.alb.get("AvailabilityZones", [])}
    # An ALB always balances across zones at the load-balancer level (its attribute, where
    # an API reports one, does not apply to ALBs).
    alb_cross_zone = "true"
    for nlb in facts.nlbs:
        name = nlb.load_balancer["LoadBalancerName"]
        nlb_zones = {z["ZoneName"] for z in nlb.load_balancer.get("AvailabilityZones", [])}
        missing = sorted(nlb_zones - alb_zones)
        if missing:
            findings.append(
                _finding(
                    FindingCode.AZ_MISMATCH,
                    Severity.WARNING,
                    f"NLB {name} serves zones the ALB does not: {', '.join(missing)}.",
                    "Enable those Availability Zones on the ALB (or cross-zone load balancing "
                    "on the NLB) before cutover.",
                )
            )
        nlb_cross_zone = nlb.attributes.get("load_balancing.cross_zone.enabled", "false")
        if nlb_cross_zone != alb_cross_zone:
            findings.append(
                _finding(
                    FindingCode.CROSS_ZONE_MISMATCH,
                    Severity.WARNING,
                    f"Cross-zone load balancing is {nlb_cross_zone} on NLB {name} and "
                    f"{alb_cross_zone} on the ALB; a mismatch can cause intermittent 503s.",
                    "Set load_balancing.cross_zone.enabled to the same value on both.",
                )
            )
        units = 100 if nlb_cross_zone == "true" else 50
        findings.append(
            _finding(
                FindingCode.NLB_TARGET_QUOTA,
                Severity.INFO,
                f"The ALB will use {units} of NLB {name}'s {NLB_TARGETS_PER_AZ} targets per "
                "Availability Zone.",
                "Check the NLB's target quota if it has many other targets.",
            )
        )
    return findings


def _security_group_findings(facts: DeploymentFacts) -> list[Finding]:
    public = [nlb for nlb in facts.nlbs if nlb.load_balancer.get("Scheme") == "internet-facing"]
    if not public or not facts.alb_security_groups:
        return []
    port = facts.alb_port
    sources: list[str] = []
    for group in facts.alb_security_groups:
        for rule in group.get("IpPermissions", []):
            if rule.get("IpProtocol") != "-1" and not (
                rule.get("FromPort", 0) <= (port or 0) <= rule.get("ToPort", 65535)
            ):
                continue
            sources += [r["CidrIp"] for r in rule.get("IpRanges", [])]
            sources += [r["CidrIpv6"] for r in rule.get("Ipv6Ranges", [])]
            if rule.get("PrefixListIds") or rule.get("UserIdGroupPairs"):
                sources.append("non-cidr")
    if any(_is_public_source(s) for s in sources):
        return []
    return [
        _finding(
            FindingCode.ALB_SECURITY_GROUP,
            Severity.WARNING,
            f"The NLB is internet-facing but the ALB's security groups admit port {port} only "
            f"from {', '.join(sorted(set(sources))) or 'nowhere'}; behind an alb target group "
            "the ALB may see client IPs instead of the NLB's private IPs.",
            f"Allow the NLB's client sources on port {port} in the ALB's security group "
            "before cutover (verify with a test client after the probe is healthy).",
        )
    ]


def _is_public_source(source: str) -> bool:
    if source == "non-cidr":
        return True
    try:
        network = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return True
    return not network.is_private
