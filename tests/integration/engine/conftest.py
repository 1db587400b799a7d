"""Fixtures for running the real steps against the emulator with the realism adapter."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ipsync_migrator.aws.bus import EventBus
from ipsync_migrator.aws.journal import DynamoJournal, create_table
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.demo_estate import DemoEstate, seed_demo
from ipsync_migrator.local.realism import Realism
from ipsync_migrator.models import MigrationOptions
from ipsync_migrator.naming import migration_id_for_target_group
from ipsync_migrator.steps.context import StepContext

TABLE, BUS = "journal", "ipsync-migrator"
FAST = MigrationOptions(
    poll_seconds=1, health_timeout_seconds=300, bake_seconds=0, drain_seconds=0
).model_copy(update={"healthy_checks_required": 2})


@pytest.fixture
def realism(aws: ClientFactory) -> Iterator[Realism]:
    with Realism(initial_health_checks=2) as adapter:
        yield adapter


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
