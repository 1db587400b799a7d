"""Discovery of the workaround's public variants, and of look-alikes it must never report.

The estate (local/variants.py) is seeded with the realism adapter on, so ALBs have their
ENIs and the IP groups hold the ALBs' real addresses.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.discovery import discover
from ipsync_migrator.local.estate import EstateBuilder, LoadBalancer, Vpc
from ipsync_migrator.local.realism import Realism
from ipsync_migrator.local.variants import VariantEstate, seed_variants
from ipsync_migrator.models import (
    Confidence,
    Deployment,
    DiscoveryReport,
    FindingCode,
    Severity,
    Variant,
    Verdict,
)


@pytest.fixture
def realism(aws: ClientFactory) -> Iterator[Realism]:
    with Realism() as adapter:
        yield adapter


@pytest.fixture
def variants(aws: ClientFactory, realism: Realism) -> VariantEstate:
    return seed_variants(aws)


@pytest.fixture
def report(aws: ClientFactory, variants: VariantEstate) -> DiscoveryReport:
    return discover(aws)


def by_group(report: DiscoveryReport, target_group_arn: str) -> Deployment:
    [found] = [d for d in report.deployments if d.target_group_arn == target_group_arn]
    return found


def codes(deployment: Deployment, severity: Severity | None = None) -> set[FindingCode]:
    return {f.code for f in deployment.findings if severity in (None, f.severity)}


def test_every_variant_is_found_migratable_and_confirmed_by_its_data(
    report: DiscoveryReport, variants: VariantEstate
) -> None:
    # Given variants modelled on public Terraform, CDK, Node.js, Input and hostname copies
    groups = [
        variants.terraform_tg,
        variants.input_tg,
        variants.by_name_tg,
        variants.by_arn_tg,
        variants.by_suffix_tg,
        *variants.multi_port_tgs,
        variants.by_eni_tg,
        variants.broken_tg,
    ]
    # Then each is migratable, and the IP group's targets being the ALB's ENIs confirm it
    for arn in groups:
        deployment = by_group(report, arn)
        assert deployment.verdict == Verdict.MIGRATABLE, (arn, deployment.findings)
        assert deployment.confidence == Confidence.CONFIRMED, deployment.signals
        assert deployment.signals[0].startswith("data: the IP group's targets")
        assert deployment.proposed_target_group is not None


@pytest.mark.parametrize(
    ("fixture", "signal"),
    [
        ("by_name_tg", "env ALB_NAME resolves to ALB legacy27-alb by name"),
        ("by_arn_tg", "env ALB_ARN resolves to ALB node-alb by arn"),
        ("by_suffix_tg", "env albName resolves to ALB cdk-alb by arn"),
        ("input_tg", "input albDescription resolves to ALB input-alb by eni description"),
        ("terraform_tg", "env ALB_DNS_NAME resolves to ALB tf-alb by dns name"),
    ],
)
def test_the_alb_is_resolved_by_name_arn_suffix_eni_description_or_dns_name(
    report: DiscoveryReport, variants: VariantEstate, fixture: str, signal: str
) -> None:
    deployment = by_group(report, getattr(variants, fixture))
    assert signal in deployment.signals
    assert deployment.application_load_balancer_arn is not None


def test_parameters_in_the_schedule_input_with_a_cron_rule_of_two_targets(
    report: DiscoveryReport, variants: VariantEstate
) -> None:
    deployment = by_group(report, variants.input_tg)
    assert deployment.function.name == "alb-ip-register"
    assert "parameters in the schedule target's Input" in deployment.signals
    [schedule] = deployment.schedules
    assert (schedule.expression, schedule.enabled) == ("cron(0/1 * * * ? *)", True)
    assert [t.split(":")[2] for t in schedule.other_targets] == ["sns"]
    # The rule also notifies a topic: retiring removes only the function's target
    assert FindingCode.SCHEDULE_SHARED in codes(deployment, Severity.WARNING)
    assert deployment.alb_port == 80


def test_renamed_handlers_old_runtimes_and_vpc_functions_are_normal(
    aws: ClientFactory, report: DiscoveryReport, variants: VariantEstate
) -> None:
    lam = aws.client("lambda")
    runtimes = {
        d.function.name: lam.get_function_configuration(FunctionName=d.function.name)["Runtime"]
        for d in report.deployments
    }
    assert runtimes["legacy27-sync"] == "python2.7"
    assert runtimes["node-alb-eni-sync"] == "nodejs18.x"
    cname = by_group(report, variants.by_eni_tg)
    assert lam.get_function_configuration(FunctionName="cname-sync")["VpcConfig"]["SubnetIds"]
    # A hostname sync of a company CNAME: the ALB is known only from its ENIs
    assert cname.function.variant == Variant.HOSTNAME
    assert any("found by its ENIs" in s for s in cname.signals)
    assert cname.function.handler == "lambda_function.lambda_handler"


def test_one_function_feeding_two_groups_is_two_deployments_that_know_each_other(
    report: DiscoveryReport, variants: VariantEstate
) -> None:
    http_tg, https_tg = variants.multi_port_tgs
    http, https = by_group(report, http_tg), by_group(report, https_tg)
    assert (http.alb_port, https.alb_port) == (80, 443)
    assert http.function.arn == https.function.arn
    assert https.alb_listener_protocol == "HTTPS"
    for deployment, other in ((http, https), (https, http)):
        [shared] = [f for f in deployment.findings if f.code == FindingCode.FUNCTION_SHARED]
        assert shared.severity == Severity.WARNING
        assert other.id in shared.message and other.id in shared.remediation


def test_a_sibling_that_cannot_migrate_blocks_the_shared_function(
    aws: ClientFactory, variants: VariantEstate
) -> None:
    # Given the 443 group's NLB listener turned into TLS (that group cannot migrate)
    elb = aws.client("elbv2")
    http_tg, https_tg = variants.multi_port_tgs
    [group] = elb.describe_target_groups(TargetGroupArns=[https_tg])["TargetGroups"]
    [listener] = [
        li
        for li in elb.describe_listeners(LoadBalancerArn=group["LoadBalancerArns"][0])["Listeners"]
        if li["Port"] == 443
    ]
    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    [nlb] = elb.describe_load_balancers(LoadBalancerArns=[group["LoadBalancerArns"][0]])[
        "LoadBalancers"
    ]
    b = EstateBuilder(aws)
    vpc = Vpc(nlb["VpcId"], "", [], [])
    lb = LoadBalancer(nlb["LoadBalancerArn"], nlb["LoadBalancerName"], nlb["DNSName"], vpc)
    b.listener(lb, 443, https_tg, protocol="TLS")

    # When discovery runs (also when asked about the 80 group alone, as preflight does)
    for report in (discover(aws), discover(aws, target_group_arn=http_tg)):
        http = by_group(report, http_tg)
        # Then retiring the shared function would stop the TLS group's sync: blocked
        assert http.verdict == Verdict.BLOCKED
        assert FindingCode.FUNCTION_SHARED in codes(http, Severity.BLOCKER)
        assert http.proposed_target_group is None


def test_a_broken_sync_and_a_failing_function_are_findings(
    report: DiscoveryReport, variants: VariantEstate
) -> None:
    broken = by_group(report, variants.broken_tg)
    [sync] = [f for f in broken.findings if f.code == FindingCode.SYNC_BROKEN]
    assert sync.severity == Severity.WARNING
    assert variants.broken_stale_ip in sync.message
    assert variants.broken_missing_ip in sync.message
    [activity] = [f for f in broken.findings if f.code == FindingCode.FUNCTION_ACTIVITY]
    assert activity.severity == Severity.WARNING
    assert "1440 errors and 3 throttles" in activity.message
    assert "rate(1 minute) enabled" in activity.message
    # A working sync has neither a broken-sync finding nor a failing-function warning
    healthy = by_group(report, variants.terraform_tg)
    assert FindingCode.SYNC_BROKEN not in codes(healthy)
    [quiet] = [f for f in healthy.findings if f.code == FindingCode.FUNCTION_ACTIVITY]
    assert quiet.severity == Severity.INFO and "0 errors and 0 throttles" in quiet.message


def test_a_disabled_schedule_shows_in_the_activity_finding(
    aws: ClientFactory, variants: VariantEstate
) -> None:
    aws.client("events").disable_rule(Name="example-nlb-tg-updater-trigger")
    deployment = by_group(discover(aws), variants.terraform_tg)
    [activity] = [f for f in deployment.findings if f.code == FindingCode.FUNCTION_ACTIVITY]
    assert "no enabled schedule" in activity.message
    assert FindingCode.SCHEDULE_DISABLED in codes(deployment)


def test_look_alikes_are_never_reported(report: DiscoveryReport, variants: VariantEstate) -> None:
    names = {d.function.name for d in report.deployments}
    assert names.isdisjoint(variants.lookalikes)
    assert len(report.deployments) == 10


def test_an_unconfirmed_alb_is_possible_with_its_evidence_never_blocked(
    report: DiscoveryReport, variants: VariantEstate
) -> None:
    possible = by_group(report, variants.possible_tg)
    assert possible.verdict == Verdict.POSSIBLE
    assert possible.confidence == Confidence.POSSIBLE
    assert possible.blockers == []
    [finding] = [f for f in possible.findings if f.code == FindingCode.ALB_UNCONFIRMED]
    assert "api.example.com" in finding.message
    assert "retire" not in finding.remediation and "keep it" in finding.remediation
    assert "env NLB_TG_ARN names target group" in " ".join(possible.signals)


def test_a_hostname_sync_of_an_ec2_name_is_not_reported_even_when_its_schedule_is_official(
    aws: ClientFactory, realism: Realism
) -> None:
    # Given the hostname function syncing an EC2 name, deployed exactly as published
    b = EstateBuilder(aws)
    vpc = b.vpc()
    group = b.ip_target_group("ec2-ip-tg", vpc, port=443)
    b.legacy_function("ec2-fqdn-sync", "ip-10-0-1-5.ec2.internal", group, variant="hostname")

    # Then discovery reports nothing (before: blocked ALB_NOT_FOUND, "retire the function")
    assert discover(aws).deployments == []
