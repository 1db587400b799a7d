"""AWS's clock in the emulator: AWS seconds pass ``time_factor`` times faster than real ones.

Target health (``health.py``) runs on it, so a migration in the emulator waits for AWS's
registration and health checks as on AWS, only shorter: at the default factor 0.01, one AWS
second lasts 10 ms and an ``alb`` group turns healthy about 1.8 s after attach instead of
180 s. With ``ScaledWaits`` installed, Step Functions Wait states run on the same clock, so
``pollSeconds`` are AWS seconds too (``make bench`` reports AWS seconds that way). Steps that
time a phase (health timeout, bake) read the wall clock: their limits stay real seconds.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["DEFAULT_TIME_FACTOR", "AwsClock", "ManualClock", "ScaledWaits"]

#: Real seconds per AWS second (1 AWS second = 10 ms).
DEFAULT_TIME_FACTOR = 0.01


class AwsClock:
    """AWS time as the emulator tells it: real time divided by ``time_factor``.

    With ``handlers_at_real_speed`` (a benchmark's clock, beside ``ScaledWaits``), AWS time
    passes at the real rate while a handler runs (``real_speed``): Lambda code takes its own
    time on AWS too, so the emulator's slowness does not count many times over. Without
    it (the default), handlers do not slow the clock: the emulator runs one handler at a
    time, so with several executions polling at once some handler runs nearly all the time
    and health would take about as long as on AWS, past a test's real-second timeouts.
    """

    def __init__(
        self, time_factor: float = DEFAULT_TIME_FACTOR, *, handlers_at_real_speed: bool = False
    ) -> None:
        if not time_factor > 0:
            raise ValueError("time_factor must be positive (real seconds per AWS second)")
        self.time_factor = time_factor
        self.handlers_at_real_speed = handlers_at_real_speed
        self._lock = threading.Lock()
        self._mark = time.monotonic()
        self._aws = 0.0
        self._handlers = 0
        #: (wall time, AWS time, rate from then on) at the start and at each change of rate.
        self._marks: list[tuple[float, float, float]] = [(time.time(), 0.0, 1 / time_factor)]

    def now(self) -> float:
        """AWS seconds since the clock was made (monotonic)."""
        with self._lock:
            return self._advance()

    def _advance(self) -> float:
        moment = time.monotonic()
        self._aws += (moment - self._mark) * self._rate()
        self._mark = moment
        return self._aws

    def _rate(self) -> float:
        return 1.0 if self._handlers else 1 / self.time_factor

    def _rate_changed(self) -> None:
        self._marks.append((time.time(), self._aws, self._rate()))

    def at(self, wall_time: float) -> float:
        """AWS seconds since the clock was made at a past moment of the wall clock (a
        `time.time()`, e.g. an execution history's timestamp): what health saw then."""
        with self._lock:
            self._advance()
            index = bisect.bisect_right(self._marks, (wall_time, float("inf"), 0.0)) - 1
            wall, aws, rate = self._marks[max(index, 0)]
            return max(0.0, aws + (wall_time - wall) * rate)

    @contextmanager
    def real_speed(self) -> Iterator[None]:
        """Meanwhile AWS time passes at the real rate (a Lambda handler running), when the
        clock was made with ``handlers_at_real_speed``."""
        if not self.handlers_at_real_speed:
            yield
            return
        with self._lock:
            self._advance()
            self._handlers += 1
            self._rate_changed()
        try:
            yield
        finally:
            with self._lock:
                self._advance()
                self._handlers -= 1
                self._rate_changed()

    def real_seconds(self, aws_seconds: float) -> float:
        """How long `aws_seconds` last here."""
        return aws_seconds * self.time_factor


class ManualClock(AwsClock):
    """A clock that moves only when told to (tests: one health-check interval at a time)."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self._now = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, aws_seconds: float) -> None:
        with self._lock:
            self._now += aws_seconds


class ScaledWaits:
    """While installed, a Step Functions Wait state of N seconds waits N AWS seconds.

    Relied on: moto's ASL interpreter waits in ``WaitFunction._wait_interval(env,
    wait_seconds)`` on ``env.program_state_event`` (set when the execution stops).
    """

    def __init__(self, clock: AwsClock) -> None:
        self.clock = clock
        self._saved: Any = None

    def install(self) -> ScaledWaits:
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )

        if self._saved is None:
            self._saved = WaitFunction.__dict__["_wait_interval"]
            clock = self.clock

            def wait_interval(function: Any, env: Any, wait_seconds: int) -> None:
                if wait_seconds > 0:
                    env.program_state_event.wait(clock.real_seconds(wait_seconds))

            WaitFunction._wait_interval = wait_interval  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
            WaitFunction,
        )

        if self._saved is not None:
            WaitFunction._wait_interval = self._saved  # type: ignore[method-assign]
            self._saved = None
