"""EventBridge delivery the emulator lacks: Lambda targets, and the replay time window.

moto 5.2 (`moto.events.models.Rule.send_to_targets`) raises NotImplementedError for a
Lambda target, and `Replay.replay_events` replays the whole archive whatever the window.
This patch delivers matching events to Lambda targets in-process (asynchronously, as
EventBridge does, through `LambdaBackend.invoke`, which the Lambda bridge routes to our
handlers) and replays only the archived events whose ingestion time is in the window.

EventBridge promises neither order nor exactly-once delivery; moto replays in archive order,
once each. `disorder_replays` makes replays deliver every event several times, shuffled
(all at once, on concurrent threads), so the local runtime can show that rollback by
replay does not depend on either.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import lambda_backends
from moto.events import models as events_models
from moto.utilities.arns import parse_arn

#: Deliveries to Lambda run on worker threads, like EventBridge's asynchronous invoke.
_DELIVERY_TIMEOUT_SECONDS = 60


class EventDelivery:
    """Install/uninstall the delivery patches; `wait()` joins deliveries still running."""

    def __init__(self) -> None:
        self._original_send: Callable[..., None] | None = None
        self._original_replay: Callable[..., None] | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.delivered: list[dict[str, Any]] = []
        self._replay_copies = 1
        self._replay_order: random.Random | None = None

    def disorder_replays(self, copies: int = 3, seed: int | None = None) -> None:
        """Replays deliver each event `copies` times in a shuffled order (1: as archived)."""
        if copies < 1:
            raise ValueError("copies must be at least 1")
        self._replay_copies = copies
        self._replay_order = random.Random(seed) if copies > 1 or seed is not None else None

    def install(self) -> EventDelivery:
        if self._original_send is not None:
            return self
        self._original_send = events_models.Rule.send_to_targets
        self._original_replay = events_models.Replay.replay_events
        delivery = self
        original_send, original_replay = self._original_send, self._original_replay

        def send_to_targets(
            rule: Any, original_event: dict[str, Any], transform_input: bool = True
        ) -> None:
            lambdas = [t for t in rule.targets if parse_arn(t["Arn"]).service == "lambda"]
            if lambdas and rule.event_pattern.matches_event(original_event):
                for target in lambdas:
                    delivery._invoke_async(target, original_event)
            others = [t for t in rule.targets if parse_arn(t["Arn"]).service != "lambda"]
            if not others:
                return
            with delivery._lock:  # moto reads rule.targets; hide the Lambda ones from it
                saved, rule.targets = rule.targets, others
                try:
                    original_send(rule, original_event, transform_input)  # type: ignore[arg-type]
                finally:
                    rule.targets = saved

        def replay_events(replay: Any, archive: Any) -> None:
            start, end = float(replay.event_start_time), float(replay.event_end_time)
            window = [e for e in archive.events if start <= _ingested(e) <= end]
            window *= delivery._replay_copies
            if delivery._replay_order is not None:
                delivery._replay_order.shuffle(window)
            saved, archive.events = archive.events, window
            try:
                original_replay(replay, archive)
            finally:
                archive.events = saved

        events_models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]
        events_models.Replay.replay_events = replay_events  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        if self._original_send is None:
            return
        self.wait()
        events_models.Rule.send_to_targets = self._original_send  # type: ignore[method-assign,assignment]
        events_models.Replay.replay_events = self._original_replay  # type: ignore[method-assign,assignment]
        self._original_send = self._original_replay = None

    def wait(self, timeout: float = _DELIVERY_TIMEOUT_SECONDS) -> None:
        """Block until every delivery started so far has finished."""
        while True:
            with self._lock:
                pending = [t for t in self._threads if t.is_alive()]
                self._threads = pending
            if not pending:
                return
            for thread in pending:
                thread.join(timeout)

    def _invoke_async(self, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = parse_arn(target["Arn"])
        payload = json.dumps(event, default=str)

        def invoke() -> None:
            backend = lambda_backends[arn.account][arn.region]
            backend.invoke(arn.resource_id, None, payload, {}, {})
            with self._lock:
                self.delivered.append(event)

        thread = threading.Thread(target=invoke, name="eventbridge-to-lambda", daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()


def _ingested(event: dict[str, Any]) -> float:
    value = event.get("ingestion-time", event.get("time", 0))
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
