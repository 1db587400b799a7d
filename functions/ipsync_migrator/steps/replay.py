"""Rollback by event replay: a replayed migration event rolls its migration back.

Replays are unordered, may repeat, and may carry events of an older run of the same
migration; each case is reported and left alone rather than guessed at.
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.events import replay_applies_to
from ipsync_migrator.journal import MigrationState
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.rollback import rollback

ROLLBACK_BY_REPLAY = "rollback_by_replay"


def rollback_replayed(
    ctx: StepContext, migration_id: str, event_owner: str, replay_name: str
) -> dict[str, Any]:
    """Roll back the migration a replayed event belongs to; report what was done and why."""
    outcome = {"migrationId": migration_id, "replay": replay_name}
    if not replay_applies_to(replay_name, migration_id):
        return {**outcome, "outcome": "not_targeted"}
    record = ctx.journal.get(migration_id)
    if record is None:
        return {**outcome, "outcome": "unknown_migration"}
    if event_owner and record.owner and event_owner != record.owner:
        return {**outcome, "outcome": "superseded", "by": record.owner}
    if record.state == MigrationState.ROLLED_BACK:
        return {**outcome, "outcome": "already_rolled_back"}
    if record.state == MigrationState.FINALIZED:
        return {
            **outcome,
            "outcome": "finalized",
            "action": "The legacy function was deleted at finalize: redeploy it from the "
            "journal's snapshot and point the listeners back at the old group by hand.",
        }
    rollback(ctx, migration_id, reason=f"rolled back by replay {replay_name}")
    return {**outcome, "outcome": "rolled_back"}
