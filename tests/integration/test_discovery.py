"""Discovery against the emulator, on the demo estate (the same one `make demo` shows)."""

from __future__ import annotations

from collections import Counter

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.discovery import discover
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.local.estate import EstateBuilder
from ipsync_migrator.models import FindingCode, Severity, Variant, Verdict


def by_target_group(clients: ClientFactory) -> dict[str, object]:
    return {d.target_group_arn: d for d in discover(clients).deployments}


def test_every_variant_and_verdict_is_found_and_decoys_are_not(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    report = discover(aws)
    names = {d.function.name for d in report.deployments}
    assert names == {
        "shop-alb-ip-sync",
        "api-ip-sync",
        "media-fqdn-sync",
        "payments-ip-sync",
        "admin-ip-sync",
        "partner-ip-sync",
        "reports-ip-sync",
    }
    assert Counter(d.verdict for d in report.deployments) == {
        Verdict.MIGRATABLE: 3,
        Verdict.BLOCKED: 3,
        Verdict.ORPHANED: 1,
    }
    assert {d.function.variant for d in report.deployments} == set(Variant)
    assert report.account == "123456789012" and report.region == "us-east-1"


def test_migratable_deployment_is_resolved_completely(aws: ClientFactory, demo: DemoEstate) -> None:
    shop = next(d for d in discover(aws).deployments if d.target_group_arn == demo.shop_tg)
    assert shop.verdict == Verdict.MIGRATABLE
    assert [(s.expression, s.enabled) for s in shop.schedules] == [("rate(1 minute)", True)]
    [nlb] = shop.network_load_balancers
    assert nlb.name == "shop-nlb"
    assert [(li.port, li.protocol) for li in nlb.listeners] == [(80, "TCP")]
    assert shop.application_load_balancer_arn and "/app/shop-alb/" in (
        shop.application_load_balancer_arn
    )
    assert shop.alb_port == 80


def test_alb_found_despite_case_trailing_dot_and_internal_prefix(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    api = next(d for d in discover(aws).deployments if d.target_group_arn == demo.api_tg)
    assert api.verdict == Verdict.MIGRATABLE
    assert (
        api.application_load_balancer_arn and "/app/api-alb/" in api.application_load_balancer_arn
    )
    codes = {f.code for f in api.findings}
    assert {FindingCode.IAC_MANAGED, FindingCode.ATTRIBUTES_LOST} <= codes
    assert api.function.stack_name == "api-edge"
    assert api.alb_listener_protocol == "HTTPS"


def test_blocked_and_orphaned_carry_their_reasons(aws: ClientFactory, demo: DemoEstate) -> None:
    report = discover(aws)
    reasons = {d.function.name: {f.code for f in d.blockers} for d in report.deployments}
    assert FindingCode.LISTENER_PROTOCOL_UNSUPPORTED in reasons["payments-ip-sync"]
    assert FindingCode.ALB_LISTENER_PORT_MISSING in reasons["admin-ip-sync"]
    assert {FindingCode.ALB_NOT_FOUND, FindingCode.CROSS_VPC} <= reasons["partner-ip-sync"]
    assert FindingCode.TARGET_GROUP_NOT_FOUND in reasons["reports-ip-sync"]


def test_ids_are_stable_across_runs(aws: ClientFactory, demo: DemoEstate) -> None:
    first = [d.id for d in discover(aws).deployments]
    second = [d.id for d in discover(ClientFactory(aws.target)).deployments]
    assert first == second and len(set(first)) == len(first)


def test_alb_already_behind_two_nlbs_is_migratable_with_a_warning(aws: ClientFactory) -> None:
    b = EstateBuilder(aws)
    vpc = b.vpc()
    alb = b.alb("busy-alb", vpc)
    for index in range(2):
        other = b.nlb(f"other-nlb-{index}", vpc)
        group = b.elb.create_target_group(
            Name=f"other-alb-tg-{index}", Protocol="TCP", Port=80, VpcId=vpc.id, TargetType="alb"
        )["TargetGroups"][0]["TargetGroupArn"]
        b.elb.register_targets(TargetGroupArn=group, Targets=[{"Id": alb.arn, "Port": 80}])
        b.listener(other, 80, group)
    nlb = b.nlb("busy-nlb", vpc)
    tg = b.ip_target_group("busy-ip-tg", vpc)
    b.listener(nlb, 80, tg)
    b.legacy_function("busy-sync", alb.dns_name, tg)

    [deployment] = discover(aws).deployments
    assert deployment.verdict == Verdict.MIGRATABLE
    [warning] = [f for f in deployment.findings if f.code == FindingCode.ALB_NLB_LIMIT]
    assert warning.severity == Severity.WARNING and "other-alb-tg-0" in warning.remediation


def test_empty_account_reports_nothing(aws: ClientFactory) -> None:
    assert discover(aws).deployments == []
