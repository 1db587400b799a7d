"""Amazon EventBridge adapter for the legacy schedule rules."""

from __future__ import annotations

from typing import Any

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import NotFoundError


class Schedules:
    def __init__(self, clients: ClientFactory):
        self._events = clients.client("events")
        self._rules: dict[str, dict[str, Any]] = {}

    def schedule_rules(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Every schedule rule of the default bus with its targets (one list, then one call
        per schedule rule): parameters may be in a target's Input, so discovery needs them."""
        with aws_call("events:ListRules"):
            pages = self._events.get_paginator("list_rules").paginate(
                PaginationConfig={"PageSize": 100}
            )
            rules = [r for page in pages for r in page["Rules"] if r.get("ScheduleExpression")]
        for rule in rules:
            self._rules.setdefault(rule["Name"], rule)
        return [(rule, self.targets(rule["Name"])) for rule in rules]

    def rule(self, name: str) -> dict[str, Any]:
        if name not in self._rules:
            with aws_call("events:DescribeRule"):
                self._rules[name] = self._events.describe_rule(Name=name)
        return self._rules[name]

    def targets(self, rule: str) -> list[dict[str, Any]]:
        with aws_call("events:ListTargetsByRule"):
            pages = self._events.get_paginator("list_targets_by_rule").paginate(Rule=rule)
            return [t for page in pages for t in page["Targets"]]

    def set_enabled(self, rule: str, enabled: bool) -> None:
        self._rules.pop(rule, None)
        if enabled:
            with aws_call("events:EnableRule"):
                self._events.enable_rule(Name=rule)
        else:
            with aws_call("events:DisableRule"):
                self._events.disable_rule(Name=rule)

    def remove_targets(self, rule: str, target_ids: list[str]) -> None:
        if target_ids:
            with aws_call("events:RemoveTargets"):
                self._events.remove_targets(Rule=rule, Ids=target_ids)

    def put_targets(self, rule: str, targets: list[dict[str, Any]]) -> None:
        """(Re)create targets as ListTargetsByRule returned them: the same Id overwrites."""
        if targets:
            with aws_call("events:PutTargets"):
                self._events.put_targets(Rule=rule, Targets=targets)

    def delete_rule(self, rule: str) -> None:
        self._rules.pop(rule, None)
        try:
            with aws_call("events:DeleteRule"):
                self._events.delete_rule(Name=rule)
        except NotFoundError:
            return

    def current(self, name: str) -> dict[str, Any] | None:
        """The rule as it is now (uncached), or None when it is gone."""
        self._rules.pop(name, None)
        try:
            return self.rule(name)
        except NotFoundError:
            return None
