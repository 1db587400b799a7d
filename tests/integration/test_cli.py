"""The CLI contract: JSON shapes, plan lookup, and clear errors: 2 for usage, 3 for AWS or setup."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ipsync_migrator.cli import app
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.local.demo_estate import DemoEstate

runner = CliRunner()


def test_discover_json_contract(aws: ClientFactory, demo: DemoEstate) -> None:
    result = runner.invoke(app, ["--region", "us-east-1", "discover", "--output", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert set(body) == {"account", "region", "deployments"}
    deployment = next(d for d in body["deployments"] if d["targetGroupArn"] == demo.shop_tg)
    assert set(deployment) == {
        "id",
        "function",
        "schedules",
        "targetGroupArn",
        "networkLoadBalancers",
        "applicationLoadBalancerArn",
        "albPort",
        "verdict",
        "confidence",
        "signals",
        "migration",
        "findings",
    }
    assert set(deployment["function"]) == {"arn", "name", "variant"}
    assert set(deployment["schedules"][0]) == {"rule", "expression", "enabled"}
    assert set(deployment["networkLoadBalancers"][0]["listeners"][0]) == {"arn", "port", "protocol"}
    assert set(deployment["findings"][0]) == {"code", "severity", "message", "remediation"}


BOX = tuple("┏┃┡│└")


def test_discover_table_fits_100_columns_with_every_id_whole(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    result = runner.invoke(app, ["discover", "-o", "json"])
    ids = [d["id"] for d in json.loads(result.stdout)["deployments"]]

    table = runner.invoke(app, ["discover"], env={"COLUMNS": "100"})

    assert table.exit_code == 0, table.output
    rows = [line for line in table.stdout.splitlines() if line.startswith(BOX)]
    assert rows and max(len(line) for line in rows) <= 100
    # each id whole on its row; prose lines (findings) are one line each, for the terminal
    # to fold, so a copied line is whole
    for deployment_id in ids:
        assert any(f"│ {deployment_id} " in line for line in rows), deployment_id


def test_plan_by_function_name_and_by_target_group_agree(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    by_name = runner.invoke(app, ["plan", "shop-alb-ip-sync", "-o", "json"])
    by_arn = runner.invoke(app, ["plan", demo.shop_tg, "-o", "json"])
    assert by_name.exit_code == 0, by_name.output
    assert json.loads(by_name.stdout) == json.loads(by_arn.stdout)
    plan = json.loads(by_name.stdout)
    assert plan["verdict"] == "migratable"
    assert [c["step"] for c in plan["changes"]][:2] == ["create_target_group"] * 2


def test_plan_of_blocked_deployment_lists_blockers(aws: ClientFactory, demo: DemoEstate) -> None:
    result = runner.invoke(app, ["plan", "payments-ip-sync", "-o", "json"])
    plan = json.loads(result.stdout)
    assert plan["changes"] == []
    assert plan["blockers"][0]["code"] == "LISTENER_PROTOCOL_UNSUPPORTED"


def test_plan_of_unknown_reference_is_a_clear_error(aws: ClientFactory, demo: DemoEstate) -> None:
    result = runner.invoke(app, ["plan", "no-such-thing"])
    assert result.exit_code == 3
    assert "No legacy IP-sync deployment matches 'no-such-thing'" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_region_is_a_clear_error() -> None:
    result = runner.invoke(app, ["--region", "mars-north-1", "discover"])
    assert result.exit_code == 3
    assert "Unknown AWS region 'mars-north-1'" in result.stderr


NO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""}
#: Not loopback (TEST-NET-1): nothing is sent, the request fails at signing.
REMOTE_ENDPOINT = "http://192.0.2.1:9"


def test_missing_credentials_is_a_clear_error() -> None:
    result = runner.invoke(app, ["--endpoint-url", REMOTE_ENDPOINT, "discover"], env=NO_CREDENTIALS)
    assert result.exit_code == 3, result.output
    assert "No AWS credentials were found" in result.stderr


def test_missing_credentials_is_not_reported_as_a_missing_stack() -> None:
    result = runner.invoke(app, ["--endpoint-url", REMOTE_ENDPOINT, "status"], env=NO_CREDENTIALS)
    assert result.exit_code == 3, result.output
    assert "No AWS credentials were found" in result.stderr
    assert "stack" not in result.stderr


def test_unknown_profile_is_a_clear_error() -> None:
    result = runner.invoke(app, ["--profile", "nope", "discover"])
    assert result.exit_code == 3
    assert "profile 'nope'" in result.stderr


def test_unreachable_endpoint_is_a_clear_error() -> None:
    result = runner.invoke(app, ["--endpoint-url", "http://127.0.0.1:9", "discover"])
    assert result.exit_code == 3, result.output
    assert "Cannot reach the AWS endpoint" in result.stderr


def test_migrate_refuses_timings_that_could_outgrow_the_history_before_anything_starts() -> None:
    # Given an endpoint nothing answers on: any AWS call would be a different error
    unreachable = ["--endpoint-url", "http://127.0.0.1:9"]
    timings = ["--poll-seconds", "1", "--bake-seconds", "86400"]

    # When migrate is asked to start with a day's bake polled every second
    result = runner.invoke(app, [*unreachable, "migrate", "--all", "--yes", *timings])

    # Then it refuses before reaching AWS, naming the limit and a fix
    assert result.exit_code == 2, result.output
    assert "25,000" in result.stderr and "Cannot reach" not in result.stderr
    assert "fix:" in result.stderr and "--poll-seconds" in result.stderr


def test_migrate_refuses_a_zero_poll_and_an_approval_timeout_over_a_week() -> None:
    for option, value in (("--poll-seconds", "0"), ("--approval-timeout-seconds", "604801")):
        result = runner.invoke(app, ["migrate", "--all", option, value])
        assert result.exit_code == 2, (option, result.output)
        assert option in result.output, result.output


def test_output_yaml_and_text_are_the_json_form_and_aws_default_output_chooses(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    import yaml

    as_json = json.loads(runner.invoke(app, ["discover", "-o", "json"]).stdout)

    as_yaml = runner.invoke(app, ["discover", "--output", "yaml"])
    by_env = runner.invoke(app, ["discover"], env={"AWS_DEFAULT_OUTPUT": "yaml"})
    as_text = runner.invoke(app, ["discover", "-o", "text"], env={"AWS_DEFAULT_OUTPUT": "json"})

    assert as_yaml.exit_code == 0 and by_env.exit_code == 0, as_yaml.output + by_env.output
    assert yaml.safe_load(as_yaml.stdout) == as_json == yaml.safe_load(by_env.stdout)
    # --output wins over the variable; text is a line per record, led by its key
    lines = as_text.stdout.splitlines()
    for deployment in as_json["deployments"]:
        assert any(
            line.startswith("DEPLOYMENTS\t") and f"\t{deployment['id']}\t" in line for line in lines
        ), deployment["id"]


def test_query_applies_to_the_json_form_before_formatting(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    query = ["--query", "deployments[?verdict=='migratable'].id"]
    ids = [
        d["id"]
        for d in json.loads(runner.invoke(app, ["discover", "-o", "json"]).stdout)["deployments"]
        if d["verdict"] == "migratable"
    ]

    as_json = runner.invoke(app, ["discover", "-o", "json", *query])
    as_text = runner.invoke(app, ["discover", "-o", "text", *query])
    as_table = runner.invoke(app, ["discover", *query])
    one = runner.invoke(app, ["plan", demo.shop_tg, "-o", "text", "--query", "verdict"])

    assert json.loads(as_json.stdout) == ids
    assert as_text.stdout == "\t".join(ids) + "\n"
    assert all(deployment_id in as_table.stdout for deployment_id in ids)
    assert one.stdout == "migratable\n"


def test_a_bad_query_or_output_is_a_usage_error_before_anything_is_read() -> None:
    nowhere = ["--endpoint-url", "http://127.0.0.1:9"]

    query = runner.invoke(app, [*nowhere, "discover", "--query", "deployments["])
    output = runner.invoke(app, [*nowhere, "status", "-o", "xml"])
    env = runner.invoke(app, [*nowhere, "status"], env={"AWS_DEFAULT_OUTPUT": "xml"})

    for result in (query, output, env):
        assert result.exit_code == 2, result.output
        assert "Cannot reach" not in result.stderr and "Traceback" not in result.output
    assert "error: --query 'deployments[' is not a JMESPath expression" in query.stderr
    assert "error: AWS_DEFAULT_OUTPUT is 'xml'" in env.stderr


def test_usage_errors_are_one_error_and_one_fix_line_naming_the_command_s_help() -> None:
    unknown = runner.invoke(app, ["plan", "x", "--nope"])
    missing = runner.invoke(app, ["status", "--timeout"])
    command = runner.invoke(app, ["nope"])

    for result in (unknown, missing, command):
        assert result.exit_code == 2, result.output
        lines = result.stderr.splitlines()
        assert [line for line in lines if line.startswith("error: ")], result.stderr
        assert "╭" not in result.stderr and "Traceback" not in result.output
    assert "error: No such option: --nope" in unknown.stderr
    assert "fix: Run `ipsync-migrator plan --help` for its options." in unknown.stderr
    assert "fix: Run `ipsync-migrator status --help` for its options." in missing.stderr
    assert "fix: Run `ipsync-migrator --help` for its options." in command.stderr


def test_plan_detailed_exitcode_is_terraform_s(aws: ClientFactory, demo: DemoEstate) -> None:
    detailed = ["--detailed-exitcode", "-o", "json"]

    changes = runner.invoke(app, ["plan", demo.shop_tg, *detailed])
    blocked = runner.invoke(app, ["plan", "payments-ip-sync", *detailed])
    unknown = runner.invoke(app, ["plan", "no-such-thing", *detailed])
    usage = runner.invoke(app, ["plan", demo.shop_tg, "--detailed-exitcode", "--nope"])
    plain_plan = runner.invoke(app, ["plan", "payments-ip-sync"])

    # 2 means changes planned; so every failure is 1 (a usage error too), as terraform's
    assert changes.exit_code == 2, changes.output
    assert json.loads(changes.stdout)["changes"]
    assert blocked.exit_code == 1 and json.loads(blocked.stdout)["blockers"]
    assert unknown.exit_code == 1 and "error: No legacy IP-sync deployment" in unknown.stderr
    assert usage.exit_code == 1 and "error: No such option" in usage.stderr
    assert plain_plan.exit_code == 0


def test_version_help_and_debug_work_before_or_after_the_command() -> None:
    for args in (["--version"], ["status", "--version"]):
        result = runner.invoke(app, args)
        assert (result.exit_code, result.stdout) == (0, "ipsync-migrator 0.1.0\n"), args
    for args in (["-h"], ["status", "-h"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0 and "Usage: ipsync-migrator" in result.stdout, args
    debug = runner.invoke(app, ["--endpoint-url", REMOTE_ENDPOINT, "discover", "--debug"])
    assert debug.exit_code == 3 and "Traceback" in debug.stderr  # the error in full


def test_the_readme_s_exit_code_table_is_the_cli_s() -> None:
    import re
    from pathlib import Path

    from ipsync_migrator.cli import ExitCode

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("Exit codes, one scheme for every command", 1)[1].split("\n\n")[1]

    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}

    assert documented == {int(code) for code in ExitCode}
