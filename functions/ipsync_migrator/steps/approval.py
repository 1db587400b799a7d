"""Step `request_approval`: park the Step Functions task token until a person approves.

When the gate's wait times out instead, the same function journals `approval_timed_out`.
"""

from __future__ import annotations

from typing import Any

from ipsync_migrator.errors import StepPreconditionError
from ipsync_migrator.events import DetailType
from ipsync_migrator.journal import MigrationRecord, MigrationState
from ipsync_migrator.steps.context import APPROVAL_STEP, StepContext

__all__ = [
    "APPROVAL_STEP",
    "APPROVAL_TIMED_OUT_STEP",
    "approval_timed_out",
    "pending_approval",
    "request_approval",
]

#: The step that journals a gate's wait ending without an approval.
APPROVAL_TIMED_OUT_STEP = "approval_timed_out"


#: The state a gate's migration is in while its execution waits there.
GATE_STATES = {"cutover": {MigrationState.IN_PROGRESS}, "finalize": {MigrationState.RETIRED}}


def request_approval(
    ctx: StepContext, migration_id: str, owner: str | None, gate: str, task_token: str
) -> dict[str, Any]:
    """Journal the token of the waiting execution; `ipsync-migrator approve` sends it back."""
    record = ctx.hold(migration_id, owner, GATE_STATES[gate])
    record.approval = {"gate": gate, "taskToken": task_token}
    ctx.complete(
        record,
        APPROVAL_STEP,
        after={"gate": gate},
        detail_type=DetailType.APPROVAL_REQUESTED,
    )
    return {"gate": gate, "waiting": True}


def approval_timed_out(
    ctx: StepContext, migration_id: str, owner: str | None, gate: str, seconds: int
) -> dict[str, Any]:
    """Journal that the gate waited `seconds` unapproved: its token is dropped, the state kept.

    Before finalize that is where the migration stays (retired, rollback still possible);
    the cutover gate's timeout goes on to Rollback, which records its own state.
    """
    record = ctx.hold(migration_id, owner, GATE_STATES[gate])
    note = (
        f"{gate} approval timed out after {seconds} s without `ipsync-migrator approve`; the "
        f"migration stays {record.state.value}"
    )
    if gate == "finalize":
        note += f": finalize it with `ipsync-migrator finalize {migration_id}` when ready"
    record.notes.append(note)
    saved = ctx.complete(
        record,
        APPROVAL_TIMED_OUT_STEP,
        before={"gate": gate, "approval": "pending"},
        after={"gate": gate, "timedOutAfterSeconds": seconds},
    )
    return {"gate": gate, "timedOut": True, "state": saved.state.value, "note": note}


def pending_approval(record: MigrationRecord) -> dict[str, str]:
    if not record.approval:
        raise StepPreconditionError(
            f"Migration '{record.migration_id}' is not waiting for an approval.",
            "Check `ipsync-migrator status`; approvals are asked only when the migration was "
            "started with approval gates.",
        )
    return record.approval
