"""Lambda entry point of the `request_approval` task (`.waitForTaskToken`) and its timeout."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from ipsync_migrator.handlers.requests import ApprovalRequest
from ipsync_migrator.handlers.runtime import migration_context
from ipsync_migrator.observability import parse, step_handler
from ipsync_migrator.steps.approval import APPROVAL_STEP, approval_timed_out, request_approval


@step_handler(APPROVAL_STEP)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse(ApprovalRequest, event)
    ctx = migration_context(request.migration_id)
    mid, owner, gate = request.migration_id, request.owner, request.gate
    if request.timed_out_after_seconds is not None:  # the gate's wait ended unapproved
        return approval_timed_out(ctx, mid, owner, gate, request.timed_out_after_seconds)
    assert request.task_token is not None  # ApprovalRequest: a token or a timeout
    return request_approval(ctx, mid, owner, gate, request.task_token)
