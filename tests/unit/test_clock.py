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
