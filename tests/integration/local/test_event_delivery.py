"""The event adapter's own logic: input templates rendered as EventBridge does, and pins of
the moto gaps it closes (they fail when a moto upgrade closes a gap, so the patch can go)."""

from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.event_delivery import EventDelivery, render_input

EVENT = {
    "detail-type": "Migration Started",
    "ingestion-time": 0,
    "detail": {"migrationId": "m-1", "lbs": ["arn:a", "arn:b"], "quote": 'say "hi"', "n": 3},
}
PATHS = {
    "what": "$.detail-type",
    "id": "$.detail.migrationId",
    "lbs": "$.detail.lbs",
    "quote": "$.detail.quote",
    "n": "$.detail.n",
    "missing": "$.detail.nothing",
}


def test_values_inside_a_string_template_are_escaped_into_it() -> None:
    template = '"<what>: migration <id>, load balancers <lbs>, said <quote>, <missing>."'
    rendered = render_input(template, PATHS, EVENT)
    assert json.loads(rendered) == (
        'Migration Started: migration m-1, load balancers ["arn:a", "arn:b"], said say "hi", .'
    )


def test_values_outside_strings_are_json_and_escaped_quotes_stay_in_the_string() -> None:
    template = '{"ids": <lbs>, "n": <n>, "text": "\\"<id>\\" of <n>", "none": <missing>}'
    rendered = json.loads(render_input(template, PATHS, EVENT))
    assert rendered == {"ids": ["arn:a", "arn:b"], "n": 3, "text": '"m-1" of 3', "none": None}


def test_text_in_angle_brackets_that_is_no_variable_is_kept() -> None:
    assert json.loads(render_input('"a <b> c"', PATHS, EVENT)) == "a <b> c"


def test_moto_events_render_a_list_inside_a_string_as_broken_json() -> None:
    with pytest.raises(json.JSONDecodeError):
        EventTemplateParser.parse('"load balancers <lbs>"', {"lbs": "$.detail.lbs"}, EVENT)


def test_moto_events_deliver_to_no_lambda_or_sns_target() -> None:
    source = inspect.getsource(Rule.send_to_targets)
    assert '"sqs"' in source
    assert '"lambda"' not in source and '"sns"' not in source


def test_moto_step_functions_emit_no_status_change_event() -> None:
    source = inspect.getsource(BaseExecutionWorkerCommunication)
    assert "put_events" not in source and "events_backends" not in source


# ---- replays go only to the rules StartReplay's FilterArns names ----------------------------


@dataclass
class Bus:
    """A bus with an archive and two rules matching the same events, each into its queue."""

    clients: ClientFactory
    arn: str
    archive: str
    rules: dict[str, str]
    queues: dict[str, str]

    @classmethod
    def with_an_archived_event(cls, clients: ClientFactory) -> Bus:
        events, sqs = clients.client("events"), clients.client("sqs")
        arn = events.create_event_bus(Name="bus")["EventBusArn"]
        archive = events.create_archive(ArchiveName="archive", EventSourceArn=arn)["ArchiveArn"]
        bus = cls(clients, arn, archive, {}, {})
        for name in ("rollback", "notify"):
            url = bus.queues[name] = sqs.create_queue(QueueName=name)["QueueUrl"]
            queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            bus.rules[name] = events.put_rule(
                Name=name, EventBusName="bus", EventPattern=json.dumps({"source": ["me"]})
            )["RuleArn"]
            events.put_targets(
                Rule=name,
                EventBusName="bus",
                Targets=[{"Id": name, "Arn": queue["Attributes"]["QueueArn"]}],
            )
        bus.put_event()
        for name in bus.queues:  # the live delivery: out of the way
            bus.received(name)
        return bus

    def put_event(self) -> None:
        self.clients.client("events").put_events(
            Entries=[{"Source": "me", "DetailType": "Thing", "Detail": "{}", "EventBusName": "bus"}]
        )

    def replay(self, name: str, **destination: Any) -> None:
        now = datetime.now(UTC)
        self.clients.client("events").start_replay(
            ReplayName=name,
            EventSourceArn=self.archive,
            EventStartTime=now - timedelta(hours=1),
            EventEndTime=now + timedelta(hours=1),
            Destination={"Arn": self.arn, **destination},
        )

    def received(self, rule: str) -> list[dict[str, Any]]:
        """The events the rule's queue holds, taken out of it."""
        sqs, url = self.clients.client("sqs"), self.queues[rule]
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in messages]


def test_a_replay_with_filter_arns_reaches_only_the_named_rules(aws: ClientFactory) -> None:
    # Given the event adapter, and a bus whose two rules both match an archived event
    delivery = EventDelivery().install()
    try:
        bus = Bus.with_an_archived_event(aws)

        # When the archive is replayed to the rollback rule only
        bus.replay("to-rollback", FilterArns=[bus.rules["rollback"]])

        # Then the rollback rule's target gets the replayed event, the other rule nothing
        [event] = bus.received("rollback")
        assert event["source"] == "me" and event["replay-name"] == "to-rollback"
        assert bus.received("notify") == []
        # and live events still reach every rule afterwards
        bus.put_event()
        assert [len(bus.received(rule)) for rule in bus.rules] == [1, 1]
    finally:
        delivery.uninstall()


def test_a_replay_without_filter_arns_reaches_every_rule(aws: ClientFactory) -> None:
    # Given the event adapter and the same bus
    delivery = EventDelivery().install()
    try:
        bus = Bus.with_an_archived_event(aws)

        # When the archive is replayed with no FilterArns
        bus.replay("to-all")

        # Then every matching rule gets the event again, as on EventBridge
        for rule in bus.rules:
            [event] = bus.received(rule)
            assert event["replay-name"] == "to-all"
    finally:
        delivery.uninstall()


def test_moto_replays_to_every_rule_whatever_the_filter_arns(aws: ClientFactory) -> None:
    # Given moto alone (no adapter), When a replay names one rule
    bus = Bus.with_an_archived_event(aws)
    bus.replay("to-rollback", FilterArns=[bus.rules["rollback"]])
    # Then the other rule gets it too: the gap the adapter closes (drop it once this fails)
    assert len(bus.received("notify")) == 1


# ---- disabled and schedule-only rules receive no events -----------------------------------


def rules_into_queues(aws: ClientFactory) -> dict[str, str]:
    """On the default bus: a pattern rule, a DISABLED one, and a schedule-only one, each into
    its own queue."""
    events, sqs = aws.client("events"), aws.client("sqs")
    rules = {
        "pattern": {"EventPattern": json.dumps({"source": ["me"]})},
        "disabled": {"EventPattern": json.dumps({"source": ["me"]}), "State": "DISABLED"},
        "schedule": {"ScheduleExpression": "rate(1 minute)"},
    }
    queues = {}
    for name, spec in rules.items():
        url = sqs.create_queue(QueueName=f"q-{name}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        events.put_rule(Name=name, **spec)
        events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
        queues[name] = url
    return queues


def delivered(aws: ClientFactory, queues: dict[str, str]) -> dict[str, int]:
    sqs = aws.client("sqs")
    return {
        name: len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
        for name, url in queues.items()
    }


def test_only_enabled_rules_with_a_pattern_receive_events(aws: ClientFactory) -> None:
    # Given the event adapter and the three rules
    delivery = EventDelivery().install()
    try:
        queues = rules_into_queues(aws)
        # When an event is put on the default bus
        aws.client("events").put_events(
            Entries=[{"Source": "me", "DetailType": "t", "Detail": "{}"}]
        )
        # Then only the enabled pattern rule gets it, as on EventBridge
        assert delivered(aws, queues) == {"pattern": 1, "disabled": 0, "schedule": 0}
    finally:
        delivery.uninstall()


def test_moto_delivers_to_disabled_and_schedule_only_rules(aws: ClientFactory) -> None:
    # Given moto alone, When an event is put / Then every rule gets it: the gap closed above
    queues = rules_into_queues(aws)
    aws.client("events").put_events(Entries=[{"Source": "me", "DetailType": "t", "Detail": "{}"}])
    assert delivered(aws, queues) == {"pattern": 1, "disabled": 1, "schedule": 1}
