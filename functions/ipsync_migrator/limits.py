"""Step Functions' history limit, checked before a migration starts (DOMAIN.md section 6).

An execution that reaches 25,000 history events fails on the spot and no Catch runs: a
migration cut over and baking would stop without its rollback. The poll loops are the only
part of statemachine/migrate.asl.json whose length depends on the options, so the worst case
is bounded by the timings and refused up front, by the CLI and by Preflight alike.

The counts below are an upper bound read from the ASL (tests/unit/test_migrate_asl.py
recomputes them from the file and fails if the ASL outgrows them):

- A Wait + Task + Choice poll iteration: Wait entered/exited (2); Task entered,
  TaskScheduled, TaskStarted, TaskSucceeded, Task exited (5); Choice entered/exited (2) = 9,
  plus, conservatively, every retry the Task may take on every iteration: each retry adds
  TaskScheduled, TaskStarted, TaskFailed (3) and the transient-error retrier allows 6
  (MaxAttempts), so 9 + 6 x 3 = 27 events per iteration.
- A rollback that waits for the old group's health loops the same way (WaitForOldGroupHealth
  + Rollback + AfterRollback), after the bake at worst, so the three loops add up.
- Everything outside the loops runs at most once: every such state (both branches of each
  choice included) with all its retries, plus ExecutionStarted and the execution's end,
  stays under 400 events.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from ipsync_migrator.errors import InvalidInputError
from ipsync_migrator.models import MigrationOptions

#: Step Functions' hard limit of history events per execution (limits.html).
MAX_HISTORY_EVENTS = 25_000
#: Events of one Wait + Task + Choice iteration, every retry of the Task included.
POLL_ITERATION_EVENTS = 27
#: Events of every state outside the poll loops, each once with all its retries: an upper
#: bound with room for a few more states (tests/unit/test_migrate_asl.py counts the ASL).
FIXED_EVENTS = 400


@dataclass(frozen=True)
class HistoryBudget:
    """The worst-case history of one migration execution with given options."""

    health_checks: int
    bake_checks: int
    #: A rollback's polls of the old group's health (Rollback + WaitForOldGroupHealth).
    rollback_checks: int = 0

    @property
    def events(self) -> int:
        loops = self.health_checks + self.bake_checks + self.rollback_checks
        return FIXED_EVENTS + POLL_ITERATION_EVENTS * loops


def history_budget(options: MigrationOptions) -> HistoryBudget:
    """Worst-case poll iterations and events of one execution with these options.

    Each iteration waits pollSeconds first, and the gates end a phase once its time is up
    (steps/health.py): the health loop stops failing after ceil(healthTimeout / poll) + 1
    checks at most, the bake loop passes after ceil(bake / poll) + 1 checks at most, and a
    rollback's health loop ends after ceil(rollbackHealthTimeout / rollbackPoll) + 1 passes.
    """
    poll = options.poll_seconds
    return HistoryBudget(
        health_checks=ceil(options.health_timeout_seconds / poll) + 1,
        bake_checks=ceil(options.bake_seconds / poll) + 1,
        rollback_checks=ceil(
            options.rollback_health_timeout_seconds / options.rollback_poll_seconds
        )
        + 1,
    )


def check_history_budget(options: MigrationOptions) -> HistoryBudget:
    """The options' budget, or InvalidInputError if an execution could exceed the limit."""
    budget = history_budget(options)
    if budget.events <= MAX_HISTORY_EVENTS:
        return budget
    raise InvalidInputError(
        f"These timings could take up to {budget.events:,} Step Functions history events in "
        f"one execution ({budget.health_checks:,} health checks, {budget.bake_checks:,} bake "
        f"checks and {budget.rollback_checks:,} rollback health checks every "
        f"{options.poll_seconds} s); the limit is "
        f"{MAX_HISTORY_EVENTS:,}, and an execution that reaches it fails without rolling "
        "back.",
        _remedy(options),
    )


def _fits(options: MigrationOptions, **changes: int) -> bool:
    return history_budget(options.model_copy(update=changes)).events <= MAX_HISTORY_EVENTS


def _remedy(options: MigrationOptions) -> str:
    """The smallest pollSeconds that fits, and the longest bake that fits at this poll."""
    # At a poll as long as the longest phase each loop checks twice at most: that fits.
    low, high = options.poll_seconds, max(options.health_timeout_seconds, options.bake_seconds, 1)
    while low < high:
        middle = (low + high) // 2
        if _fits(options, poll_seconds=middle):
            high = middle
        else:
            low = middle + 1
    poll = f"Raise pollSeconds (--poll-seconds) to at least {low}"
    if not _fits(options, bake_seconds=0):
        return (
            f"{poll}, or lower healthTimeoutSeconds (--health-timeout-seconds) or "
            "rollbackHealthTimeoutSeconds."
        )
    low, high = 0, options.bake_seconds
    while low < high:
        middle = (low + high + 1) // 2
        if _fits(options, bake_seconds=middle):
            low = middle
        else:
            high = middle - 1
    return f"{poll}, or lower bakeSeconds (--bake-seconds) to at most {low}."
