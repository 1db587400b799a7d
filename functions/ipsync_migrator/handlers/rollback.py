"""Lambda entry point of the `rollback` task."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.handlers.requests import RollbackRequest
from ipsync_migrator.handlers.runtime import migration_context
from ipsync_migrator.observability import parse, step_handler
from ipsync_migrator.planning import Step
from ipsync_migrator.steps.rollback import rollback


@step_handler(Step.ROLLBACK)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(RollbackRequest, event)
    return rollback(
        migration_context(request.migration_id),
        request.migration_id,
        request.reason,
        request.owner,
        request.force,
    )
