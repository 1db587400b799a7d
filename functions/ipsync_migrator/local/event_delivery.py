"""EventBridge delivery the emulator lacks: Lambda and SNS targets, replay windows, and
Step Functions' execution status-change events.

moto 5.2 (`moto.events.models.Rule.send_to_targets`) raises NotImplementedError for Lambda
and SNS targets, and `Replay.replay_events` replays the whole archive whatever the window,
to every rule of the bus whatever the replay's `Destination.FilterArns`.
This patch delivers matching events to Lambda targets in-process (asynchronously, as
EventBridge does, through `LambdaBackend.invoke`, which the Lambda bridge routes to our
handlers), publishes them to SNS topics through the target's input transformer (rendered
as EventBridge does: a value inside a JSON string is escaped into it, where moto's
`EventTemplateParser` breaks on lists), and replays only the archived events whose
ingestion time is in the window, and only to the rules FilterArns names when it names any
(as EventBridge does: StartReplay's ReplayDestination). moto's Step Functions emits no
events: when an execution ends, `aws.states` "Step Functions Execution Status Change" goes
to the default bus.

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

from jsonpath_ng.ext import parse as jsonpath
from moto.awslambda.models import lambda_backends
from moto.events import models as events_models
from moto.sns.models import sns_backends
from moto.stepfunctions.parser.backend import execution as sfn_execution
from moto.utilities.arns import parse_arn

from ipsync_migrator.observability import logger

#: Deliveries to Lambda run on worker threads, like EventBridge's asynchronous invoke.
_DELIVERY_TIMEOUT_SECONDS = 60
#: Target services this module delivers to (moto delivers to the others).
_DELIVERED_HERE = frozenset({"lambda", "sns"})
#: Step Functions' own event for an execution that ended (on the default bus).
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"


class EventDelivery:
    """Install/uninstall the delivery patches; `wait()` joins deliveries still running."""

    def __init__(self) -> None:
        self._original_send: Callable[..., None] | None = None
        self._original_replay: Callable[..., None] | None = None
        self._original_terminated: Callable[..., None] | None = None
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.delivered: list[dict[str, Any]] = []
        self._replay_copies = 1
        self._replay_order: random.Random | None = None
        #: The rules (ARNs) the replay this thread is running goes to; unset: every rule.
        self._replaying = threading.local()

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
        communication = sfn_execution.BaseExecutionWorkerCommunication
        self._original_terminated = communication.terminated
        delivery = self
        original_send, original_replay = self._original_send, self._original_replay
        original_terminated = self._original_terminated

        def send_to_targets(
            rule: Any, original_event: dict[str, Any], transform_input: bool = True
        ) -> None:
            if not receives_events(rule):
                return
            only = getattr(delivery._replaying, "rules", None)
            if only is not None and rule.arn not in only:
                return  # a replay with FilterArns skips the rules it does not name
            ours = [t for t in rule.targets if parse_arn(t["Arn"]).service in _DELIVERED_HERE]
            if ours and rule.event_pattern.matches_event(original_event):
                for target in ours:
                    if parse_arn(target["Arn"]).service == "lambda":
                        delivery._invoke_async(target, original_event)
                    else:
                        _publish(target, original_event, transform_input)
            others = [t for t in rule.targets if t not in ours]
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
            # moto's replay calls each rule's send_to_targets on this thread, synchronously.
            filter_arns = (replay.destination or {}).get("FilterArns")
            delivery._replaying.rules = frozenset(filter_arns) if filter_arns else None
            try:
                original_replay(replay, archive)
            finally:
                archive.events = saved
                delivery._replaying.rules = None

        def terminated(worker: Any) -> None:
            original_terminated(worker)
            _announce_execution_end(worker.execution)

        events_models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]
        events_models.Replay.replay_events = replay_events  # type: ignore[method-assign,assignment]
        communication.terminated = terminated  # type: ignore[method-assign,assignment]
        return self

    def uninstall(self) -> None:
        if self._original_send is None:
            return
        self.wait()
        events_models.Rule.send_to_targets = self._original_send  # type: ignore[method-assign,assignment]
        events_models.Replay.replay_events = self._original_replay  # type: ignore[method-assign,assignment]
        communication = sfn_execution.BaseExecutionWorkerCommunication
        communication.terminated = self._original_terminated  # type: ignore[method-assign,assignment]
        self._original_send = self._original_replay = self._original_terminated = None

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


def receives_events(rule: Any) -> bool:
    """As on EventBridge: a DISABLED rule, or one with a schedule and no pattern, gets none.

    moto hands every event to every rule, so without this the legacy functions' schedules
    would "invoke" them (and moto would try Docker) on each migration event.
    """
    if rule.state != "ENABLED":
        return False
    return not (rule.scheduled_expression and rule.event_pattern._raw_pattern is None)


def _ingested(event: dict[str, Any]) -> float:
    value = event.get("ingestion-time", event.get("time", 0))
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _publish(target: dict[str, Any], event: dict[str, Any], transform_input: bool) -> None:
    """Publish the event (through the target's input transformer) to an SNS topic."""
    transformer = target.get("InputTransformer") if transform_input else None
    if transformer:
        message = render_input(
            transformer["InputTemplate"], transformer.get("InputPathsMap", {}), event
        )
    else:
        message = json.dumps(event, default=str)
    arn = parse_arn(target["Arn"])
    try:
        sns_backends[arn.account][arn.region].publish(message, arn=target["Arn"])
    except Exception as exc:  # EventBridge drops (or dead-letters) what it cannot deliver
        logger.warning(
            "event not delivered to SNS", extra={"topic": target["Arn"], "error": str(exc)}
        )


def render_input(template: str, paths: dict[str, str], event: dict[str, Any]) -> str:
    """An input template with its <variables> filled in, as EventBridge renders it.

    A variable inside a JSON string is escaped into the string (objects and lists as their
    JSON text); outside one it is the value's JSON. A path that matches nothing is empty.
    """
    values: dict[str, Any] = {}
    for name, path in paths.items():
        found = jsonpath(path).find(event)  # type: ignore[no-untyped-call]
        values[name] = found[0].value if found else None
    out: list[str] = []
    in_string = escaped = False
    index = 0
    while index < len(template):
        char = template[index]
        end = template.find(">", index) if char == "<" else -1
        name = template[index + 1 : end] if end > 0 else ""
        if name in values:
            out.append(_fill(values[name], in_string))
            index = end + 1
            continue
        if in_string and char == "\\" and not escaped:
            escaped = True
        else:
            if char == '"' and not escaped:
                in_string = not in_string
            escaped = False
        out.append(char)
        index += 1
    return "".join(out)


def _fill(value: Any, in_string: bool) -> str:
    if in_string:
        text = "" if value is None else value if isinstance(value, str) else json.dumps(value)
        return json.dumps(text)[1:-1]
    return json.dumps(value)


def _announce_execution_end(execution: Any) -> None:
    """Put Step Functions' status-change event for an ended execution on the default bus."""
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": str(execution.status),
        "startDate": _epoch_millis(execution.start_date),
        "stopDate": _epoch_millis(execution.stop_date),
        "input": json.dumps(execution.input_data),
        "output": json.dumps(execution.output) if execution.output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
    }
    backend = events_models.events_backends[execution.account_id][execution.region_name]
    backend.put_events(
        [
            {
                "Source": "aws.states",
                "DetailType": EXECUTION_STATUS_CHANGE,
                "Detail": json.dumps(detail, default=str),
                "Resources": [execution.exec_arn],
                "EventBusName": "default",
            }
        ]
    )


def _epoch_millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if value is not None else None
