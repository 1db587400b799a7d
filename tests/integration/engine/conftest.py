"""Fixtures for running the real steps against the emulator with the realism adapter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ipsync_migrator.aws.bus import EventBus
from ipsync_migrator.aws.journal import DynamoJournal, create_table
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.clock import AwsClock
from ipsync_migrator.local.demo_estate import DemoEstate, seed_demo
from ipsync_migrator.local.health import ALB_INTERVAL_SECONDS
from ipsync_migrator.local.realism import Realism
from ipsync_migrator.models import MigrationOptions
from ipsync_migrator.naming import migration_id_for_target_group
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.health import check_health

TABLE, BUS = "journal", "ipsync-migrator"
FAST = MigrationOptions(
    poll_seconds=1, health_timeout_seconds=300, bake_seconds=0, drain_seconds=0
).model_copy(update={"healthy_checks_required": 2})


#: AWS's clock here: 1 AWS second is 2 ms, so the demo's new group (healthy threshold 5) is
#: healthy 0.36 s after its probe attaches (30 s registration + 5 x 30 s).
TIME_FACTOR = 0.002


@pytest.fixture
def realism(aws: ClientFactory) -> Iterator[Realism]:
    with Realism(AwsClock(TIME_FACTOR)) as adapter:
        yield adapter


def until_aws_reports_healthy(ctx: StepContext, migration_id: str) -> None:
    """Wait until ELB reads the new group's targets healthy, with no gate check meanwhile: the
    gate's checks (and journal writes) that follow are then as many as it requires."""
    record = ctx.journal.get(migration_id)
    arn = record.new_target_group_arn if record else None
    deadline = time.monotonic() + 60
    while arn is None or {h["TargetHealth"]["State"] for h in ctx.elb.target_health(arn)} != {
        "healthy"
    }:
        if time.monotonic() > deadline:
            raise AssertionError(f"the new group {arn} never read healthy")
        time.sleep(ALB_INTERVAL_SECONDS * TIME_FACTOR)


def until_gate(ctx: StepContext, migration_id: str, owner: str) -> list[dict[str, Any]]:
    """`check_health` as the state machine polls it, one health-check interval of AWS time
    apart, until the gate decides; every result."""
    results = [check_health(ctx, migration_id, owner)]
    deadline = time.monotonic() + 60
    while results[-1]["gate"] == "pending":
        if time.monotonic() > deadline:
            raise AssertionError(f"health gate never decided: {results[-1]}")
        time.sleep(ALB_INTERVAL_SECONDS * TIME_FACTOR)
        results.append(check_health(ctx, migration_id, owner))
    return results


@pytest.fixture
def demo(aws: ClientFactory, realism: Realism) -> DemoEstate:
    """The demo estate, seeded with the realism adapter on (so ALBs have network interfaces)."""
    return seed_demo(aws)


@pytest.fixture
def ctx(aws: ClientFactory, realism: Realism) -> StepContext:
    create_table(aws, TABLE)
    aws.client("events").create_event_bus(Name=BUS)
    return StepContext(clients=aws, journal=DynamoJournal(aws, TABLE), bus=EventBus(aws, BUS))


@dataclass
class Snapshot:
    """Everything a migration may touch, as AWS reports it, for exact before/after compares."""

    data: dict[str, Any]


def snapshot(clients: ClientFactory) -> dict[str, Any]:
    elb, lam, events = (clients.client(s) for s in ("elbv2", "lambda", "events"))
    lbs = elb.describe_load_balancers()["LoadBalancers"]
    listeners = {
        li["ListenerArn"]: {
            "Port": li["Port"],
            "Protocol": li["Protocol"],
            "Actions": li["DefaultActions"],
        }
        for lb in lbs
        for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }
    groups = {
        tg["TargetGroupArn"]: {
            "type": tg["TargetType"],
            "targets": sorted(
                h["Target"]["Id"]
                for h in elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])[
                    "TargetHealthDescriptions"
                ]
            ),
        }
        for tg in elb.describe_target_groups()["TargetGroups"]
    }
    functions = {
        fn["FunctionName"]: lam.get_function_concurrency(FunctionName=fn["FunctionName"]).get(
            "ReservedConcurrentExecutions"
        )
        for fn in lam.list_functions()["Functions"]
    }
    rules = {r["Name"]: r["State"] for r in events.list_rules()["Rules"]}
    return {"listeners": listeners, "groups": groups, "functions": functions, "rules": rules}


def migration_of(demo: DemoEstate) -> str:
    return migration_id_for_target_group(demo.shop_tg)
