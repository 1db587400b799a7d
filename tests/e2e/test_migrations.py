"""Executions of the real state machine on the local runtime, driven like the CLI drives them."""

from __future__ import annotations

import pytest

from ipsync_migrator.errors import StepPreconditionError
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.realism import FaultRule
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment, Strategy
from ipsync_migrator.operations import Service
from tests.e2e.conftest import FAST, finished, wait_until
from tests.integration.engine.conftest import snapshot


@pytest.mark.parametrize("strategy", list(Strategy))
def test_happy_path_for_each_strategy(
    runtime: LocalRuntime, service: Service, shop: Deployment, strategy: Strategy
) -> None:
    started = service.start(shop, FAST.model_copy(update={"strategy": strategy}))
    result = finished(service, started)

    assert result["status"] == "SUCCEEDED", result
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.RETIRED
    elb = runtime.clients().client("elbv2")
    [listener] = elb.describe_listeners(
        ListenerArns=[shop.network_load_balancers[0].listeners[0].arn]
    )["Listeners"]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == record.new_target_group_arn
    ports = {
        li["Port"]
        for li in elb.describe_listeners(LoadBalancerArn=shop.network_load_balancers[0].arn)[
            "Listeners"
        ]
    }
    assert ports == {80}  # no probe listener left behind


def test_health_never_healthy_leaves_production_untouched(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    original = snapshot(runtime.clients())
    runtime.realism.add_fault(
        FaultRule("elbv2", "DescribeTargetHealth", target_health="initial", times=None)
    )
    options = FAST.model_copy(update={"health_timeout_seconds": 1, "poll_seconds": 1})

    result = finished(service, service.start(shop, options))

    assert (result["status"], result["error"]) == ("FAILED", "MigrationRolledBack")
    assert "not healthy" in result["cause"]
    runtime.realism.clear_faults()
    assert snapshot(runtime.clients()) == original


def test_fault_during_bake_rolls_back_to_the_exact_original(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    original = snapshot(runtime.clients())
    started = service.start(shop, FAST.model_copy(update={"bake_seconds": 60, "poll_seconds": 1}))
    wait_until(
        lambda: (
            (r := service.journal.get(shop.id)) is not None and r.state == MigrationState.CUT_OVER
        )
    )
    # The new group turns unhealthy while the bake watches it.
    runtime.realism.add_fault(
        FaultRule("elbv2", "DescribeTargetHealth", target_health="unhealthy", times=None)
    )

    result = finished(service, started)

    assert (result["status"], result["error"]) == ("FAILED", "MigrationRolledBack")
    assert "unhealthy" in result["cause"]
    runtime.realism.clear_faults()
    assert snapshot(runtime.clients()) == original
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.ROLLED_BACK


def test_approval_gate_waits_until_approved(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    original = snapshot(runtime.clients())
    started = service.start(shop, FAST.model_copy(update={"approve_before_cutover": True}))
    wait_until(lambda: (r := service.journal.get(shop.id)) is not None and r.approval)

    # While waiting, the execution runs and production is untouched.
    assert service.progress(started)["status"] == "RUNNING"
    assert snapshot(runtime.clients()) == original

    assert service.approve(shop.id, "tester") == "cutover"
    # A second approval of the same gate is refused clearly, whatever the execution has
    # done meanwhile (still on the gate's token, or past it and the token cleared).
    with pytest.raises(StepPreconditionError, match="approval"):
        service.approve(shop.id, "tester")
    assert finished(service, started)["status"] == "SUCCEEDED"
    record = service.journal.get(shop.id)
    assert record is not None and record.approval is None
    with pytest.raises(StepPreconditionError, match="not waiting for an approval"):
        service.approve(shop.id, "tester")


def test_two_migrate_calls_start_one_execution(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    first = service.start(shop, FAST.model_copy(update={"approve_before_cutover": True}))
    second = service.start(shop, FAST)

    assert first.started and not second.started
    assert second.execution_arn == first.execution_arn
    assert len(service.executions.named_like(shop.id)) == 1


def test_rollback_command_stops_the_execution_and_restores(
    runtime: LocalRuntime, service: Service, shop: Deployment
) -> None:
    original = snapshot(runtime.clients())
    started = service.start(shop, FAST)
    assert finished(service, started)["status"] == "SUCCEEDED"

    assert service.rollback(shop.id)["state"] == "rolled_back"

    assert snapshot(runtime.clients()) == original
