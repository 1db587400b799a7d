"""Amazon CloudWatch adapter: the alarms a bake watches."""

from __future__ import annotations

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory


def alarms_in_alarm(clients: ClientFactory, names: list[str]) -> list[str]:
    """Which of `names` are in ALARM now (unknown names count as missing, not alarming)."""
    if not names:
        return []
    with aws_call("cloudwatch:DescribeAlarms"):
        alarms = clients.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    return [a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM"]
