"""Hostile and mistyped input: one `error:` line, one `fix:` line, exit 2, nothing started.

Every command here points at an endpoint nothing answers on: had any of them reached AWS,
the error would be "Cannot reach the AWS endpoint", not the one about the input.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ipsync_migrator.cli import app
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.demo_estate import DemoEstate

runner = CliRunner()
NOWHERE = ["--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9"]


def assert_clear_error(output: str, stderr: str, *expected: str) -> None:
    lines = stderr.splitlines()
    assert "Traceback" not in output
    assert "Cannot reach" not in stderr, stderr
    assert [line for line in lines if line.startswith("error: ")], stderr
    assert [line for line in lines if line.startswith("fix: ")], stderr
    for text in expected:
        assert text in stderr, (text, stderr)


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "[/]"],
        ["plan", "$(touch /tmp/pwned)"],
        ["plan", "x" * 100_000],
        ["migrate", "[bold]x", "--yes"],
        ["status", "[/]"],
        ["status", "../../etc/passwd"],
        ["finalize", "a b"],
        ["approve", "\x1b[31mred"],
        ["replay-rollback", "--since", "1000000d"],
        ["replay-rollback", "--since", "99999999999d"],
    ],
)
def test_hostile_arguments_are_refused_before_anything_is_read(args: list[str]) -> None:
    result = runner.invoke(app, [*NOWHERE, *args])

    assert result.exit_code == 2, result.output
    assert_clear_error(result.output, result.stderr)
    assert "\x1b[31m" not in result.stderr


@pytest.mark.parametrize("endpoint", ["file:///etc/passwd", "::::", "http://"])
def test_an_endpoint_that_is_no_url_is_named(endpoint: str) -> None:
    result = runner.invoke(app, ["--region", "us-east-1", "--endpoint-url", endpoint, "discover"])

    assert result.exit_code == 2, result.output
    assert_clear_error(result.output, result.stderr, "not an endpoint URL", "--endpoint-url")


@pytest.mark.parametrize("endpoint", [[], ["--endpoint-url", "http://192.0.2.1:9"]])
def test_a_region_with_shell_characters_is_refused(endpoint: list[str]) -> None:
    result = runner.invoke(app, ["--region", "us-east-1;ls", *endpoint, "discover"])

    assert result.exit_code == 2, result.output
    assert_clear_error(result.output, result.stderr, "us-east-1;ls", "--region")


def test_an_unknown_region_against_the_local_emulator_is_named() -> None:
    # moto answers a region it does not know with an HTML error page
    result = runner.invoke(
        app, ["--region", "mars-1", "--endpoint-url", "http://127.0.0.1:9", "discover"]
    )

    assert result.exit_code == 3, result.output
    assert_clear_error(result.output, result.stderr, "Unknown AWS region 'mars-1'")


def test_a_fleet_file_nested_deeper_than_a_fleet_needs_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "fleet.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)

    result = runner.invoke(app, [*NOWHERE, "migrate", "--fleet", str(deep), "--yes"])

    assert result.exit_code == 2, result.output
    assert_clear_error(result.output, result.stderr, "nested too deeply")


def test_local_refuses_a_port_out_of_range() -> None:
    result = runner.invoke(app, ["local", "--port", "99999"])

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "--port" in result.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "is not JSON"),
        (
            json.dumps(
                {"faults": [{"service": "elbv2", "operation": "X", "errorCode": "A", "times": 0}]}
            ),
            "times must be a positive number",
        ),
        (json.dumps({"faults": [{"service": "elbv2"}]}), "has a bad rule"),
        (json.dumps({"faults": ["x"]}), "has a bad rule"),
    ],
)
def test_local_checks_its_faults_file_before_it_deploys(
    tmp_path: Path, content: str, expected: str
) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(content)

    result = runner.invoke(app, ["local", "--port", "0", "--faults", str(faults)])

    assert result.exit_code == 2, result.output
    assert_clear_error(result.output, result.stderr, expected)
    assert "endpoint:" not in result.stdout  # nothing was served


def test_an_arn_of_another_region_or_account_says_so(aws: ClientFactory, demo: DemoEstate) -> None:
    other_region = demo.shop_tg.replace(":us-east-1:", ":eu-west-1:")
    other_account = demo.shop_tg.replace(":123456789012:", ":210987654321:")

    region = runner.invoke(app, ["--region", "us-east-1", "plan", other_region])
    account = runner.invoke(app, ["--region", "us-east-1", "plan", other_account])

    assert region.exit_code == 3 and account.exit_code == 3
    assert "is in region eu-west-1, and this command reads us-east-1" in region.stderr
    assert "fix: Pass --region eu-west-1" in region.stderr
    assert "is in account 210987654321" in account.stderr and "--role-arn" in account.stderr


def test_the_cloudformation_patch_is_whole_valid_yaml_at_60_columns(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    from samtranslator.yaml_helper import yaml_parse  # CloudFormation's tags: !Ref, !GetAtt

    # Given the api deployment, owned by a CloudFormation stack
    found = json.loads(runner.invoke(app, ["plan", demo.api_tg, "-o", "json"]).stdout)
    patch = found["templatePatches"]["cloudformation"]

    # When its plan prints on a 60-column screen, piped
    result = runner.invoke(app, ["plan", demo.api_tg], env={"COLUMNS": "60"})

    # Then the patch is in the output line for line, and parses as a template's resources
    assert result.exit_code == 0, result.output
    assert patch in result.stdout
    assert "arn:aws:" in patch and isinstance(yaml_parse(patch), dict)


def test_global_options_work_after_the_command_too() -> None:
    # the region given after the command is the one used (and refused, being no region)
    result = runner.invoke(
        app, ["status", "--region", "mars-1", "--endpoint-url", "http://127.0.0.1:9"]
    )

    assert result.exit_code == 3, result.output
    assert_clear_error(result.output, result.stderr, "Unknown AWS region 'mars-1'")


def test_global_options_are_moved_before_the_command_and_nothing_else() -> None:
    from ipsync_migrator.cli import hoist_global_options

    commands = {"plan", "status"}
    assert hoist_global_options(["plan", "x", "--region", "eu-west-1", "-o", "json"], commands) == [
        "--region",
        "eu-west-1",
        "plan",
        "x",
        "-o",
        "json",
    ]
    assert hoist_global_options(
        ["--profile", "p", "status", "--endpoint-url=http://h", "--debug"], commands
    ) == [
        "--profile",
        "p",
        "--endpoint-url=http://h",
        "--debug",
        "status",
    ]
    assert hoist_global_options(["plan", "--", "--region"], commands) == ["plan", "--", "--region"]


def test_plan_out_and_patch_dir_write_files_migrate_reads_back(
    aws: ClientFactory, demo: DemoEstate, tmp_path: Path
) -> None:
    from samtranslator.yaml_helper import yaml_parse

    saved, patches = tmp_path / "plan.json", tmp_path / "patches"

    result = runner.invoke(
        app, ["plan", demo.api_tg, "--out", str(saved), "--patch-dir", str(patches)]
    )

    assert result.exit_code == 0, result.output
    body = json.loads(saved.read_text())
    assert body["format"] == "ipsync-migrator-plan/1"
    assert body["plan"]["targetGroupArn"] == demo.api_tg
    assert isinstance(yaml_parse((patches / "cloudformation.yaml").read_text()), dict)
    assert 'resource "aws_lb_target_group"' in (patches / "terraform.tf").read_text()


@pytest.mark.parametrize(
    ("content", "expected"),
    [("{", "is not JSON"), ('{"plan": {}}', "is not a plan file"), ("[]", "is not a plan file")],
)
def test_migrate_refuses_a_file_that_is_no_plan(
    tmp_path: Path, content: str, expected: str
) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text(content)

    result = runner.invoke(app, [*NOWHERE, "migrate", "--plan", str(saved), "--yes"])

    assert result.exit_code == 2, result.output
    assert_clear_error(result.output, result.stderr, expected)


def test_plan_differences_name_what_changed() -> None:
    from ipsync_migrator.cli import plan_differences

    planned = {
        "verdict": "migratable",
        "newTargetGroup": {"healthCheck": {"path": "/", "port": "traffic-port"}},
        "changes": [{"step": "create_target_group"}],
    }
    now = {
        "verdict": "blocked",
        "newTargetGroup": {"healthCheck": {"path": "/healthz", "port": "traffic-port"}},
        "changes": [],
    }

    assert plan_differences(planned, planned) == []
    assert plan_differences(planned, now) == [
        'changes: planned [{"step":"create_target_group"}], now []',
        'newTargetGroup.healthCheck.path: planned "/", now "/healthz"',
        'verdict: planned "migratable", now "blocked"',
    ]
