"""Generated hostile arguments for every command that takes an id, a reference or a time.

Each argument holds at least one character no id, name, ARN or time has (markup, quotes,
shell and control characters, newlines, non-ASCII), so each must be refused as input: exit 2,
an `error:` and a `fix:` line, no traceback, and nothing reached AWS (the endpoint is one
nothing answers on: reaching it would say "Cannot reach").
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from ipsync_migrator.cli import app

runner = CliRunner()
NOWHERE = ["--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"]
#: Characters of ids, names, ARNs and ISO times: a generated value needs one outside them.
TAME = re.compile(r"[A-Za-z0-9_.:/+-]*")
#: Lone surrogates included: Python hands undecodable argv bytes over as those.
HOSTILE = st.text(min_size=0, max_size=60).filter(
    lambda s: not TAME.fullmatch(s) and not s.startswith("-")
)
COMMANDS = [
    ["plan", "{}"],
    ["migrate", "{}", "--yes"],
    ["status", "{}"],
    ["status", "{}", "--watch"],
    ["finalize", "{}"],
    ["approve", "{}"],
    ["replay-rollback", "--since", "{}"],
    ["--region", "{}", "discover"],
]
PROFILE = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)


def refused(args: list[str]) -> None:
    result = runner.invoke(app, args)
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, (args, result.output)
    assert "Traceback" not in result.output, (args, result.output)
    assert "Cannot reach" not in result.stderr, (args, result.stderr)
    assert any(line.startswith("error: ") for line in lines), (args, result.stderr)
    assert any(line.startswith("fix: ") for line in lines), (args, result.stderr)


@settings(PROFILE)
@given(value=HOSTILE, command=st.sampled_from(COMMANDS))
def test_every_command_refuses_hostile_arguments_before_anything_starts(
    value: str, command: list[str]
) -> None:
    args = [value if part == "{}" else part for part in command]
    refused(args if command[0] == "--region" else [*NOWHERE, *args])
