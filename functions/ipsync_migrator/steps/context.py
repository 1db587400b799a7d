"""What every step needs: AWS clients, the journal, the event bus; and the step bookkeeping."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ipsync_migrator.aws.elb import LoadBalancing
from ipsync_migrator.aws.functions import Functions
from ipsync_migrator.aws.identity import account_id
from ipsync_migrator.aws.network import Network
from ipsync_migrator.aws.schedules import Schedules
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import (
    ConcurrentMigrationError,
    InvalidInputError,
    StepPreconditionError,
)
from ipsync_migrator.events import DetailType, Publisher, migration_detail
from ipsync_migrator.journal import (
    Journal,
    MigrationRecord,
    MigrationState,
    StepEntry,
    load,
    utc_now,
)
from ipsync_migrator.models import Deployment

#: The timestamp verify_bake records when the bake passed; retire_legacy requires it.
BAKE_PASSED = "bakePassed"
#: The step that parks the task token of an approval gate (steps/approval.py).
APPROVAL_STEP = "request_approval"


@dataclass
class StepContext:
    """Dependencies of the steps; tests pass emulator-backed or in-memory ones."""

    clients: ClientFactory
    journal: Journal
    bus: Publisher
    probe_port_range: tuple[int, int] = (49152, 49407)
    #: The hub's own clients (its state machine); None: `clients` are the hub's.
    hub_clients: ClientFactory | None = None
    #: The record the invocation read to find its target (handlers/runtime.py): the first
    #: `hold` of this invocation uses it instead of reading it again. Fencing is unchanged:
    #: every write is a compare-and-set on the version read, however it was read.
    loaded: MigrationRecord | None = None
    #: The account `clients` act in, when it is known without STS (handlers/runtime.py).
    known_account: str | None = None
    _account: str | None = field(default=None, init=False)

    @property
    def hub(self) -> ClientFactory:
        return self.hub_clients or self.clients

    @cached_property
    def elb(self) -> LoadBalancing:
        return LoadBalancing(self.clients)

    @cached_property
    def functions(self) -> Functions:
        return Functions(self.clients)

    @cached_property
    def schedules(self) -> Schedules:
        return Schedules(self.clients)

    @cached_property
    def network(self) -> Network:
        return Network(self.clients)

    @property
    def account(self) -> str:
        if self._account is None:
            self._account = self.known_account or account_id(self.clients)
        return self._account

    def account_of(self, record: MigrationRecord) -> str:
        """The account of the migrated resources: the legacy group's ARN names it (no STS
        call per invocation); GetCallerIdentity only for a record without a deployment."""
        arn = str(record.deployment.get("targetGroupArn", ""))
        parts = arn.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            return parts[4]
        return self.account

    def load(self, migration_id: str) -> MigrationRecord:
        """The migration's record, whoever holds it (readers and takeovers)."""
        return self._take_loaded(migration_id) or load(self.journal, migration_id)

    def hold(
        self, migration_id: str, owner: str | None, states: Collection[MigrationState]
    ) -> MigrationRecord:
        """The record, only while `owner` holds the migration and it is in one of `states`."""
        if not owner:
            raise InvalidInputError(
                f"A step request for migration '{migration_id}' has no owner.",
                "Send `owner`: the execution that drives the migration (the state machine "
                "sends $$.Execution.Id); nothing was changed.",
            )
        record = self._take_loaded(migration_id) or load(self.journal, migration_id)
        if record.owner != owner:
            raise superseded(migration_id, owner, record.owner)
        if record.state not in states:
            raise StepPreconditionError(
                f"Migration '{migration_id}' is {record.state.value}; this step runs only "
                f"when it is {' or '.join(sorted(s.value for s in states))}. Nothing was changed.",
                "Check `ipsync-migrator status ID`; a step never runs out of order.",
            )
        return record

    def _take_loaded(self, migration_id: str) -> MigrationRecord | None:
        record, self.loaded = self.loaded, None
        return record if record is not None and record.migration_id == migration_id else None

    def begin(self, record: MigrationRecord, step: str) -> MigrationRecord:
        """Journal the intent to run `step`, in the write that re-checks the token, before AWS.

        The compare-and-set on the record's version fails if anyone (a rollback taking the
        migration over, a newer run) wrote since `record` was read under `hold`.
        """
        record.in_flight = {
            "step": step,
            "owner": record.owner,
            "epoch": record.epoch,
            "at": utc_now(),
        }
        return self.save(record)

    def save(self, record: MigrationRecord) -> MigrationRecord:
        """Compare-and-set the record (raises ConcurrentMigrationError if another run won)."""
        return self.journal.save(record)

    def complete(
        self,
        record: MigrationRecord,
        step: str,
        before: Any = None,
        after: Any = None,
        state: MigrationState | None = None,
        detail_type: str | None = DetailType.STEP_COMPLETED,
    ) -> MigrationRecord:
        """Record a finished step: save the record with its before/after entry (one atomic
        write), then emit the event."""
        record.current_step = step
        record.in_flight = None
        if state is not None:
            record.state = state
        if step != APPROVAL_STEP:
            record.approval = None  # a step after the gate ran: the approval was used
        entry = StepEntry(
            migration_id=record.migration_id,
            step=step,
            status="completed",
            before=before,
            after=after,
        )
        try:
            saved = self.journal.save(record, entry)
        except ConcurrentMigrationError:
            # Fenced after its AWS writes: a rollback took the migration over meanwhile. Its
            # undo may have run before these writes, so it is applied again on top of them.
            from ipsync_migrator.steps.rollback import reapply_undo_if_rolled_back

            reapply_undo_if_rolled_back(self, record.migration_id, step)
            raise
        if detail_type is not None:
            self.bus.publish(
                detail_type,
                migration_detail(
                    saved, step, self.account_of(saved), self.clients.region, before, after
                ),
            )
        return saved


def deployment_of(record: MigrationRecord) -> Deployment:
    return Deployment.model_validate(record.deployment)


def superseded(migration_id: str, owner: str, holder: str) -> ConcurrentMigrationError:
    """The error of a writer whose token is no longer the migration's (the ASL: Superseded)."""
    return ConcurrentMigrationError(
        f"Migration '{migration_id}' is now driven by '{holder}', not '{owner}': this run was "
        "superseded and changes nothing more.",
        "Follow the migration with `ipsync-migrator status ID`; this run stops here.",
    )
