"""Amazon CloudWatch adapter: how the legacy functions have been doing (Errors, Throttles)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory

#: Lambda's own metrics read for each legacy function.
FUNCTION_METRICS = ("Errors", "Throttles")
#: GetMetricData takes at most 500 queries per call.
QUERIES_PER_CALL = 500
WINDOW = timedelta(hours=24)


def function_metrics(
    clients: ClientFactory, function_names: Iterable[str], now: datetime | None = None
) -> dict[str, dict[str, int]]:
    """Sum of each function's Errors and Throttles over the last 24 h (batched: one call per
    250 functions). A function without datapoints has zeros."""
    names = sorted(set(function_names))
    if not names:
        return {}
    end = now or datetime.now(UTC)
    queries = [
        {
            "Id": f"m{index}_{metric_index}",
            "MetricStat": {
                "Metric": {
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": name}],
                },
                "Period": int(WINDOW.total_seconds()),
                "Stat": "Sum",
            },
            "ReturnData": True,
        }
        for index, name in enumerate(names)
        for metric_index, metric in enumerate(FUNCTION_METRICS)
    ]
    sums: dict[str, float] = {}
    client = clients.client("cloudwatch")
    for start in range(0, len(queries), QUERIES_PER_CALL):
        batch = queries[start : start + QUERIES_PER_CALL]
        token: str | None = None
        while True:
            extra = {"NextToken": token} if token else {}
            with aws_call("cloudwatch:GetMetricData"):
                response = client.get_metric_data(
                    MetricDataQueries=batch, StartTime=end - WINDOW, EndTime=end, **extra
                )
            for result in response["MetricDataResults"]:
                sums[result["Id"]] = sums.get(result["Id"], 0.0) + sum(result.get("Values", []))
            token = response.get("NextToken")
            if not token:
                break
    return {
        name: {
            metric: int(sums.get(f"m{index}_{metric_index}", 0.0))
            for metric_index, metric in enumerate(FUNCTION_METRICS)
        }
        for index, name in enumerate(names)
    }
