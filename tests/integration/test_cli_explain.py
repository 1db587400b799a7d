"""`discover --explain ID`: the signals, the confidence and the findings of one deployment."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from ipsync_migrator.cli import app
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.discovery import discover
from ipsync_migrator.local.demo_estate import DemoEstate

runner = CliRunner()


def test_explain_shows_why_a_deployment_is_reported(aws: ClientFactory, demo: DemoEstate) -> None:
    shop = next(d for d in discover(aws).deployments if d.target_group_arn == demo.shop_tg)

    result = runner.invoke(app, ["discover", "--explain", shop.id], env={"COLUMNS": "100"})

    assert result.exit_code == 0, result.output
    assert f"Deployment {shop.id}  verdict: migratable  confidence: likely" in result.stdout
    assert "env ALB_DNS_NAME resolves to ALB shop-alb by dns name" in result.stdout
    assert "official handler populate_NLB_TG_with_ALB.lambda_handler" in result.stdout
    assert "HEALTH_CHECK_TRANSLATED" in result.stdout
    # Without a deployed stack the journal is not read: said once, on stderr
    assert "recognised by their tags only" in result.stderr


def test_explain_json_is_the_deployment_with_its_signals(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    result = runner.invoke(app, ["discover", "--explain", "shop-alb-ip-sync", "-o", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["function"]["name"] == "shop-alb-ip-sync"
    assert body["confidence"] == "likely" and body["migration"] is None
    assert any("names target group" in s for s in body["signals"])


def test_explain_of_an_unknown_deployment_is_a_clear_error(
    aws: ClientFactory, demo: DemoEstate
) -> None:
    result = runner.invoke(app, ["discover", "--explain", "no-such-thing"])
    assert result.exit_code == 3
    assert "No legacy IP-sync deployment matches 'no-such-thing'" in result.output
    assert "fix:" in result.output
