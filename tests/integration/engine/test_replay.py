"""Rollback by replay at the engine level: shuffled, duplicated, stale and finalized events."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.events import replay_applies_to, replay_name
from ipsync_migrator.local.demo_estate import DemoEstate
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.preflight import preflight
from ipsync_migrator.steps.replay import rollback_replayed
from ipsync_migrator.steps.retire import finalize
from ipsync_migrator.steps.rollback import rollback
from tests.integration.engine.conftest import FAST, snapshot
from tests.integration.engine.test_contracts import capture_events, received
from tests.integration.engine.test_failures import OWNER, pipeline


def test_shuffled_duplicated_replay_rolls_back_exactly_once(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    url = capture_events(aws)
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    original = snapshot(aws)
    for step in pipeline(ctx, mid):
        step()
    events = received(aws, url)
    replayed = events * 3
    random.Random(7).shuffle(replayed)
    name = replay_name(None, "20261121T1000")

    outcomes = [
        rollback_replayed(ctx, e["detail"]["migrationId"], e["detail"]["owner"], name)["outcome"]
        for e in replayed
    ]

    assert outcomes.count("rolled_back") == 1
    assert set(outcomes) == {"rolled_back", "already_rolled_back"}
    assert snapshot(aws) == original


def test_finalized_migration_is_reported_and_left_alone(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    for step in pipeline(ctx, mid):
        step()
    finalize(ctx, mid)
    after = snapshot(aws)

    result = rollback_replayed(ctx, mid, OWNER, replay_name(None, "x"))

    assert result["outcome"] == "finalized" and "redeploy" in result["action"]
    assert snapshot(aws) == after


def test_event_of_an_older_run_does_not_undo_a_newer_run(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    mid = preflight(ctx, demo.shop_tg, "run-1", FAST)["migrationId"]
    rollback(ctx, mid, reason="first attempt abandoned")
    preflight(ctx, demo.shop_tg, "run-2", FAST)
    before = snapshot(aws)

    result = rollback_replayed(ctx, mid, "run-1", replay_name(None, "x"))

    assert result == {**result, "outcome": "superseded", "by": "run-2"}
    assert snapshot(aws) == before


def test_replay_scoped_to_one_migration_ignores_the_others() -> None:
    name = replay_name("shop-ip-tg-1234", "20261121T1000")
    assert len(name) <= 64
    assert replay_applies_to(name, "shop-ip-tg-1234")
    assert not replay_applies_to(name, "api-ip-tg-9999")
    assert replay_applies_to(replay_name(None, "t"), "api-ip-tg-9999")
    assert replay_applies_to("my-console-replay", "api-ip-tg-9999")


def test_only_the_projects_events_of_a_journaled_run_and_its_time_roll_back(
    aws: ClientFactory, demo: DemoEstate, ctx: StepContext
) -> None:
    # Given a migration retired by its run
    mid = preflight(ctx, demo.shop_tg, OWNER, FAST)["migrationId"]
    for step in pipeline(ctx, mid):
        step()
    retired = snapshot(aws)
    name = replay_name(None, "x")
    started = datetime.fromisoformat(ctx.journal.get(mid).runs[-1]["at"])  # type: ignore[union-attr]

    # When replayed events come with another source, a detail-type that triggers nothing, or
    # the run's owner but a time long before that run held the migration
    forged = [
        rollback_replayed(ctx, mid, OWNER, name, source="evil"),
        rollback_replayed(ctx, mid, OWNER, name, detail_type="Fleet Completed"),
        rollback_replayed(ctx, mid, OWNER, name, event_time=started - timedelta(days=1)),
    ]

    # Then none is acted on, each says why, and the migration stays retired
    assert [f["outcome"] for f in forged] == [
        "not_a_migration_event",
        "not_a_migration_event",
        "not_a_run_of_this_migration",
    ]
    assert snapshot(aws) == retired
    # while the run's own event, at its time, still rolls it back
    assert rollback_replayed(ctx, mid, OWNER, name, event_time=started)["outcome"] == (
        "rolled_back"
    )
