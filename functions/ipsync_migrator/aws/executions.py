"""AWS Step Functions adapter for the steps: stopping the execution a takeover fences."""

from __future__ import annotations

import re

from ipsync_migrator.aws.errors import aws_call
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import NotFoundError

EXECUTION_ARN = re.compile(r"^arn:aws[\w-]*:states:[\w-]+:\d{12}:execution:[^:]+:[^:]+$")
#: Step Functions' limit on the cause of StopExecution.
_CAUSE_LIMIT = 32768


def is_execution_arn(owner: str) -> bool:
    return bool(EXECUTION_ARN.match(owner))


def execution_status(clients: ClientFactory, execution_arn: str) -> str | None:
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED...; None when it does not exist."""
    try:
        with aws_call("states:DescribeExecution"):
            return str(
                clients.client("stepfunctions").describe_execution(executionArn=execution_arn)[
                    "status"
                ]
            )
    except NotFoundError:
        return None


def stop_execution(clients: ClientFactory, execution_arn: str, cause: str) -> bool:
    """Stop a running execution; False when it had already ended or does not exist.

    StopExecution does not stop a Lambda invocation already running (DOMAIN.md section 6):
    the journal's fencing, not this call, keeps such a step from acting afterwards.
    """
    sfn = clients.client("stepfunctions")
    try:
        with aws_call("states:DescribeExecution"):
            status = sfn.describe_execution(executionArn=execution_arn)["status"]
        if status != "RUNNING":
            return False
        with aws_call("states:StopExecution"):
            sfn.stop_execution(
                executionArn=execution_arn,
                error="MigrationSuperseded",
                cause=cause[:_CAUSE_LIMIT],
            )
    except NotFoundError:
        return False
    return True
