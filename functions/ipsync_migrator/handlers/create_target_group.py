"""Lambda entry point of the `create_target_group` task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.handlers.requests import StepRequest
from ipsync_migrator.handlers.runtime import migration_context
from ipsync_migrator.observability import parse, step_handler
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.create_target_group import create_target_group


@step_handler(Step.CREATE_TARGET_GROUP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(StepRequest, event)
    return create_target_group(
        migration_context(request.migration_id), request.migration_id, request.owner
    )
