"""Lambda entry point of the `cutover` task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.handlers.requests import StepRequest
from ipsync_migrator.handlers.runtime import migration_context
from ipsync_migrator.observability import parse, step_handler
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.cutover import cutover


@step_handler(Step.CUTOVER)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(StepRequest, event)
    return cutover(migration_context(request.migration_id), request.migration_id, request.owner)
