"""Classification: every finding code, from facts in AWS's shapes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ipsync_migrator.models import FindingCode, Severity, Verdict
from ipsync_migrator.preflight import DeploymentFacts, classify, translate_health_check, verdict_of
from tests.unit import facts as f


def codes(deployment: DeploymentFacts) -> dict[FindingCode, Severity]:
    return {finding.code: finding.severity for finding in classify(deployment)}


def test_baseline_is_migratable_with_only_informational_findings() -> None:
    findings = classify(f.facts())
    assert verdict_of(findings) == Verdict.MIGRATABLE
    assert {x.code for x in findings} == {
        FindingCode.HEALTH_CHECK_TRANSLATED,
        FindingCode.NLB_TARGET_QUOTA,
    }


def test_every_finding_has_a_message_and_remediation() -> None:
    deployment = f.facts(
        target_group=f.target_group(Protocol="UDP"),
        nlbs=[replace(f.nlb(), listeners=[f.nlb_listener("TLS")])],
    )
    for finding in classify(deployment):
        assert finding.message and finding.remediation, finding.code


def test_missing_target_group_is_orphaned() -> None:
    findings = classify(f.facts(target_group=None, nlbs=[], alb=None))
    assert findings[0].code == FindingCode.TARGET_GROUP_NOT_FOUND
    assert verdict_of(findings) == Verdict.ORPHANED


def test_missing_alb_blocks_with_cross_account_explanation() -> None:
    findings = classify(f.facts(alb=None, alb_listeners=[]))
    assert verdict_of(findings) == Verdict.BLOCKED
    blocker = next(x for x in findings if x.code == FindingCode.ALB_NOT_FOUND)
    assert "another account" in blocker.message


@pytest.mark.parametrize(
    "deployment",
    [
        f.facts(env={**f.ENV, "SAME_VPC": "false"}),
        f.facts(alb=f.alb(VpcId="vpc-2")),
    ],
    ids=["same-vpc-false", "different-vpc-ids"],
)
def test_cross_vpc_blocks(deployment: DeploymentFacts) -> None:
    assert codes(deployment)[FindingCode.CROSS_VPC] == Severity.BLOCKER


@pytest.mark.parametrize(
    "group", [f.target_group(TargetType="instance"), f.target_group(Protocol="TCP_UDP")]
)
def test_target_group_must_be_ip_tcp(group: dict[str, object]) -> None:
    assert codes(f.facts(target_group=group))[FindingCode.TARGET_GROUP_NOT_IP_TCP] == (
        Severity.BLOCKER
    )


@pytest.mark.parametrize("protocol", ["TLS", "UDP", "TCP_UDP"])
def test_non_tcp_nlb_listeners_block_with_specific_remediation(protocol: str) -> None:
    deployment = f.facts(nlbs=[replace(f.nlb(), listeners=[f.nlb_listener(protocol)])])
    blocker = next(
        x for x in classify(deployment) if x.code == FindingCode.LISTENER_PROTOCOL_UNSUPPORTED
    )
    assert blocker.severity == Severity.BLOCKER
    if protocol == "TLS":
        assert "HTTPS listener on the ALB" in blocker.remediation


def test_alb_without_listener_on_alb_port_blocks() -> None:
    deployment = f.facts(alb_listeners=[{"Port": 443, "Protocol": "HTTPS"}])
    assert codes(deployment)[FindingCode.ALB_LISTENER_PORT_MISSING] == Severity.BLOCKER


def test_alb_port_falls_back_to_the_target_group_port() -> None:
    env = {k: v for k, v in f.ENV.items() if k != "ALB_LISTENER"}
    deployment = f.facts(env=env, target_group=f.target_group(Port=8080))
    assert deployment.alb_port == 8080
    assert FindingCode.ALB_LISTENER_PORT_MISSING in codes(deployment)


def test_alb_already_behind_two_nlbs_warns_but_one_does_not() -> None:
    one = f.facts(other_alb_groups=["tg-a"])
    two = f.facts(other_alb_groups=["tg-a", "tg-b"])
    assert FindingCode.ALB_NLB_LIMIT not in codes(one)
    # AWS's pages disagree on the limit: AWS enforces it at registration, we only warn.
    assert codes(two)[FindingCode.ALB_NLB_LIMIT] == Severity.WARNING


def test_no_listener_forwarding_means_unused_group() -> None:
    deployment = f.facts(nlbs=[])
    assert codes(deployment)[FindingCode.TARGET_GROUP_UNUSED] == Severity.BLOCKER


def test_tcp_health_check_becomes_http_on_traffic_port() -> None:
    check, findings = translate_health_check(f.facts())
    assert (check.protocol, check.port, check.path) == ("HTTP", "traffic-port", "/")
    assert check.healthy_threshold == 3
    assert [x.code for x in findings] == [FindingCode.HEALTH_CHECK_TRANSLATED]


def test_https_alb_listener_gives_https_health_check() -> None:
    deployment = f.facts(
        env={**f.ENV, "ALB_LISTENER": "443"}, alb_listeners=[{"Port": 443, "Protocol": "HTTPS"}]
    )
    assert translate_health_check(deployment)[0].protocol == "HTTPS"


def test_health_check_on_a_port_the_alb_does_not_serve_is_flagged() -> None:
    group = f.target_group(
        HealthCheckProtocol="HTTP", HealthCheckPort="8081", HealthCheckPath="/healthz"
    )
    check, findings = translate_health_check(f.facts(target_group=group))
    assert (check.port, check.path) == ("traffic-port", "/healthz")
    assert FindingCode.HEALTH_CHECK_LISTENER_MISSING in {x.code for x in findings}


def test_health_check_on_a_served_port_is_kept() -> None:
    group = f.target_group(HealthCheckProtocol="HTTP", HealthCheckPort="8081")
    deployment = f.facts(
        target_group=group,
        alb_listeners=[{"Port": 80, "Protocol": "HTTP"}, {"Port": 8081, "Protocol": "HTTP"}],
    )
    assert translate_health_check(deployment)[0].port == "8081"


def test_non_default_attributes_are_reported_lost() -> None:
    deployment = f.facts(
        target_group_attributes={
            "deregistration_delay.timeout_seconds": "30",
            "proxy_protocol_v2.enabled": "true",
            "stickiness.enabled": "false",
        }
    )
    lost = next(x for x in classify(deployment) if x.code == FindingCode.ATTRIBUTES_LOST)
    assert "deregistration_delay.timeout_seconds=30" in lost.message
    assert "proxy_protocol_v2.enabled=true" in lost.message
    assert "stickiness" not in lost.message


def test_cross_zone_off_on_the_nlb_mismatches_the_alb() -> None:
    assert codes(f.facts(nlbs=[f.nlb(cross_zone="false")]))[FindingCode.CROSS_ZONE_MISMATCH] == (
        Severity.WARNING
    )


def test_nlb_zone_missing_on_alb_is_flagged() -> None:
    deployment = f.facts(alb=f.alb(AvailabilityZones=[{"ZoneName": "us-east-1a"}]))
    assert codes(deployment)[FindingCode.AZ_MISMATCH] == Severity.WARNING


def test_internet_facing_nlb_with_vpc_only_alb_security_group_warns() -> None:
    deployment = f.facts(
        nlbs=[f.nlb(scheme="internet-facing")],
        alb_security_groups=[f.security_group("10.0.0.0/16")],
    )
    assert codes(deployment)[FindingCode.ALB_SECURITY_GROUP] == Severity.WARNING


@pytest.mark.parametrize(
    ("scheme", "cidr"), [("internet-facing", "0.0.0.0/0"), ("internal", "10.0.0.0/16")]
)
def test_security_group_is_fine_when_public_or_internal(scheme: str, cidr: str) -> None:
    deployment = f.facts(nlbs=[f.nlb(scheme=scheme)], alb_security_groups=[f.security_group(cidr)])
    assert FindingCode.ALB_SECURITY_GROUP not in codes(deployment)


def test_quota_units_depend_on_cross_zone() -> None:
    on = next(x for x in classify(f.facts()) if x.code == FindingCode.NLB_TARGET_QUOTA)
    off = next(
        x
        for x in classify(f.facts(nlbs=[f.nlb(cross_zone="false")]))
        if x.code == FindingCode.NLB_TARGET_QUOTA
    )
    assert "use 100 of" in on.message and "use 50 of" in off.message


def test_cloudformation_ownership_is_reported_per_resource() -> None:
    deployment = f.facts(stacks={"function": "legacy-sync", "target group": "edge"})
    iac = [x for x in classify(deployment) if x.code == FindingCode.IAC_MANAGED]
    assert len(iac) == 2 and all(x.severity == Severity.WARNING for x in iac)


def test_disabled_or_missing_schedule_is_reported() -> None:
    disabled = f.facts(schedules=[f.facts().schedules[0].model_copy(update={"enabled": False})])
    missing = f.facts(schedules=[])
    assert FindingCode.SCHEDULE_DISABLED in codes(disabled)
    assert FindingCode.SCHEDULE_DISABLED in codes(missing)


def test_blockers_come_first() -> None:
    findings = classify(f.facts(alb=f.alb(VpcId="vpc-2"), nlbs=[f.nlb(cross_zone="false")]))
    severities = [x.severity for x in findings]
    assert severities == sorted(
        severities, key=[Severity.BLOCKER, Severity.WARNING, Severity.INFO].index
    )
