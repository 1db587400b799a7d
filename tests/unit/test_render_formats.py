"""`--output json|yaml|text` and `--query`: the AWS CLI's formats of the JSON form."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from ipsync_migrator.errors import InvalidInputError
from ipsync_migrator.render import make_console
from ipsync_migrator.render_formats import compiled_query, formatted, queried, query_table

REPORT = {
    "account": "123456789012",
    "region": "us-east-1",
    "deployments": [
        {
            "id": "shop-ip-tg-2d6da905",
            "verdict": "migratable",
            "findings": [{"code": "IAC_MANAGED", "severity": "warning"}],
        },
        {"id": "payments-ip-tg-b50d139d", "verdict": "blocked", "findings": []},
    ],
}


def test_text_is_the_aws_cli_s_tab_separated_lines() -> None:
    # Given a report: scalars, a list of objects, a nested list of objects
    # When it is formatted as text
    lines = formatted(REPORT, "text").splitlines()

    # Then scalars share a line in key order, and each listed object is a line led by its
    # key in capitals, its scalar values in the order of the keys all of them share
    assert lines == [
        "123456789012\tus-east-1",
        "DEPLOYMENTS\tshop-ip-tg-2d6da905\tmigratable",
        "FINDINGS\tIAC_MANAGED\twarning",
        "DEPLOYMENTS\tpayments-ip-tg-b50d139d\tblocked",
    ]


def test_text_of_lists_and_scalars_and_multi_line_values_stays_one_line_a_record() -> None:
    patch = "Resources:\n  NewGroup:\n\tType: x"

    assert formatted(["a", "b"], "text") == "a\tb\n"
    assert formatted({"ids": ["a", "b"]}, "text") == "IDS\ta\nIDS\tb\n"
    assert formatted(None, "text") == "None\n"
    assert formatted({"patch": patch, "ok": True}, "text") == (
        "True\tResources:\\n  NewGroup:\\n\\tType: x\n"
    )
    assert formatted("\x1b[31mred \ud800", "text") == "\\x1b[31mred \\ud800\n"


def test_yaml_and_json_read_back_as_the_same_document() -> None:
    hostile = {"reason": "[/] \x1b[31m \ud800 é", **REPORT}

    as_yaml = formatted(hostile, "yaml")

    assert "\x1b" not in as_yaml  # escaped, not sent to the terminal
    assert yaml.safe_load(as_yaml)["deployments"] == REPORT["deployments"]
    assert json.loads(formatted(REPORT, "json")) == REPORT


def test_a_query_selects_from_the_json_form_before_formatting() -> None:
    query = compiled_query("deployments[?verdict=='migratable'].id")

    selected = queried(REPORT, query)

    assert selected == ["shop-ip-tg-2d6da905"]
    assert formatted(selected, "text") == "shop-ip-tg-2d6da905\n"
    assert formatted(queried(REPORT, compiled_query("deployments[0].id")), "text") == (
        "shop-ip-tg-2d6da905\n"
    )


@pytest.mark.parametrize("expression", ["deployments[", "length(", "[?"])
def test_a_query_that_is_no_jmespath_is_refused_in_one_line(expression: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        compiled_query(expression)

    assert "is not a JMESPath expression" in refused.value.message
    assert "\n" not in refused.value.message and "jmespath.org" in refused.value.remediation


def test_a_query_result_as_a_table_keeps_every_value_whole() -> None:
    rows = queried(REPORT, compiled_query("deployments[].{Id: id, Verdict: verdict}"))
    buffer = io.StringIO()

    make_console(file=buffer, width=40).print(query_table(rows))

    for deployment in REPORT["deployments"]:
        assert any(deployment["id"] in line for line in buffer.getvalue().splitlines())
    assert "…" not in buffer.getvalue()
