"""Lambda entry point of the `request_approval` task (`.waitForTaskToken`)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.handlers.requests import ApprovalRequest
from ipsync_migrator.handlers.runtime import migration_context
from ipsync_migrator.observability import parse, step_handler
from ipsync_migrator.steps.approval import APPROVAL_STEP, request_approval


@step_handler(APPROVAL_STEP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(ApprovalRequest, event)
    return request_approval(
        migration_context(request.migration_id),
        request.migration_id,
        request.owner,
        request.gate,
        request.task_token,
    )
