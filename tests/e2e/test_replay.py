"""Rollback by replaying the event archive, end to end on the local runtime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.discovery import discover
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.local.runtime import LocalRuntime
from ipsync_migrator.models import Deployment, Verdict
from ipsync_migrator.operations import Service
from ipsync_migrator.progress import follow_replay
from ipsync_migrator.steps.replay import ROLLBACK_BY_REPLAY
from tests.e2e.conftest import FAST, finished
from tests.integration.engine.conftest import snapshot


def migrate_all(service: Service, clients: ClientFactory) -> list[Deployment]:
    """Migrate every migratable deployment to the end; returns them."""
    migratable = [d for d in discover(clients).deployments if d.verdict == Verdict.MIGRATABLE]
    for deployment in migratable:
        assert finished(service, service.start(deployment, FAST))["status"] == "SUCCEEDED"
    return migratable


def test_replaying_a_window_rolls_back_its_migrations_and_reports_the_rest(
    runtime: LocalRuntime, service: Service
) -> None:
    clients = runtime.clients()
    original = snapshot(clients)
    since = datetime.now(UTC) - timedelta(seconds=5)
    migratable = migrate_all(service, clients)
    finalized = migratable[0].id
    service.finalize(finalized)
    until = datetime.now(UTC) + timedelta(seconds=5)

    name = service.replay_rollback(since, until)
    outcomes = follow_replay(service, name, service.migrations_in_window(since, until))

    assert outcomes == {
        **{d.id: "rolled_back" for d in migratable[1:]},
        finalized: "finalized",
    }
    for deployment in migratable[1:]:
        record = service.journal.get(deployment.id)
        assert record is not None and record.state == MigrationState.ROLLED_BACK
    after = snapshot(clients)
    # Everything is back as it was, but for the finalized deployment (left alone, reported).
    finalized_function = migratable[0].function.name
    assert finalized_function not in after["functions"]
    finalized_listener = migratable[0].network_load_balancers[0].listeners[0].arn
    assert {k: v for k, v in after["listeners"].items() if k != finalized_listener} == {
        k: v for k, v in original["listeners"].items() if k != finalized_listener
    }
    assert after["listeners"][finalized_listener] != original["listeners"][finalized_listener]
    assert {k: v for k, v in after["rules"].items()} == {
        k: v for k, v in original["rules"].items() if not k.startswith(finalized_function)
    }


def test_live_events_never_roll_back_and_an_empty_window_changes_nothing(
    runtime: LocalRuntime, service: Service
) -> None:
    clients = runtime.clients()
    shop = next(d for d in discover(clients).deployments if d.verdict == Verdict.MIGRATABLE)
    assert finished(service, service.start(shop, FAST))["status"] == "SUCCEEDED"
    migrated = snapshot(clients)

    long_ago = datetime.now(UTC) - timedelta(days=2)
    name = service.replay_rollback(long_ago, long_ago + timedelta(hours=1))

    assert service.migrations_in_window(long_ago, long_ago + timedelta(hours=1)) == set()
    assert follow_replay(service, name, set()) == {}
    assert snapshot(clients) == migrated
    # and the replay went to the stack's rollback rule only (its output), not the whole bus
    replay = clients.client("events").describe_replay(ReplayName=name)
    assert replay["Destination"] == {
        "Arn": runtime.outputs["EventBusArn"],
        "FilterArns": [runtime.outputs["ReplayRollbackRuleArn"]],
    }
    record = service.journal.get(shop.id)
    assert record is not None and record.state == MigrationState.RETIRED


def test_replay_scoped_to_one_migration_leaves_the_others(
    runtime: LocalRuntime, service: Service
) -> None:
    clients = runtime.clients()
    first, second = [d for d in discover(clients).deployments if d.verdict == Verdict.MIGRATABLE][
        :2
    ]
    since = datetime.now(UTC) - timedelta(seconds=5)
    for deployment in (first, second):
        assert finished(service, service.start(deployment, FAST))["status"] == "SUCCEEDED"

    until = datetime.now(UTC) + timedelta(seconds=5)
    name = service.replay_rollback(since, until, first.id)

    expected = service.migrations_in_window(since, until, first.id)
    assert follow_replay(service, name, expected) == {first.id: "rolled_back"}
    record = service.journal.get(second.id)
    assert record is not None and record.state == MigrationState.RETIRED


def test_replay_delivered_shuffled_and_three_times_rolls_back_each_migration_once(
    runtime: LocalRuntime, service: Service
) -> None:
    # Given three migrations retired on the runtime, and EventBridge delivering the replay
    # of their events three times each, shuffled, on concurrent threads
    clients = runtime.clients()
    original = snapshot(clients)
    since = datetime.now(UTC) - timedelta(seconds=5)
    migratable = migrate_all(service, clients)
    until = datetime.now(UTC) + timedelta(seconds=5)
    runtime.events.disorder_replays(copies=3, seed=20261122)

    # When the window is replayed through the bus, its rule and the rollback function
    name = service.replay_rollback(since, until)
    outcomes = follow_replay(service, name, service.migrations_in_window(since, until))
    runtime.events.wait()

    # Then every migration is rolled back, and the estate is exactly as it was before
    assert outcomes == {d.id: "rolled_back" for d in migratable}
    assert snapshot(clients) == original
    replayed = [e for e in runtime.events.delivered if e.get("replay-name") == name]
    for deployment in migratable:
        record = service.journal.get(deployment.id)
        assert record is not None and record.state == MigrationState.ROLLED_BACK
        # and each delivery of its events was handled: one rolled it back, the rest say so
        deliveries = [e for e in replayed if e["detail"]["migrationId"] == deployment.id]
        assert len(deliveries) >= 6 and len(deliveries) % 3 == 0
        handled = [
            e.status
            for e in service.journal.entries(deployment.id)
            if e.step == ROLLBACK_BY_REPLAY and e.detail == name
        ]
        assert len(handled) == len(deliveries)
        assert handled.count("rolled_back") == 1
        assert set(handled) == {"rolled_back", "already_rolled_back"}
    # and the deliveries really were out of order: not grouped by migration as archived
    order = [e["detail"]["migrationId"] for e in replayed]
    assert order != sorted(order, key=order.index)
