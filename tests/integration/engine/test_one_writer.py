"""One writer at a time, at the steps: stranded listeners, read-verify rollback, races.

Each test ends with the invariants of issue 10: no listener forwards to a group whose sync
is off or deleted; the end state is fully migrated or equal to the pre-migration snapshot;
nothing leaked; the journal tells what happened.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import (
    ConcurrentMigrationError,
    LegacyGroupInUseError,
    ListenerChangedError,
    StepPreconditionError,
)
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.local.realism import FaultRule, Realism
from ipsync_migrator.models import MigrationOptions, Strategy
from ipsync_migrator.naming import TAG_MIGRATION_ID
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.create_target_group import create_target_group
from ipsync_migrator.steps.cutover import cutover
from ipsync_migrator.steps.health import verify_bake
from ipsync_migrator.steps.preflight import preflight
from ipsync_migrator.steps.probe import attach_probe, release_probe
from ipsync_migrator.steps.retire import finalize, retire_legacy
from ipsync_migrator.steps.rollback import rollback, rollback_until_settled
from tests.integration.engine.conftest import FAST, snapshot, until_gate

OWNER = "arn:aws:states:eu-west-1:123456789012:execution:MigrationStateMachine:run-1"
PROBE_PORTS = range(49152, 49408)


# ---- helpers ------------------------------------------------------------------------------


def record_of(ctx: StepContext, mid: str) -> MigrationRecord:
    record = ctx.journal.get(mid)
    assert record is not None
    return record


def nlb_of(aws: ClientFactory, name: str = "shop-nlb") -> str:
    """The demo's NLB of that name."""
    [lb] = aws.client("elbv2").describe_load_balancers(Names=[name])["LoadBalancers"]
    return str(lb["LoadBalancerArn"])


def listeners_now(aws: ClientFactory) -> dict[str, dict[str, Any]]:
    """Every listener, read without DescribeTargetHealth (which a test may deny)."""
    elb = aws.client("elbv2")
    return {
        li["ListenerArn"]: li
        for lb in elb.describe_load_balancers()["LoadBalancers"]
        for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }


def add_listener(aws: ClientFactory, nlb_arn: str, port: int, group_arn: str) -> str:
    return str(
        aws.client("elbv2").create_listener(
            LoadBalancerArn=nlb_arn,
            Protocol="TCP",
            Port=port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": group_arn}],
        )["Listeners"][0]["ListenerArn"]
    )


def forwarded(aws: ClientFactory, listener_arn: str) -> set[str]:
    [listener] = aws.client("elbv2").describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    groups = set()
    for action in listener["DefaultActions"]:
        if action.get("TargetGroupArn"):
            groups.add(action["TargetGroupArn"])
        for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
            groups.add(group["TargetGroupArn"])
    return groups


def until_healthy(ctx: StepContext, mid: str) -> None:
    until_gate(ctx, mid, OWNER)


def to_bake(ctx: StepContext, demo: DemoEstate, options: MigrationOptions = FAST) -> str:
    """A migration cut over, its probe released: baking."""
    mid = str(preflight(ctx, demo.shop_tg, OWNER, options)["migrationId"])
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    until_healthy(ctx, mid)
    cutover(ctx, mid, OWNER)
    release_probe(ctx, mid, OWNER)
    return mid


def assert_invariants(aws: ClientFactory, ctx: StepContext, mid: str, original: Any) -> None:
    """Issue 10's invariants, read from AWS and the journal."""
    record = record_of(ctx, mid)
    now = snapshot(aws)
    legacy = record.deployment["targetGroupArn"]
    function = record.deployment["function"]["name"]
    # No listener forwards to the legacy group while its sync is off or deleted
    sync_on = now["functions"].get(function) != 0 and function in now["functions"]
    rules_on = all(now["rules"].get(s["rule"]) == "ENABLED" for s in record.deployment["schedules"])
    users = [
        arn
        for arn, listener in now["listeners"].items()
        if any(legacy in str(action) for action in listener["Actions"])
    ]
    assert not users or (sync_on and rules_on), f"{users} forward to a group whose sync is off"
    # Nothing leaked: no probe listener, no group of ours unless production uses it
    assert not [li for li in now["listeners"].values() if li["Port"] in PROBE_PORTS]
    ours = [
        arn
        for arn, tags in ctx.elb.tags(list(now["groups"])).items()
        if tags.get(TAG_MIGRATION_ID) == mid
    ]
    in_use = [
        arn for arn in ours if any(arn in str(li["Actions"]) for li in now["listeners"].values())
    ]
    assert ours == in_use, f"leaked target groups {set(ours) - set(in_use)}"
    # The end state: fully migrated, or exactly the original
    if record.state == MigrationState.ROLLED_BACK:
        assert now == original
    else:
        assert record.state in (MigrationState.RETIRED, MigrationState.FINALIZED), record.state
    # and the journal tells what happened
    assert ctx.journal.entries(mid)


# ---- no stranded listener -----------------------------------------------------------------


def test_a_listener_added_after_the_plan_moves_at_cutover_and_back_at_rollback(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a migration planned, then a second TCP listener on the legacy group
    mid = str(preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"])
    added = add_listener(aws, nlb_of(aws), 8080, demo.shop_tg)
    original = snapshot(aws)
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    until_healthy(ctx, mid)

    # When the cutover runs
    result = cutover(ctx, mid, OWNER)

    # Then it moved the unplanned listener too, and journaled what it set there
    new_group = record_of(ctx, mid).new_target_group_arn
    assert added in result["changed"] and forwarded(aws, added) == {new_group}
    assert added in record_of(ctx, mid).listener_actions_set
    # and a rollback puts both back exactly
    assert rollback(ctx, mid, "test")["state"] == "rolled_back"
    assert_invariants(aws, ctx, mid, original)


def test_a_listener_that_cannot_move_stops_the_cutover_before_any_write(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a migration ready to cut over, and a listener of another NLB on the legacy group
    mid = str(preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"])
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    until_healthy(ctx, mid)
    elb = aws.client("elbv2")
    subnets = [
        z["SubnetId"]
        for z in elb.describe_load_balancers(LoadBalancerArns=[nlb_of(aws)])["LoadBalancers"][0][
            "AvailabilityZones"
        ]
    ]
    other = elb.create_load_balancer(Name="other-nlb", Type="network", Subnets=subnets)
    stray = add_listener(aws, other["LoadBalancers"][0]["LoadBalancerArn"], 80, demo.shop_tg)
    before = snapshot(aws)["listeners"]

    # When the cutover runs, Then it stops naming the listener, and changed nothing
    with pytest.raises(ListenerChangedError, match="another load balancer"):
        cutover(ctx, mid, OWNER)
    assert snapshot(aws)["listeners"] == before
    assert forwarded(aws, stray) == {demo.shop_tg}


def test_a_listener_added_during_the_bake_fails_it_and_the_rollback_keeps_it_served(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a migration baking (two minutes), and a listener added on the legacy group meanwhile
    options = FAST.model_copy(update={"bake_seconds": 60, "rollback_health_timeout_seconds": 60})
    mid = to_bake(ctx, demo, options)
    assert verify_bake(ctx, mid, OWNER)["gate"] == "pending"
    added = add_listener(aws, nlb_of(aws), 8081, demo.shop_tg)

    # When the bake is checked, Then it fails, naming that listener
    gate = verify_bake(ctx, mid, OWNER)
    assert gate["gate"] == "failed" and added in gate["reason"]
    # and after the rollback it still forwards to the legacy group, whose sync is on
    rollback(ctx, mid, gate["reason"])
    assert forwarded(aws, added) == {demo.shop_tg}
    aws.client("elbv2").delete_listener(ListenerArn=added)
    original = snapshot(aws)
    assert_invariants(aws, ctx, mid, original)


def test_retire_refuses_while_a_listener_forwards_to_the_legacy_group(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a migration whose bake passed, and a listener added during the drain
    original = snapshot(aws)
    mid = to_bake(ctx, demo)
    assert verify_bake(ctx, mid, OWNER)["gate"] == "passed"
    added = add_listener(aws, nlb_of(aws), 8082, demo.shop_tg)

    # When the legacy sync is to be retired, Then it refuses, naming the listener
    with pytest.raises(LegacyGroupInUseError, match=added):
        retire_legacy(ctx, mid, OWNER)
    # and changed nothing: the schedule is still on
    assert snapshot(aws)["rules"] == original["rules"]
    aws.client("elbv2").delete_listener(ListenerArn=added)
    rollback(ctx, mid, "listener added during the drain")
    assert_invariants(aws, ctx, mid, original)


def test_finalize_refuses_while_a_listener_forwards_to_the_legacy_group(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a retired migration, and then a listener pointed at the legacy group
    original = snapshot(aws)
    mid = to_bake(ctx, demo)
    verify_bake(ctx, mid, OWNER)
    retire_legacy(ctx, mid, OWNER)
    added = add_listener(aws, nlb_of(aws), 8083, demo.shop_tg)

    # When it is finalized, Then nothing is deleted, and the fix is the rollback
    with pytest.raises(LegacyGroupInUseError, match="rollback"):
        finalize(ctx, mid)
    assert "shop-alb-ip-sync" in snapshot(aws)["functions"]
    rollback(ctx, mid, "listener on the legacy group")
    assert forwarded(aws, added) == {demo.shop_tg}
    aws.client("elbv2").delete_listener(ListenerArn=added)
    assert_invariants(aws, ctx, mid, original)


# ---- the weighted canary resumes after a crash --------------------------------------------


def test_a_crash_right_after_the_canary_write_resumes(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    # Given a weighted migration whose run crashes right after the canary ModifyListener
    original = snapshot(aws)
    options = FAST.model_copy(update={"strategy": Strategy.WEIGHTED})
    mid = str(preflight(ctx, demo.shop_tg, OWNER, options)["migrationId"])
    create_target_group(ctx, mid, OWNER)
    # (PutItem: the step's intent, the canary's; then the completion, which fails)
    realism.add_fault(
        FaultRule("dynamodb", "TransactWriteItems", error_code="InternalServerError", after=0)
    )
    with pytest.raises(Exception, match="InternalServerError"):
        attach_probe(ctx, mid, OWNER)
    new_group = record_of(ctx, mid).new_target_group_arn
    [listener] = record_of(ctx, mid).canary_listener_actions  # journaled before the write
    assert forwarded(aws, listener) == {demo.shop_tg, new_group}

    # When the step runs again, Then it resumes on the live 90/10 weights
    assert attach_probe(ctx, mid, OWNER)["mode"] == "weighted"
    until_healthy(ctx, mid)
    cutover(ctx, mid, OWNER)
    assert forwarded(aws, listener) == {new_group}
    rollback(ctx, mid, "test")
    assert_invariants(aws, ctx, mid, original)


# ---- rollback is read-verify-write in reverse ---------------------------------------------


def test_a_listener_a_person_changed_since_cutover_is_reported_and_left_unless_forced(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a migration baking, and a person who pointed the listener at another group
    original = snapshot(aws)
    mid = to_bake(ctx, demo)
    [listener] = record_of(ctx, mid).saved_listener_actions
    elb = aws.client("elbv2")
    vpc = elb.describe_target_groups(TargetGroupArns=[demo.shop_tg])["TargetGroups"][0]["VpcId"]
    theirs = elb.create_target_group(
        Name="theirs", Protocol="TCP", Port=80, VpcId=vpc, TargetType="ip"
    )["TargetGroups"][0]["TargetGroupArn"]
    elb.modify_listener(
        ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": theirs}]
    )

    # When it is rolled back
    result = rollback(ctx, mid, "test")

    # Then that listener is left as the person set it, reported, and the rollback is incomplete
    assert result["state"] == "rollback_incomplete"
    assert forwarded(aws, listener) == {theirs}
    assert any(listener in leftover and "--force" in leftover for leftover in result["leftovers"])
    record = record_of(ctx, mid)
    assert record.state == MigrationState.ROLLBACK_INCOMPLETE
    assert record.rollback_report["leftovers"] == result["leftovers"]
    # and the rest was undone: the new group, unused, is gone
    assert record.new_target_group_arn not in snapshot(aws)["groups"]

    # When the person chooses to force it, Then the listener goes back exactly
    forced = rollback(ctx, mid, "forced", force=True)
    assert forced["state"] == "rolled_back"
    elb.delete_target_group(TargetGroupArn=theirs)
    assert_invariants(aws, ctx, mid, original)


def test_production_moves_back_only_once_the_old_group_is_healthy(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    # Given a migration baking, and an old group whose targets are still being checked
    original = snapshot(aws)
    mid = to_bake(ctx, demo)
    [listener] = record_of(ctx, mid).saved_listener_actions
    new_group = record_of(ctx, mid).new_target_group_arn
    realism.add_fault(
        FaultRule(
            "elbv2",
            "DescribeTargetHealth",
            target_health="initial",
            match={"TargetGroupArn": demo.shop_tg},
            times=None,
        )
    )

    # When the rollback runs once, Then it waits: production stays on the new group, and a
    # return probe makes the old group's health visible
    first = rollback(ctx, mid, "test")
    assert first["pending"] and "initial" in first["waitingFor"]
    assert forwarded(aws, listener) == {new_group}
    probes = [li for li in listeners_now(aws).values() if li["Port"] in PROBE_PORTS]
    assert [p["DefaultActions"][0]["TargetGroupArn"] for p in probes] == [demo.shop_tg]
    # and a takeover by anyone else meanwhile is refused to the first caller's token
    assert rollback(ctx, mid, owner="someone-else")["superseded"]

    # When its owner polls on, Then production moves back once the group is healthy
    assert rollback(ctx, mid, "test", owner=first["owner"])["pending"]
    assert forwarded(aws, listener) == {new_group}
    realism.clear_faults()  # the old group's targets pass their health checks
    done = rollback(ctx, mid, "test", owner=first["owner"])
    assert done["state"] == "rolled_back"
    assert_invariants(aws, ctx, mid, original)


def test_an_old_group_that_never_heals_keeps_production_on_the_new_group(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    # Given a migration baking, an old group that stays unhealthy, and a 0 s health timeout
    original = snapshot(aws)
    mid = to_bake(ctx, demo, FAST.model_copy(update={"rollback_health_timeout_seconds": 0}))
    [listener] = record_of(ctx, mid).saved_listener_actions
    new_group = record_of(ctx, mid).new_target_group_arn
    unhealthy = FaultRule(
        "elbv2",
        "DescribeTargetHealth",
        target_health="unhealthy",
        match={"TargetGroupArn": demo.shop_tg},
        times=None,
    )
    realism.add_fault(unhealthy)

    # When it is rolled back (polled to its end)
    result = rollback_until_settled(ctx, mid, "test", sleep=lambda _: None)

    # Then production stays on the new group, which is kept, and the legacy sync is on again
    assert result["state"] == "rollback_incomplete"
    assert forwarded(aws, listener) == {new_group}
    assert new_group in snapshot(aws)["groups"]
    assert any("did not prove healthy" in leftover for leftover in result["leftovers"])
    assert snapshot(aws)["rules"] == original["rules"]
    assert_no_probe(aws)

    # When the old group heals and the rollback runs again, Then it ends rolled back
    realism.clear_faults()
    assert rollback_until_settled(ctx, mid, "again", sleep=lambda _: None)["state"] == (
        "rolled_back"
    )
    assert_invariants(aws, ctx, mid, original)


def assert_no_probe(aws: ClientFactory) -> None:
    assert not [li for li in listeners_now(aws).values() if li["Port"] in PROBE_PORTS]


def test_a_denied_read_does_not_stop_the_rest_of_the_rollback(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    # Given a migration probing whose DescribeTargetHealth is denied from now on
    original = snapshot(aws)
    mid = str(preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"])
    create_target_group(ctx, mid, OWNER)
    attach_probe(ctx, mid, OWNER)
    realism.add_fault(
        FaultRule("elbv2", "DescribeTargetHealth", error_code="AccessDenied", times=None)
    )

    # When it is rolled back
    result = rollback(ctx, mid, "health denied")

    # Then the probe and the new group are removed all the same
    assert_no_probe(aws)
    group = record_of(ctx, mid).new_target_group_arn
    assert group not in {
        g["TargetGroupArn"] for g in aws.client("elbv2").describe_target_groups()["TargetGroups"]
    }
    # and the rollback ends incomplete, naming the denied call and the fix
    assert result["state"] == "rollback_incomplete"
    [problem] = result["problems"]
    assert "elasticloadbalancing:DescribeTargetHealth" in problem["message"]
    assert "Grant" in problem["fix"]
    record = record_of(ctx, mid)
    assert record.state == MigrationState.ROLLBACK_INCOMPLETE
    assert "DescribeTargetHealth" in str(record.last_error)
    # and a new run is refused until the rollback is finished
    with pytest.raises(StepPreconditionError, match="incomplete rollback"):
        preflight(ctx, demo.shop_tg, "another-run", FAST)

    # When the permission is back and the rollback runs again, Then it ends rolled back
    realism.clear_faults()
    assert rollback(ctx, mid, "again")["state"] == "rolled_back"
    assert_invariants(aws, ctx, mid, original)


# ---- races with an invocation already in flight --------------------------------------------


def in_thread(action: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(action())
        except Exception as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_retire_in_flight_when_a_rollback_starts_is_undone_after_it(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    # Given a retire already running in Lambda: its intent journaled, its first write held
    original = snapshot(aws)
    mid = to_bake(ctx, demo)
    verify_bake(ctx, mid, OWNER)
    held = realism.hold("events", "DisableRule")
    thread, outcome = in_thread(lambda: retire_legacy(ctx, mid, OWNER))
    assert held.reached.wait(30)

    # When a rollback from the CLI runs meanwhile, and then the retire goes on
    assert rollback(ctx, mid, "operator")["state"] == "rolled_back"
    held.release()
    thread.join(30)

    # Then the retire was fenced, its writes undone again: the sync is on, all as before
    assert isinstance(outcome[0], ConcurrentMigrationError)
    assert record_of(ctx, mid).state == MigrationState.ROLLED_BACK
    assert_invariants(aws, ctx, mid, original)


def test_finalize_in_flight_refuses_a_rollback_which_says_why(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext, realism: Realism
) -> None:
    # Given a retired migration whose finalize is running: its intent journaled, delete held
    original = snapshot(aws)
    mid = to_bake(ctx, demo)
    verify_bake(ctx, mid, OWNER)
    retire_legacy(ctx, mid, OWNER)
    held = realism.hold("lambda", "DeleteFunction")
    thread, outcome = in_thread(lambda: finalize(ctx, mid))
    assert held.reached.wait(30)

    # When a rollback is asked for meanwhile, Then it is refused, changing nothing
    with pytest.raises(StepPreconditionError, match="being finalized"):
        rollback(ctx, mid, "operator")
    held.release()
    thread.join(30)

    # and the finalize ends: migrated, with no listener on the deleted sync's group
    assert not isinstance(outcome[0], Exception), outcome
    assert record_of(ctx, mid).state == MigrationState.FINALIZED
    assert original != snapshot(aws)
    assert_invariants(aws, ctx, mid, original)


# ---- liveness: a record whose run died ----------------------------------------------------


def test_a_run_that_died_right_after_preflight_can_be_taken_over(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a record opened by an execution that no longer exists (it changed nothing)
    mid = str(preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"])
    epoch = record_of(ctx, mid).epoch
    newer = OWNER.replace("run-1", "run-2")

    # When a new run starts, Then it takes the migration over with a higher epoch
    assert preflight(ctx, demo.shop_tg, newer, FAST)["resumed"] is False
    record = record_of(ctx, mid)
    assert (record.owner, record.epoch) == (newer, epoch + 1)


def test_a_run_that_died_after_a_write_is_refused_with_the_way_out(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a record whose run created the new group, then died
    original = snapshot(aws)
    mid = str(preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"])
    create_target_group(ctx, mid, OWNER)

    # When a new run starts, Then it is refused, and told to roll back first
    with pytest.raises(ConcurrentMigrationError) as refused:
        preflight(ctx, demo.shop_tg, OWNER.replace("run-1", "run-2"), FAST)
    assert "ipsync-migrator rollback" in refused.value.remediation
    # and that rollback takes the stuck record over and undoes it
    assert rollback(ctx, mid, "stuck")["state"] == "rolled_back"
    assert_invariants(aws, ctx, mid, original)
