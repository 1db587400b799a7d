"""`--wait` says where a migration is and how long is left, from its journal record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ipsync_migrator.errors import InvalidInputError
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.models import MigrationOptions
from ipsync_migrator.progress import duration, parse_time, phase

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
OPTIONS = MigrationOptions(
    bake_seconds=900, drain_seconds=3600, healthy_checks_required=3
).to_json_dict()


def ago(seconds: float) -> str:
    return (NOW - timedelta(seconds=seconds)).isoformat()


def record(state: MigrationState, **fields: object) -> MigrationRecord:
    return MigrationRecord(migration_id="shop", state=state, options=OPTIONS, **fields)


def test_probe_health_counts_checks_and_the_time_the_health_timeout_leaves() -> None:
    probing = record(
        MigrationState.IN_PROGRESS,
        current_step="check_health",
        health={"startedAt": ago(100), "consecutiveHealthy": 1, "lastState": "initial"},
    )

    now = phase(probing, NOW)

    assert now.name == "probe health"
    assert "1/3 healthy checks" in now.detail
    assert now.seconds_left == 500  # health timeout 600 s


def test_bake_then_drain_count_down_with_an_eta() -> None:
    baking = record(MigrationState.CUT_OVER, timestamps={"cutOver": ago(300)})
    draining = record(
        MigrationState.CUT_OVER, timestamps={"cutOver": ago(1000), "bakePassed": ago(100)}
    )

    bake, drain = phase(baking, NOW), phase(draining, NOW)

    assert (bake.name, bake.seconds_left, bake.eta_seconds) == ("bake", 600, 600 + 3600)
    assert (drain.name, drain.seconds_left, drain.eta_seconds) == ("drain", 3500, 3500)
    assert drain.text().startswith("drain") and "58 min 20 s left" in drain.text()


def test_an_approval_gate_says_what_to_run() -> None:
    waiting = record(MigrationState.IN_PROGRESS, approval={"gate": "cutover", "taskToken": "token"})

    assert "ipsync-migrator approve shop" in phase(waiting, NOW).text()


def test_durations_read_as_people_say_them() -> None:
    assert [duration(s) for s in (8, 850, 3900, None)] == ["8 s", "14 min 10 s", "1 h 05 min", "?"]


@pytest.mark.parametrize("value", ["1000000d", "99999999999d", "0001-01-01T00:00:00+14:00"])
def test_a_window_start_out_of_range_is_a_clear_error(value: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        parse_time(value)
    assert value in raised.value.message and "30m" in raised.value.remediation
