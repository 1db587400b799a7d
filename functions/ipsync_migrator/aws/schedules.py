"""Amazon EventBridge adapter for the legacy schedule rules."""

from __future__ import annotations

from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory


class Schedules:
    def __init__(self, clients: ClientFactory):
        self._events = clients.client("events")
        self._rules: dict[str, dict[str, Any]] = {}

    def rules_targeting(self, function_arn: str) -> list[dict[str, Any]]:
        """The rules on the default bus that invoke `function_arn`."""
        with aws_call("events:ListRuleNamesByTarget"):
            pages = self._events.get_paginator("list_rule_names_by_target").paginate(
                TargetArn=function_arn
            )
            names = [name for page in pages for name in page["RuleNames"]]
        return [self.rule(name) for name in names]

    def rule(self, name: str) -> dict[str, Any]:
        if name not in self._rules:
            with aws_call("events:DescribeRule"):
                self._rules[name] = self._events.describe_rule(Name=name)
        return self._rules[name]
