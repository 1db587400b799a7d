"""The emulator's AWS clock: scaled real time; handlers at the real rate only when asked."""

from __future__ import annotations

import pytest

from ipsync_migrator.local import clock as clock_module
from ipsync_migrator.local.clock import AwsClock


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def real(monkeypatch: pytest.MonkeyPatch) -> FakeMonotonic:
    fake = FakeMonotonic()
    monkeypatch.setattr(clock_module.time, "monotonic", fake)
    return fake


def test_aws_time_runs_time_factor_times_faster(real: FakeMonotonic) -> None:
    clock = AwsClock(0.01)
    real.now += 1.5
    assert clock.now() == pytest.approx(150.0)


def test_a_running_handler_does_not_slow_the_default_clock(real: FakeMonotonic) -> None:
    clock = AwsClock(0.01)
    with clock.real_speed():
        real.now += 2.0
    assert clock.now() == pytest.approx(200.0)


def test_a_benchmark_clock_runs_at_the_real_rate_while_a_handler_runs(real: FakeMonotonic) -> None:
    clock = AwsClock(0.01, handlers_at_real_speed=True)
    with clock.real_speed():
        real.now += 2.0
    assert clock.now() == pytest.approx(2.0)
    real.now += 1.0
    assert clock.now() == pytest.approx(102.0)


def test_the_time_factor_must_be_positive() -> None:
    with pytest.raises(ValueError, match="time_factor"):
        AwsClock(0)


def test_a_past_wall_clock_moment_reads_as_the_aws_time_health_saw_then(
    real: FakeMonotonic, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a benchmark clock whose wall clock is the same fake time
    monkeypatch.setattr(clock_module.time, "time", real)
    clock = AwsClock(0.01, handlers_at_real_speed=True)
    # When 1 s passes scaled, a handler runs 2 s at the real rate, then 0.5 s scaled again
    real.now += 1.0
    with clock.real_speed():
        real.now += 2.0
    real.now += 0.5
    # Then moments of each phase convert at that phase's rate (a history's timestamps)
    assert clock.at(100.5) == pytest.approx(50.0)
    assert clock.at(102.0) == pytest.approx(101.0)
    assert clock.at(103.25) == pytest.approx(127.0)
    assert clock.at(103.5) == pytest.approx(clock.now())
