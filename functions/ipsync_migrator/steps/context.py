"""What every step needs: AWS clients, the journal, the event bus; and the step bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ipsync_migrator.aws.elb import LoadBalancing
from ipsync_migrator.aws.functions import Functions
from ipsync_migrator.aws.identity import account_id
from ipsync_migrator.aws.network import Network
from ipsync_migrator.aws.schedules import Schedules
from ipsync_migrator.clients import ClientFactory
from ipsync_migrator.errors import ConcurrentMigrationError
from ipsync_migrator.events import DetailType, Publisher, migration_detail
from ipsync_migrator.journal import Journal, MigrationRecord, MigrationState, StepEntry, load
from ipsync_migrator.models import Deployment

#: The step that parks the task token of an approval gate (steps/approval.py).
APPROVAL_STEP = "request_approval"


@dataclass
class StepContext:
    """Dependencies of the steps; tests pass emulator-backed or in-memory ones."""

    clients: ClientFactory
    journal: Journal
    bus: Publisher
    probe_port_range: tuple[int, int] = (49152, 49407)
    _account: str | None = field(default=None, init=False)

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
            self._account = account_id(self.clients)
        return self._account

    def load(self, migration_id: str, owner: str | None = None) -> MigrationRecord:
        """The migration's record; with `owner`, only if that run still holds it."""
        record = load(self.journal, migration_id)
        if owner and record.owner and record.owner != owner:
            raise ConcurrentMigrationError(
                f"Migration '{migration_id}' is now driven by '{record.owner}', not '{owner}'.",
                "Follow that run with `ipsync-migrator status`; this one stops here.",
            )
        return record

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
        """Record a finished step: save the record, journal before/after, emit the event."""
        record.current_step = step
        if state is not None:
            record.state = state
        if step != APPROVAL_STEP:
            record.approval = None  # a step after the gate ran: the approval was used
        saved = self.save(record)
        self.journal.append(
            StepEntry(
                migration_id=record.migration_id,
                step=step,
                status="completed",
                before=before,
                after=after,
            )
        )
        if detail_type is not None:
            self.bus.publish(
                detail_type,
                migration_detail(saved, step, self.account, self.clients.region, before, after),
            )
        return saved


def deployment_of(record: MigrationRecord) -> Deployment:
    return Deployment.model_validate(record.deployment)
