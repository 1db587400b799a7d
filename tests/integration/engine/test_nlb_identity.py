"""NLB identity: what clients see is recorded before the migration and checked after."""

from __future__ import annotations

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.create_target_group import create_target_group
from ipsync_migrator.steps.cutover import cutover
from ipsync_migrator.steps.nlb_identity import summary
from ipsync_migrator.steps.preflight import preflight
from ipsync_migrator.steps.probe import attach_probe
from ipsync_migrator.steps.rollback import rollback
from tests.integration.engine.conftest import FAST, until_gate

OWNER = "run-1"


def cut_over(ctx: StepContext, target_group_arn: str) -> str:
    mid = str(preflight(ctx, target_group_arn, OWNER, FAST)["migrationId"])
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    until_gate(ctx, mid, OWNER)
    cutover(ctx, mid, OWNER)
    return mid


def test_dns_name_eips_and_endpoint_services_read_the_same_after_cutover_and_rollback(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given the shop NLB: an Elastic IP per zone and a PrivateLink endpoint service
    [nlb] = aws.client("elbv2").describe_load_balancers(Names=["shop-nlb"])["LoadBalancers"]
    eips = {a["AllocationId"] for a in aws.client("ec2").describe_addresses()["Addresses"]}

    # When the migration cuts over, then rolls back
    mid = cut_over(ctx, demo.shop_tg)
    rollback(ctx, mid, reason="test")

    # Then the identity recorded before names the DNS name, both EIPs and the service
    identity = ctx.journal.get(mid).nlb_identity  # type: ignore[union-attr]
    before = identity["before"][nlb["LoadBalancerArn"]]
    assert before["dnsName"] == nlb["DNSName"]
    recorded = {a["allocationId"] for zone in before["zones"].values() for a in zone}
    assert recorded == eips and len(before["zones"]) == 2
    assert [s.startswith("vpce-svc-") for s in before["endpointServices"]] == [True]
    # and it read the same after cutover and after rollback, as status shows it
    checks = identity["checks"]
    assert {after: (c["verified"], c["unchanged"]) for after, c in checks.items()} == {
        "cutover": (True, True),
        "rollback": (True, True),
    }
    assert summary(identity).endswith("after cutover unchanged, after rollback unchanged")
    assert "2 Elastic IP(s), 1 endpoint service(s)" in summary(identity)


def test_an_identity_that_changed_is_named_not_hidden(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a migration planned while PrivateLink fronts the NLB
    ec2 = aws.client("ec2")
    mid = str(preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"])
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    until_gate(ctx, mid, OWNER)
    # When someone deletes the endpoint service before the cutover
    [service] = ec2.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"]
    ec2.delete_vpc_endpoint_service_configurations(ServiceIds=[service["ServiceId"]])
    cutover(ctx, mid, OWNER)

    # Then the check after cutover says so, naming the NLB and the service
    identity = ctx.journal.get(mid).nlb_identity  # type: ignore[union-attr]
    check = identity["checks"]["cutover"]
    assert check["verified"] and not check["unchanged"]
    [difference] = check["differences"]
    assert (
        difference.startswith("shop-nlb: endpoint services") and service["ServiceId"] in difference
    )
    assert "after cutover CHANGED: shop-nlb: endpoint services" in summary(identity)
