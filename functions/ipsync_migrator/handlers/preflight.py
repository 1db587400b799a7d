"""Lambda entry point of the `preflight` task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.handlers.requests import PreflightRequest
from ipsync_migrator.handlers.runtime import step_context
from ipsync_migrator.observability import parse, step_handler
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.preflight import preflight


@step_handler(Step.PREFLIGHT)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(PreflightRequest, event)
    return preflight(
        step_context(request.target),
        request.target_group_arn,
        request.owner,
        request.options,
        request.target,
    )
