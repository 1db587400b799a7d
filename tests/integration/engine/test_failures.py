"""Failures: injected at every write, rollback restores the exact original with nothing leaked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import (
    AccessDeniedError,
    FingerprintMismatchError,
    IpsyncError,
    ListenerChangedError,
    MigrationBlockedError,
    StepPreconditionError,
)
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.local.estate import EstateBuilder
from ipsync_migrator.local.realism import FaultRule, Realism
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.create_target_group import create_target_group
from ipsync_migrator.steps.cutover import cutover
from ipsync_migrator.steps.health import check_health, verify_bake
from ipsync_migrator.steps.preflight import preflight
from ipsync_migrator.steps.probe import attach_probe, release_probe
from ipsync_migrator.steps.retire import finalize, retire_legacy
from ipsync_migrator.steps.rollback import rollback
from tests.integration.engine.conftest import (
    FAST,
    snapshot,
    until_aws_reports_healthy,
    until_gate,
)

OWNER = "run-1"


def until_healthy(ctx: StepContext, mid: str, owner: str) -> dict[str, Any]:
    # Healthy first: the gate then checks (and journals) exactly healthy_checks_required times.
    until_aws_reports_healthy(ctx, mid)
    return until_gate(ctx, mid, owner)[-1]


def pipeline(ctx: StepContext, mid: str) -> list[Callable[[], Any]]:
    """The steps after preflight, in state-machine order."""
    return [
        lambda: create_target_group(ctx, mid, OWNER),
        lambda: attach_probe(ctx, mid, OWNER),
        lambda: until_healthy(ctx, mid, OWNER),
        lambda: cutover(ctx, mid, OWNER),
        lambda: release_probe(ctx, mid, OWNER),
        lambda: verify_bake(ctx, mid, OWNER),
        lambda: retire_legacy(ctx, mid, OWNER),
    ]


WRITES = [
    ("elbv2", "CreateTargetGroup"),
    ("elbv2", "RegisterTargets"),
    ("elbv2", "CreateListener"),
    ("elbv2", "ModifyListener"),
    ("elbv2", "DeleteListener"),
    ("events", "DisableRule"),
    ("lambda", "PutFunctionConcurrency"),
    ("events", "PutEvents"),
    ("dynamodb", "PutItem"),
]


@pytest.mark.parametrize(("service", "operation"), WRITES, ids=[w[1] for w in WRITES])
def test_fault_at_any_write_is_fully_undone_by_rollback(
    aws: ClientFactory,
    demo: DemoEstate,
    ctx: StepContext,
    realism: Realism,
    service: str,
    operation: str,
) -> None:
    # Given a started migration and a snapshot of production before any write
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    original = snapshot(aws)
    realism.add_fault(FaultRule(service, operation, error_code="AccessDenied"))

    # When a step fails on that write
    with pytest.raises(IpsyncError):
        for step in pipeline(ctx, mid):
            step()

    # Then rollback restores exactly the original, and a second rollback changes nothing
    rollback(ctx, mid, reason=f"{operation} failed")
    assert snapshot(aws) == original
    rollback(ctx, mid)
    assert snapshot(aws) == original
    record = ctx.journal.get(mid)
    assert record is not None and record.state == MigrationState.ROLLED_BACK


#: The journal writes of the pipeline after preflight, by DynamoDB operation: each step's
#: intent (PutItem: the fencing write, before its AWS calls), the health gate's and the bake's
#: progress (PutItem: one per check, FAST.healthy_checks_required (2) checks once healthy), and
#: each step's completion (TransactWriteItems: the record with its step entry, atomically).
JOURNAL_WRITES = {"PutItem": 8, "TransactWriteItems": 5}
WRITE_MATRIX = [(op, index) for op, count in JOURNAL_WRITES.items() for index in range(count)]


@pytest.mark.parametrize("then", ["rollback", "rerun"])
@pytest.mark.parametrize(("operation", "write"), WRITE_MATRIX)
def test_a_crash_at_any_journal_write_is_undone_by_rollback_or_completed_by_a_rerun(
    aws: ClientFactory,
    demo: DemoEstate,
    ctx: StepContext,
    realism: Realism,
    operation: str,
    write: int,
    then: str,
) -> None:
    # Given a started migration whose run crashes at one journal write (fencing ones included)
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    original = snapshot(aws)
    realism.add_fault(
        FaultRule("dynamodb", operation, error_code="AccessDeniedException", after=write)
    )
    steps = pipeline(ctx, mid)
    crashed = None
    for index, step in enumerate(steps):
        try:
            step()
        except IpsyncError:
            crashed = index
            break
    assert crashed is not None, "the fault never fired"

    # When it is rolled back, Then everything is exactly as before, nothing leaked
    if then == "rollback":
        assert rollback(ctx, mid, reason="crash")["state"] == "rolled_back"
        assert snapshot(aws) == original
        return
    # When the run is redriven from the step that crashed instead, Then it completes
    for step in steps[crashed:]:
        step()
    record = ctx.journal.get(mid)
    assert record is not None and record.state == MigrationState.RETIRED
    assert not [li for li in snapshot(aws)["listeners"].values() if li["Port"] >= 49152]


def test_the_journal_write_matrix_covers_every_write_of_the_pipeline(
    demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    # Given the pipeline run without a fault, When its journal writes are counted
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    before = {op: realism.calls[("dynamodb", op)] for op in JOURNAL_WRITES}
    for step in pipeline(ctx, mid):
        step()
    # Then the matrix above crashes at each of them
    done = {op: realism.calls[("dynamodb", op)] - before[op] for op in JOURNAL_WRITES}
    assert done == JOURNAL_WRITES


def test_rollback_after_retirement_restores_schedule_concurrency_and_listeners(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    original = snapshot(aws)
    for step in pipeline(ctx, mid):
        step()
    assert snapshot(aws) != original

    result = rollback(ctx, mid, reason="operator asked")

    assert snapshot(aws) == original
    assert result["listeners"] and result["newTargetGroup"]


def test_rollback_refills_the_old_group_with_the_albs_current_ips(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given the legacy group lost its targets while the migration ran (sync was off)
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    elb = aws.client("elbv2")
    targets = elb.describe_target_health(TargetGroupArn=demo.shop_tg)["TargetHealthDescriptions"]
    elb.deregister_targets(TargetGroupArn=demo.shop_tg, Targets=[t["Target"] for t in targets])

    # When the migration is rolled back
    result = rollback(ctx, mid)

    # Then the ALB's IPs are registered again
    refilled = elb.describe_target_health(TargetGroupArn=demo.shop_tg)["TargetHealthDescriptions"]
    assert sorted(t["Target"]["Id"] for t in refilled) == sorted(
        result["oldTargetGroup"]["registered"]
    )
    assert len(refilled) == len(targets) > 0


def test_health_that_never_turns_healthy_leaves_production_untouched(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    options = FAST.model_copy(update={"health_timeout_seconds": 0})
    mid = preflight(ctx, demo.shop_tg, OWNER, options)["migrationId"]
    original = snapshot(aws)
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    realism.add_fault(
        FaultRule("elbv2", "DescribeTargetHealth", target_health="initial", times=None)
    )

    gate = check_health(ctx, mid, OWNER)

    assert gate["gate"] == "failed" and "not healthy" in gate["reason"]
    with pytest.raises(StepPreconditionError):
        cutover(ctx, mid, OWNER)  # production changes only after the gate passed
    rollback(ctx, mid, reason=gate["reason"])
    assert snapshot(aws) == original


def test_unhealthy_new_group_fails_the_gate_at_once(
    demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    realism.add_fault(FaultRule("elbv2", "DescribeTargetHealth", target_health="unhealthy"))
    assert check_health(ctx, mid, OWNER)["gate"] == "failed"


def test_listener_edited_between_plan_and_cutover_stops_the_cutover(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    until_healthy(ctx, mid, OWNER)
    # Someone points the production listener elsewhere after the plan was made
    elb = aws.client("elbv2")
    record = ctx.journal.get(mid)
    assert record is not None
    listener_arn = record.plan["changes"][3]["resource"]
    elsewhere = elb.create_target_group(
        Name="hotfix",
        Protocol="TCP",
        Port=80,
        VpcId=record.deployment["targetGroupVpcId"],
        TargetType="ip",
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_listener(
        ListenerArn=listener_arn, DefaultActions=[{"Type": "forward", "TargetGroupArn": elsewhere}]
    )
    edited = snapshot(aws)

    with pytest.raises(ListenerChangedError, match="changed since the plan"):
        cutover(ctx, mid, OWNER)

    assert snapshot(aws) == edited
    loaded = ctx.journal.get(mid)
    assert loaded is not None and loaded.saved_listener_actions == {}


def test_finalize_refuses_a_function_whose_fingerprint_changed(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    for step in pipeline(ctx, mid):
        step()
    lam = aws.client("lambda")
    lam.update_function_configuration(
        FunctionName="shop-alb-ip-sync", Environment={"Variables": {"PURPOSE": "reused"}}
    )

    with pytest.raises(FingerprintMismatchError):
        finalize(ctx, mid)

    assert lam.get_function(FunctionName="shop-alb-ip-sync")["Configuration"]["FunctionName"]
    assert "shop-alb-ip-sync-schedule" in snapshot(aws)["rules"]


def test_finalize_refuses_before_retirement(demo: DemoEstate, ctx: StepContext) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    with pytest.raises(StepPreconditionError, match="not retired"):
        finalize(ctx, mid)


def test_finalized_migration_cannot_be_rolled_back(demo: DemoEstate, ctx: StepContext) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    for step in pipeline(ctx, mid):
        step()
    finalize(ctx, mid)
    with pytest.raises(StepPreconditionError, match="finalized"):
        rollback(ctx, mid)


def test_access_denied_is_named_with_the_permission(
    demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    realism.add_fault(FaultRule("elbv2", "CreateTargetGroup", error_code="AccessDenied"))
    with pytest.raises(AccessDeniedError) as raised:
        create_target_group(ctx, mid, OWNER)
    assert "elasticloadbalancing:CreateTargetGroup" in raised.value.message


def test_aws_refusing_an_alb_behind_too_many_nlbs_rolls_back_with_nothing_left(
    aws: ClientFactory, ctx: StepContext, realism: Realism
) -> None:
    # Given an ALB already behind two NLBs: discovery only warns (AWS's pages disagree)
    b = EstateBuilder(aws)
    vpc = b.vpc()
    alb = b.alb("busy-alb", vpc)
    for index in range(2):
        group = b.elb.create_target_group(
            Name=f"other-alb-tg-{index}", Protocol="TCP", Port=80, VpcId=vpc.id, TargetType="alb"
        )["TargetGroups"][0]["TargetGroupArn"]
        b.elb.register_targets(TargetGroupArn=group, Targets=[{"Id": alb.arn, "Port": 80}])
        b.listener(b.nlb(f"other-nlb-{index}", vpc), 80, group)
    tg = b.ip_target_group("busy-ip-tg", vpc)
    b.listener(b.nlb("busy-nlb", vpc), 80, tg)
    b.sync_alb_ips(alb, tg, 80)
    b.legacy_function("busy-sync", alb.dns_name, tg)
    mid = preflight(ctx, tg, OWNER, FAST)["migrationId"]
    original = snapshot(aws)

    # When AWS refuses the registration
    with pytest.raises(MigrationBlockedError) as raised:
        create_target_group(ctx, mid, OWNER)

    # Then the error says why and what to do, and rollback leaves nothing behind
    assert "TooManyRegistrationsForTargetId" in raised.value.message
    assert "ALB_NLB_LIMIT" in raised.value.remediation
    assert rollback(ctx, mid, reason=str(raised.value))["state"] == "rolled_back"
    assert snapshot(aws) == original
    names = {g["TargetGroupName"] for g in b.elb.describe_target_groups()["TargetGroups"]}
    assert names == {"other-alb-tg-0", "other-alb-tg-1", "busy-ip-tg"}
