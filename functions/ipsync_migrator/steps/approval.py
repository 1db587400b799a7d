"""Step `request_approval`: park the Step Functions task token until a person approves."""

from __future__ import annotations

from typing import Any

from ipsync_migrator.errors import StepPreconditionError
from ipsync_migrator.events import DetailType
from ipsync_migrator.journal import MigrationRecord
from ipsync_migrator.steps.context import APPROVAL_STEP, StepContext

__all__ = ["APPROVAL_STEP", "pending_approval", "request_approval"]


def request_approval(
    ctx: StepContext, migration_id: str, owner: str | None, gate: str, task_token: str
) -> dict[str, Any]:
    """Journal the token of the waiting execution; `ipsync-migrator approve` sends it back."""
    record = ctx.load(migration_id, owner)
    record.approval = {"gate": gate, "taskToken": task_token}
    ctx.complete(
        record,
        APPROVAL_STEP,
        after={"gate": gate},
        detail_type=DetailType.APPROVAL_REQUESTED,
    )
    return {"gate": gate, "waiting": True}


def pending_approval(record: MigrationRecord) -> dict[str, str]:
    if not record.approval:
        raise StepPreconditionError(
            f"Migration '{record.migration_id}' is not waiting for an approval.",
            "Check `ipsync-migrator status`; approvals are asked only when the migration was "
            "started with approval gates.",
        )
    return record.approval
