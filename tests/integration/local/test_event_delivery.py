"""The event adapter's own logic: input templates rendered as EventBridge does, and pins of
the moto gaps it closes (they fail when a moto upgrade closes a gap, so the patch can go)."""

from __future__ import annotations

import inspect
import json

import pytest
from moto.events.models import Rule
from moto.events.utils import EventTemplateParser
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from ipsync_migrator.local.event_delivery import render_input

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
