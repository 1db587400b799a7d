"""Lambda entry point of the `verify_bake` task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.handlers.requests import StepRequest
from ipsync_migrator.handlers.runtime import migration_context
from ipsync_migrator.observability import parse, step_handler
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.health import verify_bake


@step_handler(Step.VERIFY_BAKE)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(StepRequest, event)
    return verify_bake(migration_context(request.migration_id), request.migration_id, request.owner)
