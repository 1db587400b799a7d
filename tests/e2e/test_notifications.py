"""Notifications on the local runtime: the stack deployed with an SNS topic, its rules, and
an SQS queue subscribed to the topic as a team's inbox would be."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from ipsync_migrator.discovery import discover
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.inbox import NotificationInbox
from ipsync_migrator.local.realism import FaultRule
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment, Verdict
from ipsync_migrator.operations import Service
from ipsync_migrator.progress import follow_replay
from tests.e2e.conftest import FAST, finished, wait_until

#: The emulator's default account, where the demo estate and the stack live.
ACCOUNT = "123456789012"


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with LocalRuntime(port=0, seed="demo", notifications=True) as started:
        yield started


class Inbox(NotificationInbox):
    def wait_for(self, *starts: str, timeout: float = 60) -> list[str]:
        """The messages received so far, once one starts with each of `starts`."""
        return wait_until(
            lambda: (
                all(any(m.startswith(s) for m in self.receive()) for s in starts) and self.messages
            ),
            timeout=timeout,
        )


@pytest.fixture
def inbox(runtime: LocalRuntime) -> Inbox:
    assert runtime.notification_topic_arn is not None
    return Inbox(runtime.clients(), runtime.notification_topic_arn)


def migratable(runtime: LocalRuntime) -> list[Deployment]:
    report = discover(runtime.clients())
    return [d for d in report.deployments if d.verdict == Verdict.MIGRATABLE]


def test_a_migration_notifies_started_cut_over_and_retired(
    runtime: LocalRuntime, inbox: Inbox
) -> None:
    # Given the stack deployed with a notification topic, and a team inbox subscribed to it
    service = Service.connect(runtime.clients(), runtime.stack_name)
    shop = migratable(runtime)[0]

    # When a migration runs to the end
    started = service.start(shop, FAST)
    assert finished(service, started)["status"] == "SUCCEEDED"

    # Then the team hears of each milestone, with the migration id, its load balancer and
    # the execution's ARN (link-ready), in this account and region
    messages = inbox.wait_for("Migration Started", "Migration Cut Over", "Migration Retired")
    about_shop = [m for m in messages if f"migration {shop.id} " in m]
    assert [m.split(":", 1)[0] for m in about_shop] == [
        "Migration Started",
        "Migration Cut Over",
        "Migration Retired",
    ]
    nlb = shop.network_load_balancers[0].arn
    for message in about_shop:
        assert nlb in message
        assert f"execution {started.execution_arn}" in message
        assert f"in {ACCOUNT}/{runtime.region}" in message


def test_a_failed_migration_notifies_rolled_back_and_failed(
    runtime: LocalRuntime, inbox: Inbox
) -> None:
    # Given ELB refusing to change the production listener of one deployment
    service = Service.connect(runtime.clients(), runtime.stack_name)
    shop = migratable(runtime)[0]
    runtime.realism.add_fault(
        FaultRule(
            "elbv2",
            "ModifyListener",
            error_code="AccessDenied",
            message="refused for this test",
            match={"ListenerArn": shop.network_load_balancers[0].listeners[0].arn},
        )
    )

    # When its migration runs, fails at cutover and rolls back
    started = service.start(shop, FAST)
    assert finished(service, started)["status"] == "FAILED"

    # Then the team hears it was rolled back, and that the execution failed (Step Functions'
    # own status-change event), each with the execution's ARN
    messages = inbox.wait_for("Migration Rolled Back", "Migration ")
    rolled_back = [m for m in messages if m.startswith("Migration Rolled Back")]
    assert len(rolled_back) == 1 and f"migration {shop.id} " in rolled_back[0]
    assert f"execution {started.execution_arn}" in rolled_back[0]
    name = started.execution_arn.rsplit(":", 1)[-1]
    failed = wait_until(
        lambda: [m for m in inbox.receive() if m.startswith(f"Migration {name} FAILED")]
    )
    assert failed == [f"Migration {name} FAILED: execution {started.execution_arn}"]
    assert not any(m.startswith("Migration Retired") for m in inbox.messages)


def test_a_fleet_notifies_its_completion(runtime: LocalRuntime, inbox: Inbox) -> None:
    # Given a fleet of the hub account (its three migratable deployments)
    sfn = runtime.clients().client("stepfunctions")
    spec = {
        "targets": [{"accountId": ACCOUNT, "regions": [runtime.region]}],
        "maxConcurrency": 3,
        "options": FAST.to_json_dict(),
    }

    # When the fleet runs
    arn = sfn.start_execution(
        stateMachineArn=runtime.outputs["FleetStateMachineArn"],
        name="fleet-notified",
        input=json.dumps(spec),
    )["executionArn"]

    # Then the team hears the fleet completed, within tolerance, with its summary
    # Three child migrations run first: on a shared CPU (`make test` runs two workers) that
    # can take longer than one migration's minute.
    messages = inbox.wait_for("Fleet ", timeout=240)
    [fleet] = [m for m in messages if m.startswith("Fleet ")]
    assert fleet.startswith(f"Fleet {arn} completed (within tolerance: true): 3 migration(s)")
    assert sum(m.startswith("Migration Retired") for m in messages) == 3


def test_a_replay_rolls_back_without_announcing_the_window_again(
    runtime: LocalRuntime, inbox: Inbox
) -> None:
    # Given a migration that ran to the end, and the team told of each milestone once
    service = Service.connect(runtime.clients(), runtime.stack_name)
    shop = migratable(runtime)[0]
    since = datetime.now(UTC) - timedelta(seconds=5)
    assert finished(service, service.start(shop, FAST))["status"] == "SUCCEEDED"
    inbox.wait_for("Migration Started", "Migration Cut Over", "Migration Retired")
    until = datetime.now(UTC) + timedelta(seconds=5)

    # When its window is replayed (the archive's copies of those milestones go out again)
    name = service.replay_rollback(since, until)
    outcomes = follow_replay(service, name, service.migrations_in_window(since, until))
    runtime.events.wait()

    # Then the migration is rolled back, and the team hears that, once
    assert outcomes == {shop.id: "rolled_back"}
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.ROLLED_BACK
    messages = inbox.wait_for("Migration Rolled Back")
    about_shop = [m for m in messages if shop.id in m]
    # but not of the replayed milestones: the replay reached the rollback rule only (in
    # whatever form a notification rule would have published them)
    for milestone in ("Migration Started", "Migration Cut Over", "Migration Retired"):
        assert sum(milestone in m for m in about_shop) == 1, (milestone, about_shop)
    assert sum("Migration Rolled Back" in m for m in about_shop) == 1
