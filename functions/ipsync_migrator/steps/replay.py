"""Rollback by event replay: a replayed migration event rolls its migration back.

Replays are unordered, may repeat, and may carry events of an older run of the same
migration; each case is reported and left alone rather than guessed at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ipsync_migrator.aws.bus import EVENT_SOURCE
from ipsync_migrator.events import ROLLBACK_TRIGGERS, DetailType, replay_applies_to
from ipsync_migrator.journal import MigrationRecord, MigrationState, StepEntry
from ipsync_migrator.steps.context import StepContext
from ipsync_migrator.steps.rollback import ROLLBACK_HOLDER_PREFIX, rollback_until_settled

ROLLBACK_BY_REPLAY = "rollback_by_replay"
FINALIZED_ACTION = (
    "The legacy function was deleted at finalize: redeploy it from the journal's snapshot "
    "and point the listeners back at the old target group by hand."
)
#: What a replay did to a migration, from most to least significant.
OUTCOME_ORDER = (
    "rollback_incomplete",
    "rolled_back",
    "finalized",
    "superseded",
    "already_rolled_back",
    # Deliveries acted on nothing: not an event of the migration's runs, or of another one.
    "ignored",
)
#: The outcomes that leave a migration rolled back.
ROLLED_BACK_OUTCOMES = frozenset({"rolled_back", "already_rolled_back"})


def rollback_replayed(
    ctx: StepContext,
    migration_id: str,
    event_owner: str,
    replay_name: str,
    event_time: datetime | None = None,
    source: str = EVENT_SOURCE,
    detail_type: str = DetailType.STEP_COMPLETED,
) -> dict[str, Any]:
    """Roll back the migration a replayed event belongs to; report what was done and why.

    Only an event of the project (its source and a rollback-trigger detail-type: the bus
    rule's pattern, checked again here) emitted by one of the migration's journaled runs
    while that run held it (`event_time`) is acted on.
    """
    outcome: dict[str, Any] = {"migrationId": migration_id, "replay": replay_name}
    if source != EVENT_SOURCE or detail_type not in ROLLBACK_TRIGGERS:
        return {**outcome, "outcome": "not_a_migration_event", "source": source}
    if not replay_applies_to(replay_name, migration_id):
        return {**outcome, "outcome": "not_targeted"}
    record = ctx.journal.get(migration_id)
    if record is None:
        return {**outcome, "outcome": "unknown_migration"}
    runs = journaled_runs(record)
    driving = runs[-1] if runs else record.owner
    if (
        not event_owner
        or event_owner not in runs
        or not _during_run(record, event_owner, event_time)
    ):
        # Not an event of this migration's runs (forged, or another stack's): never acted on.
        result = {**outcome, "outcome": "not_a_run_of_this_migration", "owner": event_owner}
    elif event_owner != driving:
        result = {**outcome, "outcome": "superseded", "by": driving}
    elif record.state == MigrationState.ROLLED_BACK:
        result = {**outcome, "outcome": "already_rolled_back"}
    elif record.state == MigrationState.FINALIZED:
        result = {**outcome, "outcome": "finalized", "action": FINALIZED_ACTION}
    else:
        # One invocation polls the old group's health until the rollback ends (its timeout is
        # below the function's; template.yaml).
        done = rollback_until_settled(
            ctx, migration_id, reason=f"rolled back by replay {replay_name}"
        )
        # Deliveries run concurrently: only the one that recorded the rollback reports it.
        if done.get("alreadyRolledBack"):
            result = {**outcome, "outcome": "already_rolled_back"}
        elif done.get("superseded"):
            result = {**outcome, "outcome": "superseded", "by": done.get("by")}
        else:
            result = {**outcome, "outcome": done["state"], "leftovers": done.get("leftovers", [])}
    # Journaled so `ipsync-migrator replay-rollback` can report what this replay did.
    ctx.journal.append(
        StepEntry(
            migration_id=migration_id,
            step=ROLLBACK_BY_REPLAY,
            status=result["outcome"],
            detail=replay_name,
        )
    )
    return result


#: Clock skew allowed between an event's time and the journal's (both are AWS clocks).
SKEW_SECONDS = 300


def _during_run(record: MigrationRecord, owner: str, event_time: datetime | None) -> bool:
    """The event was emitted after `owner` took the migration over (its journaled start)."""
    if event_time is None:
        return True
    starts = [str(run["at"]) for run in record.runs if run.get("owner") == owner and run.get("at")]
    if not starts:
        return True  # a record from before runs were journaled with their start
    started = datetime.fromisoformat(min(starts))
    return (started - event_time).total_seconds() <= SKEW_SECONDS


def journaled_runs(record: MigrationRecord) -> list[str]:
    """The executions that drove the migration, oldest first (rollback takeovers left out)."""
    owners = [run["owner"] for run in record.runs] + [record.owner]
    runs: list[str] = []
    for owner in owners:
        if owner and not owner.startswith(ROLLBACK_HOLDER_PREFIX) and owner not in runs[-1:]:
            runs.append(owner)
    return runs
