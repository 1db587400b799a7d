"""limits.py: timings whose poll loops could outgrow an execution's 25,000 history events."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from ipsync_migrator.errors import InvalidInputError
from ipsync_migrator.limits import (
    FIXED_EVENTS,
    MAX_HISTORY_EVENTS,
    POLL_ITERATION_EVENTS,
    check_history_budget,
    history_budget,
)
from ipsync_migrator.models import MigrationOptions

#: Poll iterations one execution can afford after the fixed part.
ITERATIONS = (MAX_HISTORY_EVENTS - FIXED_EVENTS) // POLL_ITERATION_EVENTS


def options(**timings: int) -> MigrationOptions:
    """The defaults with these timings; no rollback health wait (one pass) unless given."""
    return MigrationOptions().model_copy(update={"rollback_health_timeout_seconds": 0, **timings})


def refusal(chosen: MigrationOptions) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as refused:
        check_history_budget(chosen)
    return refused.value


def test_production_defaults_fit_with_room_to_spare() -> None:
    # Given the defaults (15 s polls, 600 s health timeout, 900 s bake)
    budget = check_history_budget(MigrationOptions())
    # Then 41 health, 61 bake and 61 rollback checks (every 10 s) at most, a small part of it
    assert (budget.health_checks, budget.bake_checks, budget.rollback_checks) == (41, 61, 61)
    assert budget.events < MAX_HISTORY_EVENTS // 5


def test_every_check_of_both_loops_is_counted() -> None:
    # Given 1-second polls, a 10 s health timeout and a 20 s bake
    budget = history_budget(options(poll_seconds=1, health_timeout_seconds=10, bake_seconds=20))
    # Then each loop may run one check more than its seconds (the last one ends it), and the
    # rollback's single pass counts as one
    assert (budget.health_checks, budget.bake_checks, budget.rollback_checks) == (11, 21, 1)
    assert budget.events == FIXED_EVENTS + POLL_ITERATION_EVENTS * 33


def test_a_rollback_waiting_for_the_old_group_is_counted_too() -> None:
    # Given a rollback that may wait 30 s for the old group, polled every second
    budget = history_budget(options(rollback_poll_seconds=1, rollback_health_timeout_seconds=30))
    # Then its 31 passes count like the other loops' checks
    assert budget.rollback_checks == 31
    # and by its own poll: every 10 s (the default), whatever pollSeconds the migration uses
    assert (
        history_budget(options(poll_seconds=1, rollback_health_timeout_seconds=30)).rollback_checks
        == 4
    )
    # and a wait that would outgrow the limit is refused up front, naming the option
    error = refusal(
        options(
            poll_seconds=1,
            bake_seconds=ITERATIONS - 300,
            rollback_health_timeout_seconds=780,
            rollback_poll_seconds=1,
        )
    )
    assert "rollback health checks" in error.message


def test_a_bake_polled_every_second_is_accepted_just_under_and_refused_just_over() -> None:
    # Given 1-second polls and no health wait: 1 health check, bake + 1 bake checks, and a
    # rollback pass
    longest = ITERATIONS - 3
    assert longest >= 900  # a 15-minute bake polled every second fits
    just_under = options(poll_seconds=1, health_timeout_seconds=0, bake_seconds=longest)
    just_over = options(poll_seconds=1, health_timeout_seconds=0, bake_seconds=longest + 1)
    # When each is checked, Then the longest that fits is accepted and one second more is not
    assert check_history_budget(just_under).events <= MAX_HISTORY_EVENTS
    assert history_budget(just_over).events > MAX_HISTORY_EVENTS
    refusal(just_over)


def test_the_boundary_holds_at_production_polls_too() -> None:
    # Given 15-second polls and the default health timeout (41 health checks)
    bake_checks = ITERATIONS - 41 - 1
    longest = (bake_checks - 1) * 15
    # Then the longest bake that fits is accepted, and one more second (a check more) refused
    check_history_budget(options(bake_seconds=longest))
    refusal(options(bake_seconds=longest + 1))


def test_a_refusal_names_the_limit_and_fixes_that_work() -> None:
    # Given a day's bake polled every 15 s
    chosen = options(bake_seconds=86_400)

    # When it is checked
    error = refusal(chosen)

    # Then the error names the 25,000-event limit and what it would cost
    assert "25,000" in error.message and "history events" in error.message
    assert f"{history_budget(chosen).events:,}" in error.message
    # and the fix names the smallest poll and the longest bake that fit, exactly
    match = re.search(r"pollSeconds \(--poll-seconds\) to at least (\d+)", error.remediation)
    assert match, error.remediation
    poll = int(match.group(1))
    check_history_budget(chosen.model_copy(update={"poll_seconds": poll}))
    refusal(chosen.model_copy(update={"poll_seconds": poll - 1}))
    match = re.search(r"bakeSeconds \(--bake-seconds\) to at most (\d+)", error.remediation)
    assert match, error.remediation
    bake = int(match.group(1))
    check_history_budget(chosen.model_copy(update={"bake_seconds": bake}))
    refusal(chosen.model_copy(update={"bake_seconds": bake + 1}))


def test_a_health_timeout_alone_too_long_says_to_lower_it() -> None:
    # Given a health timeout that outgrows the limit even without any bake
    error = refusal(options(poll_seconds=1, health_timeout_seconds=100_000, bake_seconds=0))
    # Then the fix points at the health timeout, not the bake
    assert "healthTimeoutSeconds" in error.remediation
    assert "bakeSeconds" not in error.remediation


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pollSeconds", 0),
        ("approvalTimeoutSeconds", 0),
        ("approvalTimeoutSeconds", 604_801),
    ],
)
def test_timings_out_of_bounds_are_refused_by_the_model(field: str, value: int) -> None:
    # When an option is out of its bounds, Then validation fails naming it
    with pytest.raises(ValidationError, match=field):
        MigrationOptions.model_validate({field: value})


def test_approval_timeout_defaults_to_a_day_and_accepts_a_week() -> None:
    assert MigrationOptions().approval_timeout_seconds == 86_400
    assert MigrationOptions.model_validate({"approvalTimeoutSeconds": 604_800})
    assert MigrationOptions.model_validate({"approvalTimeoutSeconds": 1})
