"""All steps in order on the emulator, then each again (a no-op), then finalize."""

from __future__ import annotations

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.local.realism import Realism
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.create_target_group import create_target_group
from ipsync_migrator.steps.cutover import cutover
from ipsync_migrator.steps.health import verify_bake
from ipsync_migrator.steps.preflight import preflight
from ipsync_migrator.steps.probe import attach_probe, release_probe
from ipsync_migrator.steps.retire import finalize, retire_legacy
from tests.integration.engine.conftest import FAST, snapshot, until_gate

OWNER = "run-1"
ELB = "elbv2"


def run_until_healthy(ctx: StepContext, migration_id: str) -> list[str]:
    results = until_gate(ctx, migration_id, OWNER)
    assert results[-1]["gate"] == "passed", results[-1]
    return [result["state"] for result in results]


def test_full_migration_then_finalize(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a migratable v1 deployment
    started = preflight(ctx, demo.shop_tg, OWNER, FAST)
    assert started["verdict"] == "migratable"
    mid = started["migrationId"]

    # When every step runs in order
    group = create_target_group(ctx, mid, OWNER)["targetGroupArn"]
    probe = attach_probe(ctx, mid, OWNER)
    states = run_until_healthy(ctx, mid)
    cut = cutover(ctx, mid, OWNER)
    release_probe(ctx, mid, OWNER)
    assert verify_bake(ctx, mid, OWNER)["gate"] == "passed"
    retire_legacy(ctx, mid, OWNER)

    # Then the NLB forwards to the alb group, which was health-checked through the probe
    assert states[0] == "initial" and states[-1] == "healthy"
    elb = aws.client("elbv2")
    [listener] = elb.describe_listeners(ListenerArns=cut["listeners"])["Listeners"]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == group
    assert probe["port"] >= 49152
    nlb_ports = {
        li["Port"] for li in elb.describe_listeners(LoadBalancerArn=probe["nlbArn"])["Listeners"]
    }
    assert nlb_ports == {80}
    # and the legacy function is soft-retired
    after = snapshot(aws)
    assert after["functions"]["shop-alb-ip-sync"] == 0
    assert after["rules"]["shop-alb-ip-sync-schedule"] == "DISABLED"
    record = ctx.journal.get(mid)
    assert record is not None and record.state == MigrationState.RETIRED
    steps = [e.step for e in ctx.journal.entries(mid)]
    assert steps[:3] == ["preflight", "create_target_group", "attach_probe"]

    # When finalize runs
    deleted = finalize(ctx, mid)["deleted"]

    # Then the legacy function and its rule are gone, the new group stays
    assert "function shop-alb-ip-sync" in deleted
    final = snapshot(aws)
    assert "shop-alb-ip-sync" not in final["functions"]
    assert "shop-alb-ip-sync-schedule" not in final["rules"]
    assert group in final["groups"]


def test_every_step_twice_is_a_no_op_the_second_time(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    assert preflight(ctx, demo.shop_tg, OWNER, FAST)["resumed"] is True
    first = create_target_group(ctx, mid, OWNER)
    assert create_target_group(ctx, mid, OWNER) == {**first, "reused": True}
    assert attach_probe(ctx, mid, OWNER) == attach_probe(ctx, mid, OWNER)
    run_until_healthy(ctx, mid)
    cutover(ctx, mid, OWNER)
    before = snapshot(aws)
    assert cutover(ctx, mid, OWNER)["changed"] == []
    release_probe(ctx, mid, OWNER)
    assert release_probe(ctx, mid, OWNER)["released"] == []
    assert verify_bake(ctx, mid, OWNER)["gate"] == "passed"
    retire_legacy(ctx, mid, OWNER)
    retire_legacy(ctx, mid, OWNER)
    finalize(ctx, mid)
    assert finalize(ctx, mid) == {"alreadyFinalized": True}
    assert len([g for g in snapshot(aws)["groups"].values() if g["type"] == "alb"]) == 1
    assert before["listeners"].keys() >= snapshot(aws)["listeners"].keys()


def test_release_deletes_its_journaled_probe_without_reading_its_tags(
    demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    # Given a migration cut over, its probe listener journaled by attach_probe
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    create_target_group(ctx, mid, OWNER)
    probe = attach_probe(ctx, mid, OWNER)
    run_until_healthy(ctx, mid)
    cutover(ctx, mid, OWNER)

    # When the probe is released
    before = realism.calls.copy()
    released = release_probe(ctx, mid, OWNER)["released"]

    # Then the probe this migration created is deleted, with no tag read to tell it is ours
    # (its ARN came from our own CreateListener): one listener read, one delete
    assert released == [probe["listenerArn"]]
    elb = {op: n for (service, op), n in (realism.calls - before).items() if service == ELB}
    assert elb == {"DescribeListeners": 1, "DeleteListener": 1}


def test_the_fast_gate_lowers_the_threshold_while_probing_then_restores_it(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    elb = aws.client("elbv2")

    def threshold(arn: str) -> int:
        [group] = elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
        return int(group["HealthyThresholdCount"])

    # Given a migration with the fast health gate, whose plan keeps the old threshold
    options = FAST.model_copy(update={"fast_health_gate": True})
    mid = preflight(ctx, demo.shop_tg, OWNER, options)["migrationId"]
    configured = threshold(demo.shop_tg)
    assert configured > 2
    # When the new group is created, Then its threshold is AWS's lowest, 2, and the run says so
    group = create_target_group(ctx, mid, OWNER)["targetGroupArn"]
    assert threshold(group) == 2
    record = ctx.journal.get(mid)
    assert record is not None and any("fast health gate" in note for note in record.notes)
    # and the probe proves health with it, before production changes
    attach_probe(ctx, mid, OWNER)
    assert run_until_healthy(ctx, mid)[-1] == "healthy"
    cutover(ctx, mid, OWNER)
    # When the probe is released, Then the configured threshold is back, once
    assert release_probe(ctx, mid, OWNER)["healthyThreshold"] == configured
    assert threshold(group) == configured
    assert release_probe(ctx, mid, OWNER) == {"released": [], "healthyThreshold": configured}
    # and the bake sees the group still healthy
    assert verify_bake(ctx, mid, OWNER)["gate"] == "passed"


def test_without_the_fast_gate_the_new_group_keeps_the_configured_threshold(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    elb = aws.client("elbv2")
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    group = create_target_group(ctx, mid, OWNER)["targetGroupArn"]
    [old] = elb.describe_target_groups(TargetGroupArns=[demo.shop_tg])["TargetGroups"]
    [new] = elb.describe_target_groups(TargetGroupArns=[group])["TargetGroups"]
    assert new["HealthyThresholdCount"] == old["HealthyThresholdCount"]
    attach_probe(ctx, mid, OWNER)
    run_until_healthy(ctx, mid)
    cutover(ctx, mid, OWNER)
    assert "healthyThreshold" not in release_probe(ctx, mid, OWNER)
