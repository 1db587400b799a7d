"""Lambda entry point of the `finalize` task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.handlers.requests import FinalizeRequest
from ipsync_migrator.handlers.runtime import migration_context
from ipsync_migrator.observability import parse, step_handler
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.retire import finalize


@step_handler(Step.FINALIZE)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(FinalizeRequest, event)
    return finalize(
        migration_context(request.migration_id),
        request.migration_id,
        request.delete_target_group,
        request.delete_state,
        request.owner,
    )
